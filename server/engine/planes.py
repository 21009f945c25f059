"""On-bit planes of every cell, time-major, per threshold: what ``|S2|`` is counted from.

Ranking a match needs ``|S2|`` (the cells on over ``a .. b`` and off on the padding) of
every candidate in the ``|I|`` tier where ``limit`` cuts; a large tie (hundreds of
thousands of short candidates) covers most steps. Counting that on the float32 rows
(one byte per cell per row per candidate) cost about a second at 1M x 650; here each
step's on-set is packed once into ``W = ceil(D / 64)`` uint64 words, and a candidate is an
AND / AND-NOT chain over its rows plus a popcount (64 cells per operation).

A plane ``uint64[T, W]`` is filled lazily, only at the steps some query needed (the
untouched pages of ``np.zeros`` are never resident), and kept per threshold (the float32
threshold the on-rule compares against: two thresholds with the same one share a
plane) up to ``BUDGET`` bytes per process (all engines together), least recently used
first out. The bits come from :func:`is_on_raw`, the same on-rule as every other path,
so answers are unchanged.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np

from .onrule import is_on_raw, threshold32
from .scan import read_scattered
from .source import StateSource

BUDGET = 1 << 30  # bytes of cached planes per process (about 2 thresholds at 5M x 650)
_EVAL_CELLS = 1 << 22  # values per read while filling
_SPLIT = 4096  # candidates per thread at least when counting |S2| on several threads


class Plane:
    """``words: uint64[T, W]`` (bit ``c % 64`` of word ``c // 64`` = cell ``c`` on) and
    ``done: bool[T]`` (the steps filled so far)."""

    def __init__(self, T: int, D: int) -> None:
        self.words = np.zeros((T, (D + 63) // 64), np.uint64)
        self.done = np.zeros(T, bool)
        self.fills = 0  # how many fills wrote bits: the version of ``done``
        self._counted: tuple[int, np.ndarray] | None = None

    def filled_before(self) -> np.ndarray:
        """``int64[T+1]``: how many steps before each step are filled (cached per version of
        ``done``; a count taken while another thread fills is only ever too low, so a range
        it calls complete is complete)."""
        counted = self._counted
        if counted is None or counted[0] != self.fills:
            version = self.fills
            counted = (version, np.concatenate([[0], np.cumsum(self.done, dtype=np.int64)]))
            self._counted = counted
        return counted[1]


class Budget:
    """Planes kept within ``limit`` bytes (their full size, though untouched pages cost
    nothing) over every :class:`PlaneCache` sharing it, least recently used out first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        self.kept: OrderedDict[tuple[int, float], tuple[weakref.ref, int]] = OrderedDict()

    def plane(self, cache: PlaneCache, key: float) -> Plane:
        """``cache``'s plane of threshold ``key``: kept, or new (and kept if it fits)."""
        T, D = cache.source.shape
        nbytes = T * ((D + 63) // 64) * 8
        with self.lock:
            slot = (id(cache), key)
            if slot in self.kept and key in cache.planes:
                self.kept.move_to_end(slot)
                return cache.planes[key]
            plane = Plane(T, D)
            if nbytes > self.limit:
                return plane
            used = sum(size for ref, size in self.kept.values() if ref() is not None)
            while self.kept and used + nbytes > self.limit:
                (owner_id, old), (ref, size) = self.kept.popitem(last=False)
                owner = ref()
                if owner is not None:
                    owner.planes.pop(old, None)
                    used -= size
            self.kept[slot] = (weakref.ref(cache), nbytes)
            cache.planes[key] = plane
            return plane


SHARED = Budget(BUDGET)  # the engines of a process share one budget


class PlaneCache:
    """The planes of one source, per threshold, within ``budget`` (thread-safe: two
    queries filling the same steps write the same bits)."""

    def __init__(self, source: StateSource, budget: Budget = SHARED, threads: int = 1) -> None:
        self.source = source
        self.threads = threads
        self.budget = budget
        self.planes: dict[float, Plane] = {}
        # a dead cache's entries go with it (id() may be reused by a later cache)
        weakref.finalize(self, _forget, budget, id(self))

    def plane(self, threshold: float) -> Plane:
        """The plane of ``threshold`` (cached, or a fresh one kept while it fits)."""
        return self.budget.plane(self, float(threshold32(threshold)))

    def count_s2(self, threshold: float, a: np.ndarray, b: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray) -> np.ndarray:
        """``int64[n]``: ``|S2|`` of each range ``a .. b`` with padding ``lo .. a-1`` and
        ``b+1 .. hi`` (all ``int64[n]``, ``lo <= a <= b <= hi``, one sequence each)."""
        plane = self.plane(threshold)
        # contiguous int64: the one specialisation the warm-up compiles
        a, b, lo, hi = (np.ascontiguousarray(x, dtype=np.int64) for x in (a, b, lo, hi))
        if a.size:
            fill(self.source, threshold, plane, lo, hi, self.threads)
        parts = max(1, min(self.threads, a.size // _SPLIT))
        if parts == 1:
            return count_bits(plane.words, a, b, lo, hi)
        cuts = np.linspace(0, a.size, parts + 1).astype(np.int64)
        with ThreadPoolExecutor(parts) as pool:  # count_bits releases the GIL
            return np.concatenate(list(pool.map(
                lambda i: count_bits(plane.words, *(x[cuts[i] : cuts[i + 1]]
                                                   for x in (a, b, lo, hi))), range(parts))))


def _forget(budget: Budget, owner: int) -> None:
    with budget.lock:
        for slot in [slot for slot in budget.kept if slot[0] == owner]:
            del budget.kept[slot]


def fill(source: StateSource, threshold: float, plane: Plane, lo: np.ndarray,
         hi: np.ndarray, threads: int = 1) -> None:
    """Fill ``plane`` at every step of the ranges ``lo[i] .. hi[i]`` not filled yet.

    The missing steps are read in batches of at most ``_EVAL_CELLS`` values: one
    contiguous ``read_rows`` where they are dense (every row read is kept), else
    ``read_steps`` of just those steps."""
    order = np.argsort(lo, kind="stable")
    starts, ends = merged_ranges(lo[order], hi[order])
    covered = int((ends - starts + 1).sum())
    steps = None
    if 8 * covered > plane.done.size:  # many ranges: are they all filled already?
        before = plane.filled_before()
        if (before[ends + 1] - before[starts]).sum() == covered:
            return
        # few once a threshold has been seen (scanning done[] costs ~1 ms per 1M steps)
        undone = np.flatnonzero(~plane.done)
        if undone.size < covered:  # look up the few missing steps
            i = np.maximum(np.searchsorted(starts, undone, side="right") - 1, 0)
            steps = undone[(undone >= starts[i]) & (undone <= ends[i])]
    if steps is None:
        steps = merged_steps(lo[order], hi[order])
        steps = steps[~plane.done[steps]]
    if steps.size == 0:
        return
    T, D = source.shape
    budget = max(1, _EVAL_CELLS // D)
    W = plane.words.shape[1]

    def batch(i: int) -> None:
        part = steps[i : i + budget]
        first, last = int(part[0]), int(part[-1])
        if 2 * part.size >= last - first + 1:  # dense: one contiguous read
            rows = slice(first, last + 1)
            raw = source.read_rows(first, last + 1)
        else:
            rows, raw = part, read_scattered(source, part)
        on = is_on_raw(raw, threshold, source.transform)
        packed = np.zeros((raw.shape[0], 8 * W), np.uint8)
        packed[:, : (D + 7) // 8] = np.packbits(on, axis=1, bitorder="little")
        plane.words[rows] = packed.view("<u8")
        plane.done[rows] = True  # after the bits: a concurrent reader sees done bits only
        plane.fills += 1

    starts = range(0, steps.size, budget)
    if len(starts) <= 1 or threads <= 1:
        for i in starts:
            batch(i)
        return
    # reading and comparing release the GIL; batches touch disjoint rows but for the
    # overlap of two dense reads, where both write the same bits
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(batch, starts))


def merged_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)``: the ranges ``lo[i] .. hi[i]`` (``lo`` sorted) merged where they
    overlap, in order (``int64[k]`` each, inclusive)."""
    if lo.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    top = np.maximum.accumulate(hi)
    new = np.ones(lo.size, dtype=bool)
    new[1:] = lo[1:] > top[:-1]
    return lo[new], top[np.append(np.flatnonzero(new)[1:], lo.size) - 1]


def merged_steps(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sorted unique steps of the ranges ``lo[i] .. hi[i]`` (``lo`` sorted)."""
    if lo.size == 0:
        return np.zeros(0, np.int64)
    starts, ends = merged_ranges(lo, hi)
    lengths = ends - starts + 1
    base = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return base + np.arange(lengths.sum())


@nb.njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    """Set bits of a uint64 (SWAR; numba has no popcount intrinsic)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@nb.njit(cache=True, nogil=True)
def count_bits(words, a, b, lo, hi):
    """``int64[n]``: cells whose bit is set at every row ``a[i] .. b[i]`` of ``words:
    uint64[T, W]`` and clear at rows ``lo[i] .. a[i]-1`` and ``b[i]+1 .. hi[i]``.

    Bits past the last cell are clear in every row, so the AND over ``a .. b`` (never
    empty) clears them."""
    n, W = a.size, words.shape[1]
    out = np.zeros(n, np.int64)
    acc = np.empty(W, np.uint64)
    full = ~np.uint64(0)
    for i in range(n):
        for w in range(W):
            acc[w] = full
        for r in range(a[i], b[i] + 1):
            for w in range(W):
                acc[w] &= words[r, w]
        for r in range(lo[i], a[i]):
            for w in range(W):
                acc[w] &= ~words[r, w]
        for r in range(b[i] + 1, hi[i] + 1):
            for w in range(W):
                acc[w] &= ~words[r, w]
        total = 0
        for w in range(W):
            total += _popcount(acc[w])
        out[i] = total
    return out
