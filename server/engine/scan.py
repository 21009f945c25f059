"""Exact answers by reading the source in chunks of time (no index needed).

Every function here reads through ``source.read_rows`` at most ``chunk`` steps at a
time, so memory stays ``O(chunk x D)`` whatever ``T`` is. The index (index.py) is an
accelerator for the on-bits of a few cells over all steps; everything else, and every
answer without a fresh index, comes from here.
"""
from __future__ import annotations

from collections.abc import Iterator

import numba as nb
import numpy as np

from .onrule import is_on, pack_on, threshold32
from .source import StateSource, apply_transform

CHUNK = 1 << 16  # steps per read
_EVAL_CELLS = 1 << 22  # values per read when counting S2
_GAP = 256  # steps between two candidates' rows read in one go rather than two


def chunks(start: int, stop: int, chunk: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` pieces of ``start .. stop-1``, each at most ``chunk`` long."""
    for lo in range(start, stop, chunk):
        yield lo, min(stop, lo + chunk)


def read_values(source: StateSource, lo: int, hi: int,
                cells: np.ndarray | None = None) -> np.ndarray:
    """Transformed ``float32[hi-lo, k]`` of steps ``lo .. hi-1`` (all cells or ``cells``)."""
    raw = source.read_rows(lo, hi)
    if cells is not None:
        raw = np.asarray(raw)[:, cells]
    return apply_transform(raw, source.transform)


def mask_blocks(source: StateSource, cells: np.ndarray, threshold: float, chunk: int = CHUNK,
                start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(lo, uint64[W, n])`` on-bit words of ``cells`` for blocks of ``start .. stop-1``."""
    stop = source.shape[0] if stop is None else stop
    for lo, hi in chunks(start, stop, chunk):
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
    """``bool[D]``: cells on at every step of ``a .. b``, off at ``lo .. a-1`` and ``b+1 .. hi``."""
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
    """``int64[n]``: ``|S2|`` of each range ``a .. b`` with padding ``lo .. a-1`` and ``b+1 .. hi``.

    Ranges are sorted and grouped into contiguous reads (a group ends at a gap of more
    than ``_GAP`` steps or at ``_EVAL_CELLS`` values); each range is then checked row by
    row (numba). Ranges longer than ``chunk`` are streamed one by one. Correct for any
    number of candidates; a cut tier of millions costs about one full scan.
    """
    n = a.size
    out = np.zeros(n, dtype=np.int64)
    short = hi - lo + 1 <= chunk
    for i in np.flatnonzero(~short):
        mask = s2_mask(source, threshold, int(lo[i]), int(a[i]), int(b[i]), int(hi[i]), chunk)
        out[i] = int(mask.sum())
    order = np.flatnonzero(short)
    order = order[np.argsort(lo[order], kind="stable")]
    budget = max(chunk, _EVAL_CELLS // source.shape[1])
    t32 = threshold32(threshold)
    for group in _read_groups(lo[order], hi[order], budget):
        idx = order[group]
        first, last = int(lo[idx].min()), int(hi[idx].max())
        on = apply_transform(source.read_rows(first, last + 1), source.transform) >= t32
        out[idx] = _count_rows(on.view(np.uint8), lo[idx] - first, a[idx] - lo[idx],
                               b[idx] - lo[idx], hi[idx] - lo[idx])
    return out


def _read_groups(lo: np.ndarray, hi: np.ndarray, budget: int) -> list[slice]:
    """Split ranges sorted by ``lo`` into runs read together: each spans at most ``budget``
    steps and has no gap over ``_GAP`` steps between consecutive ranges."""
    groups, start, first, top = [], 0, 0, -1
    for i in range(lo.size):  # one Python step per range: only the cut tiers get here
        if i > start and (lo[i] > top + _GAP or max(top, hi[i]) - first >= budget):
            groups.append(slice(start, i))
            start = i
        if i == start:
            first, top = int(lo[i]), int(hi[i])
        top = max(top, int(hi[i]))
    if lo.size:
        groups.append(slice(start, lo.size))
    return groups


@nb.njit(cache=True, nogil=True)
def _count_rows(on, first, a, b, hi):
    """For each range: cells on at rows ``first+a .. first+b``, off at the others to ``first+hi``.

    ``on: uint8[rows, D]``; offsets are relative to the range's first padded row.
    """
    n, D = a.size, on.shape[1]
    out = np.zeros(n, np.int64)
    acc = np.empty(D, np.uint8)
    for i in range(n):
        p = first[i]
        acc[:] = 1
        for r in range(p, p + a[i]):
            for c in range(D):
                acc[c] &= 1 - on[r, c]
        for r in range(p + a[i], p + b[i] + 1):
            for c in range(D):
                acc[c] &= on[r, c]
        for r in range(p + b[i] + 1, p + hi[i] + 1):
            for c in range(D):
                acc[c] &= 1 - on[r, c]
        total = 0
        for c in range(D):
            total += acc[c]
        out[i] = total
    return out
