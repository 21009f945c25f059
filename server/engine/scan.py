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

from .onrule import is_on_raw, pack_on
from .source import StateSource, apply_transform

CHUNK = 1 << 16  # steps per read
_EVAL_CELLS = 1 << 22  # values per read when counting S2


def chunks(start: int, stop: int, chunk: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` pieces of ``start .. stop-1``, each at most ``chunk`` long."""
    for lo in range(start, stop, chunk):
        yield lo, min(stop, lo + chunk)


def read_raw(source: StateSource, lo: int, hi: int,
             cells: np.ndarray | None = None) -> np.ndarray:
    """Raw ``float32[hi-lo, k]`` of steps ``lo .. hi-1`` (all cells or ``cells``)."""
    raw = source.read_rows(lo, hi)
    return raw if cells is None else np.asarray(raw)[:, cells]


def read_values(source: StateSource, lo: int, hi: int,
                cells: np.ndarray | None = None) -> np.ndarray:
    """Transformed ``float32[hi-lo, k]`` of steps ``lo .. hi-1`` (all cells or ``cells``)."""
    return apply_transform(read_raw(source, lo, hi, cells), source.transform)


def mask_blocks(source: StateSource, cells: np.ndarray, threshold: float, chunk: int = CHUNK,
                start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(lo, uint64[W, n])`` on-bit words of ``cells`` for blocks of ``start .. stop-1``."""
    stop = source.shape[0] if stop is None else stop
    for lo, hi in chunks(start, stop, chunk):
        yield lo, pack_on(is_on_raw(read_raw(source, lo, hi, cells), threshold, source.transform))


def on_count(source: StateSource, cells: np.ndarray, threshold: float, start: int, end: int,
             chunk: int = CHUNK) -> np.ndarray:
    """``int32[end-start+1]``: how many of ``cells`` are on at each step."""
    out = np.empty(end - start + 1, dtype=np.int32)
    for lo, hi in chunks(start, end + 1, chunk):
        on = is_on_raw(read_raw(source, lo, hi, cells), threshold, source.transform)
        out[lo - start : hi - start] = on.sum(1)
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
        on = is_on_raw(read_raw(source, p, q), threshold, source.transform)
        i0, i1 = max(a, p) - p, min(b + 1, q) - p
        if i1 > i0:
            core &= on[i0:i1].all(0)
        pad |= on[: max(0, min(a, q) - p)].any(0) | on[max(0, b + 1 - p) :].any(0)
    return core & ~pad


def count_s2(source: StateSource, threshold: float, a: np.ndarray, b: np.ndarray,
             lo: np.ndarray, hi: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """``int64[n]``: ``|S2|`` of each range ``a .. b`` with padding ``lo .. a-1`` and ``b+1 .. hi``.

    The ranges' steps are merged and read in batches of at most ``_EVAL_CELLS`` values:
    one contiguous ``read_rows`` where they are dense, ``read_steps`` of just those steps
    where they are sparse; each range is then checked row by row (numba). Ranges longer
    than ``chunk`` are streamed one by one. Correct for any number of candidates; a cut
    tier of millions reads about every row once.
    """
    n = a.size
    out = np.zeros(n, dtype=np.int64)
    short = hi - lo + 1 <= chunk
    for i in np.flatnonzero(~short):
        mask = s2_mask(source, threshold, int(lo[i]), int(a[i]), int(b[i]), int(hi[i]), chunk)
        out[i] = int(mask.sum())
    order = np.flatnonzero(short)
    order = order[np.argsort(lo[order], kind="stable")]
    if order.size == 0:
        return out
    budget = max(1, _EVAL_CELLS // source.shape[1])  # a longer single range still fits
    for part in _batches(lo[order], hi[order], budget):
        idx = order[part]
        steps = _merged_steps(lo[idx], hi[idx])
        first, last = int(steps[0]), int(steps[-1])
        if 2 * steps.size >= last - first + 1:  # dense: one contiguous read
            rows, where = source.read_rows(first, last + 1), lo[idx] - first
        else:
            rows, where = source.read_steps(steps), np.searchsorted(steps, lo[idx])
        on = is_on_raw(rows, threshold, source.transform)
        out[idx] = _count_rows(on.view(np.uint8), where, a[idx] - lo[idx], b[idx] - lo[idx],
                               hi[idx] - lo[idx])
    return out


def _batches(lo: np.ndarray, hi: np.ndarray, budget: int) -> list[slice]:
    """Consecutive groups of ranges whose spans add up to at most about ``budget`` steps
    (overlapping ranges count twice, so a group never reads more than that)."""
    span = hi - lo + 1
    batch = (np.cumsum(span) - span) // budget
    edges = np.append(np.flatnonzero(np.diff(batch, prepend=-1)), lo.size)
    return [slice(int(x), int(y)) for x, y in zip(edges[:-1], edges[1:], strict=True)]


def _merged_steps(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sorted unique steps of the ranges ``lo[i] .. hi[i]`` (``lo`` sorted)."""
    top = np.maximum.accumulate(hi)
    new = np.ones(lo.size, dtype=bool)
    new[1:] = lo[1:] > top[:-1]
    starts = lo[new]
    ends = top[np.append(np.flatnonzero(new)[1:], lo.size) - 1]
    lengths = ends - starts + 1
    base = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return base + np.arange(lengths.sum())


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
