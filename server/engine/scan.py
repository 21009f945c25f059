"""Exact answers by reading the source in chunks of time (no index needed).

Every function here reads through ``source.read_rows`` at most ``chunk`` steps at a
time, so memory stays ``O(chunk x D)`` whatever ``T`` is. The index (index.py) is an
accelerator for the on-bits of a few cells over all steps; everything else, and every
answer without a fresh index, comes from here.
"""
from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .onrule import is_on_raw, pack_on
from .source import StateSource, apply_transform

CHUNK = 1 << 16  # steps per read


def chunks(start: int, stop: int, chunk: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` pieces of ``start .. stop-1``, each at most ``chunk`` long."""
    for lo in range(start, stop, chunk):
        yield lo, min(stop, lo + chunk)


# concurrent preads of every engine; a task never waits on another task of this pool
IO = ThreadPoolExecutor(8, thread_name_prefix="hiddenscope-read")
_RUNS_PER_READ = 128  # runs of consecutive steps per read_steps call


def read_scattered(source: StateSource, steps: np.ndarray) -> np.ndarray:
    """``source.read_steps(steps)`` (sorted unique steps) as several calls of at most
    ``_RUNS_PER_READ`` runs each, issued concurrently: a store reads a few runs with one
    ``pread`` each, and a disk answers concurrent reads far faster than one after another
    (the rows of a cold query's candidates lie scattered over the whole file)."""
    breaks = np.flatnonzero(np.diff(steps) != 1) + 1
    if breaks.size < _RUNS_PER_READ:
        return np.asarray(source.read_steps(steps))
    cuts = np.r_[0, breaks[_RUNS_PER_READ - 1 :: _RUNS_PER_READ], steps.size]
    parts = list(IO.map(lambda i: np.asarray(source.read_steps(steps[cuts[i] : cuts[i + 1]])),
                         range(cuts.size - 1)))
    return np.concatenate(parts)


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
