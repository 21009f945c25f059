"""The on-rule, in one place: ``on(t, c) := float64(v) >= float64(threshold)``.

``v`` is the float32 value after :func:`apply_transform`; NaN is never on. Numpy 2 casts
a Python float to float32 when it meets a float32 array (NEP 50), which could round the
threshold down and turn a value just below it on; :func:`threshold32` avoids that.
"""
from __future__ import annotations

import numpy as np


def threshold32(threshold: float) -> np.float32:
    """The smallest float32 ``f`` with ``float64(f) >= threshold``.

    For a float32 value ``v``: ``float64(v) >= threshold  <=>  v >= f``, so float32
    arrays are compared exactly without a float64 copy.
    """
    with np.errstate(over="ignore"):
        f = np.float32(threshold)
    if np.float64(f) < threshold:
        f = np.nextafter(f, np.float32(np.inf))
    return np.float32(f)


def is_on(values: np.ndarray, threshold: float) -> np.ndarray:
    """``bool`` array: ``float64(v) >= threshold`` for transformed float32 ``values``; NaN off."""
    return np.asarray(values, dtype=np.float32) >= threshold32(threshold)


def pack_on(on: np.ndarray) -> np.ndarray:
    """``bool[n, m]`` (steps x cells) as ``uint64[ceil(m/64), n]`` bit words (bit j = cell j)."""
    n, m = on.shape
    W = (m + 63) // 64
    packed = np.zeros((n, 8 * W), dtype=np.uint8)
    packed[:, : (m + 7) // 8] = np.packbits(on, axis=1, bitorder="little")
    return np.ascontiguousarray(packed.view("<u8").T)
