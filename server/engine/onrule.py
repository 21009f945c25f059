"""The on-rule, in one place: ``on(t, c) := float64(v) >= float64(threshold)``.

``v`` is the float32 value after :func:`apply_transform`; NaN is never on. Numpy 2 casts
a Python float to float32 when it meets a float32 array (NEP 50), which could round the
threshold down and turn a value just below it on; :func:`threshold32` avoids that.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from .source import apply_transform

# Half-width of the band around the threshold, in transformed values, inside which raw
# values are transformed and compared exactly. numpy's float32 tanh is within a few ulps
# (< 1e-6 for |y| <= 1) of the true value; 2**-20 leaves room for several times that.
_BAND = 2.0**-20


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


def _round32(x: float, up: bool) -> np.float32:
    """The float32 nearest ``x`` on the side ``up`` (rounded up) or down."""
    with np.errstate(over="ignore"):
        f = np.float32(x)
    if up and np.float64(f) < x:
        f = np.nextafter(f, np.float32(np.inf))
    elif not up and np.float64(f) > x:
        f = np.nextafter(f, np.float32(-np.inf))
    return np.float32(f)


def raw_band(threshold: float, transform: str) -> tuple[np.float32, np.float32]:
    """``(lo, hi)`` over raw (untransformed) float32 values ``r``: ``r < lo`` is off,
    ``r >= hi`` is on, ``lo <= r < hi`` is decided by transforming it; NaN is off.

    So a scan compares raw values and transforms only the few near the threshold (tanh costs
    20x a comparison), with answers identical to transforming everything: for ``tanh``,
    ``lo``/``hi`` are ``arctanh(t -/+ 2**-20)`` rounded outwards, far wider than the float32
    tanh's error. For ``none`` the band is empty (NaN compares false both ways: off).
    """
    t = float(threshold32(threshold))
    if transform == "none":
        return np.float32(t), np.float32(t)
    if transform != "tanh":
        raise ValueError(f"unknown transform {transform!r}")
    if t > 1:  # nothing is on (tanh <= 1), and no raw value is certainly on
        return np.float32(np.inf), np.float32(np.nan)
    if t <= -1:  # every non-NaN value is on
        return np.float32(-np.inf), np.float32(-np.inf)
    lo = -np.inf if t - _BAND <= -1 else float(np.arctanh(t - _BAND))
    hi = np.nan if t + _BAND >= 1 else float(np.arctanh(t + _BAND))
    return _round32(lo, up=False), (np.float32(np.nan) if np.isnan(hi) else _round32(hi, True))


def is_on_raw(raw: np.ndarray, threshold: float, transform: str) -> np.ndarray:
    """``bool`` array: ``on`` of raw float32 values after ``transform`` (:func:`raw_band`);
    equal to ``is_on(apply_transform(raw, transform), threshold)``."""
    raw = np.ascontiguousarray(raw, dtype=np.float32)
    lo, hi = raw_band(threshold, transform)
    out = np.empty(raw.shape, np.bool_)
    if transform == "none":
        return np.greater_equal(raw, hi, out=out)
    flat, band = raw.reshape(-1), np.empty(min(raw.size, 1 << 16), np.int64)
    n = _compare_raw(flat, lo, hi, out.reshape(-1), band)
    if n > band.size:  # more than the buffer: collect them all
        band = np.empty(n, np.int64)
        _compare_raw(flat, lo, hi, out.reshape(-1), band)
    if n:
        idx = band[:n]
        out.reshape(-1)[idx] = apply_transform(flat[idx], transform) >= threshold32(threshold)
    return out


@nb.njit(cache=True, nogil=True)
def _compare_raw(raw, lo, hi, out, band):
    """``out[i] = raw[i] >= hi``; the positions with ``lo <= raw[i] < hi`` go to ``band``
    (as many as fit). Returns how many there are. NaN compares false both ways: off, as
    its transform (NaN) is, so it needs no exact look.

    Pieces of 1024 values: a branch-free pass over 1-d slices (vectorised: about 6x faster
    than indexing the whole arrays with a bool ``not``, measured), and a second look only
    at the rare pieces that hold a value of the band."""
    n = 0
    for p in range(0, raw.size, 1024):
        q = min(raw.size, p + 1024)
        piece, dest = raw[p:q], out[p:q]
        hits = 0
        for i in range(piece.size):
            v = piece[i]
            on = v >= hi
            dest[i] = on
            hits += (v >= lo) != on
        if hits:
            for i in range(piece.size):
                v = piece[i]
                if (v >= lo) != (v >= hi):
                    if n < band.size:
                        band[n] = p + i
                    n += 1
    return n
