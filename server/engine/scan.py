"""Exact answers by reading the source in chunks of time (no index needed).

Every function here reads through ``source.read_rows`` at most ``chunk`` steps at a
time, so memory stays ``O(chunk x D)`` whatever ``T`` is. The index (index.py) is an
accelerator for the on-bits of a few cells over all steps; everything else, and every answer without a
fresh index, comes from here.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .onrule import is_on, pack_on, threshold32
from .source import StateSource, apply_transform

CHUNK = 1 << 16  # steps per read
_EVAL_CELLS = 1 << 22  # candidates x D booleans per batch when counting S2


def chunks(start: int, stop: int, chunk: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` pieces of ``start .. stop-1``, each at most ``chunk`` long."""
    for lo in range(start, stop, chunk):
        yield lo, min(stop, lo + chunk)


def read_values(source: StateSource, lo: int, hi: int, cells: np.ndarray | None = None) -> np.ndarray:
    """Transformed ``float32[hi-lo, k]`` of steps ``lo .. hi-1`` (all cells or ``cells``)."""
    raw = source.read_rows(lo, hi)
    if cells is not None:
        raw = np.asarray(raw)[:, cells]
    return apply_transform(raw, source.transform)


def mask_blocks(source: StateSource, cells: np.ndarray, threshold: float,
                chunk: int = CHUNK) -> Iterator[tuple[int, np.ndarray]]:
    """``(lo, uint64[n, W])`` on-bit words of ``cells`` for consecutive blocks of steps."""
    T = source.shape[0]
    for lo, hi in chunks(0, T, chunk):
        yield lo, pack_on(is_on(read_values(source, lo, hi, cells), threshold))


def on_count(source: StateSource, cells: np.ndarray, threshold: float, start: int, end: int,
             chunk: int = CHUNK) -> np.ndarray:
    """``int32[end-start+1]``: how many of ``cells`` are on at each step."""
    out = np.empty(end - start + 1, dtype=np.int32)
    for lo, hi in chunks(start, end + 1, chunk):
        out[lo - start : hi - start] = is_on(read_values(source, lo, hi, cells), threshold).sum(1)
    return out


def values(source: StateSource, start: int, end: int, cells: np.ndarray | None,
           chunk: int = CHUNK) -> np.ndarray:
    """Transformed ``float32[k, end-start+1]`` (cells x steps)."""
    k = source.shape[1] if cells is None else cells.size
    out = np.empty((k, end - start + 1), dtype=np.float32)
    for lo, hi in chunks(start, end + 1, chunk):
        out[:, lo - start : hi - start] = read_values(source, lo, hi, cells).T
    return out


def s2_mask(source: StateSource, threshold: float, lo: int, a: int, b: int, hi: int,
            chunk: int = CHUNK) -> np.ndarray:
    """``bool[D]``: cells on at every step of ``a .. b`` and off at ``lo .. a-1`` and ``b+1 .. hi``."""
    D = source.shape[1]
    core = np.ones(D, dtype=bool)
    pad = np.zeros(D, dtype=bool)
    for p, q in chunks(lo, hi + 1, chunk):
        on = is_on(read_values(source, p, q), threshold)
        i0, i1 = max(a, p) - p, min(b + 1, q) - p
        if i1 > i0:
            core &= on[i0:i1].all(0)
        pad |= on[: max(0, min(a, q) - p)].any(0) | on[max(0, b + 1 - p) :].any(0)
    return core & ~pad


def count_s2(source: StateSource, threshold: float, a: np.ndarray, b: np.ndarray,
             lo: np.ndarray, hi: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """``int64[n]``: ``|S2|`` of each range ``a .. b`` with padding steps ``lo .. a-1`` and ``b+1 .. hi``.

    Ranges whose padded span fits in ``chunk`` steps are batched into shared reads and
    counted with cumulative sums (vectorised over candidates x cells); longer ones are
    streamed one by one. Correct for any number of candidates; a very large cut tier
    costs about one full scan.
    """
    n = a.size
    out = np.zeros(n, dtype=np.int64)
    D = source.shape[1]
    short = np.flatnonzero(hi - lo + 1 <= chunk)
    for i in np.setdiff1d(np.arange(n), short):
        out[i] = int(s2_mask(source, threshold, int(lo[i]), int(a[i]), int(b[i]), int(hi[i]), chunk).sum())
    order = short[np.argsort(lo[short], kind="stable")]
    per_batch = max(1, _EVAL_CELLS // D)
    i = 0
    while i < order.size:
        first = int(lo[order[i]])
        j, top = i, first
        while j < order.size and j - i < per_batch and max(top, hi[order[j]]) - first < chunk:
            top = max(top, int(hi[order[j]]))
            j += 1
        batch = order[i:j]
        out[batch] = _count_batch(source, threshold, first, top, a[batch], b[batch], lo[batch], hi[batch])
        i = j
    return out


def _count_batch(source, threshold, first, top, a, b, lo, hi) -> np.ndarray:
    on = read_values(source, first, top + 1) >= threshold32(threshold)
    cs = np.zeros((on.shape[0] + 1, on.shape[1]), dtype=np.int32)
    np.cumsum(on, axis=0, out=cs[1:])
    a, b, lo, hi = a - first, b - first, lo - first, hi - first
    core = (cs[b + 1] - cs[a]) == (b - a + 1)[:, None]
    left = (cs[a] - cs[lo]) == 0
    right = (cs[hi + 1] - cs[b + 1]) == 0
    return (core & left & right).sum(1).astype(np.int64)
