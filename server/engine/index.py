"""The match index: every cell's values as monotone uint16 codes, split in two bytes.

Files (written and read through the store's ``IndexStorage``, never opened here):

* ``codes``: the high bytes, ``uint8[D, T]`` cell-major (cell ``c``'s steps at byte
  ``c * T``), and ``checks``: ``uint64[D, ceil(T / BLOCK)]``, a checksum of every block of
  ``BLOCK`` high bytes of every cell.
* ``lows``: the low bytes, per cell grouped by their high byte ``g`` (a stable counting
  sort: within a group in step order). Each non-empty group is a head (``ranks[s]``: how
  many of the group's steps lie before span ``s`` of ``span`` steps; the checksum of each
  span's part), the bytes, and a section for the cell's *round thresholds* whose code has
  this high byte (see below). ``groups``: ``uint64[D, 257]``, where each (cell, high byte)
  group starts in ``lows`` (the manifest holds its CRC-32).

The manifest's ``layout`` holds the version, ``block``, ``span``, ``groups_crc`` and per-cell
``lo``/``hi``/``scale``/``has_inf``/``sum``. A query on threshold code ``k`` reads only the
``|S|`` cells' high bytes (1 byte per step instead of a full ``D``-wide row of float32) and,
per cell, the one group of low bytes whose high byte is ``k >> 8`` (one pread, about
``T / 256`` bytes): a step's high byte alone decides it unless it equals ``k >> 8``, and
those steps' low bytes are exactly that group's, in order. So a cold query reads half the
bytes of 16-bit codes while keeping their precision (and their few exact checks). Every
block and part read is checked against its checksum: a mismatch raises
:class:`IndexCorrupt`, the engine marks the index stale and scans.

Exactness: ``code(v) = 1 + clip(floor((v - lo) * scale), 0, 65534)`` computed in float32
(NaN gets code 0) is monotone non-decreasing in ``v``. With ``t32`` the smallest float32
``>= threshold`` (so ``on <=> v >= t32``) and ``k = code(t32)``: ``code(v) > k`` implies
on, ``code(v) < k`` implies off, and only steps with ``code(v) == k`` are ambiguous; they are
decided by reading their exact values through ``source.read_steps`` (one random read of
a row each: about ``T / 65535`` per cell). NaN (code 0) is always off because ``k >= 1``.
A threshold below every value of a cell without -inf (or above every value without +inf)
needs no exact check at all. Nor does a round threshold (a multiple of a power of ten near
a thousandth of the cell's range: 0.001 for tanh states, the step of the client's threshold
handle there; :func:`_round_thresholds`):
for each, the build stores one on-bit per ambiguous step in the section of its code's
group, which the query reads with the group's low bytes.

The index is derived data: a stale or missing index is never used (the engine falls back
to the chunked scan, which gives identical results).

Warm queries: the checked on-bits of each (cell, threshold) a query read are kept as a bit
row per cell (:class:`RowCache`, ``ROW_BUDGET`` bytes per process); a later query whose
cells all have a span's blocks builds that span's words from the rows by 64 x 64 bit
transposes instead of reading and checking bytes (at 1M steps x 20 cells: about 8 ms
instead of about 40).
"""
from __future__ import annotations

import math
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import NamedTuple

import numba as nb
import numpy as np

from . import sweep
from .errors import IndexCorrupt
from .onrule import threshold32
from .results import CellStats
from .scan import CHUNK, IO, chunks, read_scattered, read_values
from .source import IndexStorage, StateSource, apply_transform
from .stats import stats_from_codes

VERSION = 5  # 4: high bytes by step, low bytes grouped by high byte; 5: round thresholds
BLOCK = 1 << 14  # steps per checksum block
READ_BLOCKS = 16  # checksum blocks per span (per read of a cell's high bytes; set at build)
TOP = 65534  # codes run 1 .. TOP + 1; 0 is NaN
_BUILD_CELLS = 1 << 23  # values per build chunk (steps x D)
_CHECK_CELLS = 1 << 22  # values per read_steps batch when checking ambiguous steps
ROW_BUDGET = 1 << 28  # bytes of cached per-cell on-bit rows per process (all indexes together)
@nb.njit(cache=True, nogil=True)
def encode_chunk(values, lo, scale, out, sums):
    """:func:`encode` of ``values: float32[n, D]`` written to ``out: uint16[D, n]``, and each
    cell's sum of non-NaN values added to ``sums: float64[D]`` (one pass; inf + -inf gives
    NaN, as ``np.nansum``).

    Tiles of 64 steps: each row is encoded time-major (a contiguous, branch-free loop over
    the cells, which vectorises) into the tile, then the tile is written out cell-major;
    about 3x faster than encoding cell by cell from strided reads (measured)."""
    n, D = values.shape
    tile = np.empty((64, D), np.uint16)
    top, zero = np.float32(TOP), np.float32(0)
    for i0 in range(0, n, 64):
        i1 = min(n, i0 + 64)
        for i in range(i1 - i0):
            row, trow = values[i0 + i], tile[i]
            for c in range(D):
                v = row[c]
                y = (v - lo[c]) * scale[c]  # float32 arithmetic, as in encode()
                y = y if y > zero else zero  # also NaN (inf * 0 for a constant cell) -> 0
                y = y if y < top else top
                trow[c] = np.uint16(np.int32(y) + 1) if v == v else np.uint16(0)
                sums[c] += np.float64(v) if v == v else 0.0
        for c in range(D):
            oc = out[c]
            for i in range(i1 - i0):
                oc[i0 + i] = tile[i, c]


def encode(values: np.ndarray, lo: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``uint16`` codes of float32 ``values[..., D]`` with per-cell ``lo``/``scale`` (float32)."""
    with np.errstate(invalid="ignore", over="ignore"):
        x = np.floor((values - lo) * scale)
        np.clip(x, 0, TOP, out=x)
        x[np.isnan(x)] = 0  # NaN values, and inf * 0 for a constant cell
        codes = x.astype(np.uint16) + np.uint16(1)
    codes[np.isnan(values)] = 0
    return codes


@nb.njit(cache=True, nogil=True, inline="always")
def _sum_of(row):
    """The checksum of ``row`` (1-d, values < 2**16, ``row.size * max value < 2**32``): sum of
    ``(value + 1) * (position + 1)`` modulo 2**64, as ``sum(value * (i + 1)) + sum(i + 1)``
    with uint32 products (vectorises). Not a cryptographic hash: it catches overwritten,
    truncated or edited files."""
    h = np.uint64(0)
    for i in range(row.size):
        h += np.uint64(np.uint32(row[i]) * np.uint32(i + 1))
    return h + np.uint64(row.size * (row.size + 1) // 2)


@nb.njit(cache=True, nogil=True)
def block_checks(codes, block, out):
    """``out[j, s]``: the checksum (:func:`_sum_of`) of block ``s`` (``block`` steps, the last
    may be shorter) of ``codes[m, n]`` (the high bytes)."""
    m, n = codes.shape
    for j in range(m):
        for s in range(out.shape[1]):
            out[j, s] = _sum_of(codes[j, s * block : min(n, (s + 1) * block)])


@nb.njit(cache=True, nogil=True)
def part_checks(data, ranks, out):
    """``out[s]``: the checksum of ``data[ranks[s] : ranks[s + 1]]`` (a group's low bytes of
    span ``s``)."""
    for s in range(out.size):
        out[s] = _sum_of(data[ranks[s] : ranks[s + 1]])


@nb.njit(cache=True, nogil=True)
def count_high(high, first, span, counts):
    """``counts[c, g, s] +=`` how many steps ``first + i`` of ``high[c, i]`` have high byte
    ``g`` and lie in span ``s`` (``span`` steps each)."""
    m, n = high.shape
    i0 = 0
    while i0 < n:
        s = (first + i0) // span
        i1 = min(n, (s + 1) * span - first)
        for c in range(m):
            row, cnt = high[c, i0:i1], counts[c, :, s]
            for i in range(row.size):
                cnt[row[i]] += 1
        i0 = i1


@nb.njit(cache=True, nogil=True)
def join_codes(high, region, starts, ends, out):
    """One cell's uint16 codes ``out[i] = high[i] << 8 | low`` from its high bytes and its
    low bytes grouped by high byte (group ``g`` at ``region[starts[g] : ends[g]]``).
    False when a group runs past ``ends[g]`` (a corrupt file)."""
    ptr = starts.copy()
    for i in range(high.size):
        g = high[i]
        if ptr[g] >= ends[g]:
            return False
        out[i] = (np.uint16(g) << np.uint16(8)) | np.uint16(region[ptr[g]])
        ptr[g] += 1
    for g in range(ptr.size):
        if ptr[g] != ends[g]:
            return False
    return True


@nb.njit(cache=True, nogil=True)
def masks_and_checks(high, ks, ambiguous, need, block, lows, lstart, masks, sums, amb_steps,
                     amb_cells):
    """One pass over the high bytes ``high: uint8[m, n]`` (cell-major): the on-bit words
    ``masks: uint64[W, n]`` against per-cell threshold codes ``ks`` and the checksum of every
    block (as :func:`block_checks`) into ``sums: uint64[m, ceil(n / block)]``.

    Code ``high << 8 | low``, ``kh, kl = k >> 8, k & 255``: a cell is on where the high byte
    is above ``kh``; where it equals ``kh`` the step's low byte is the next one of the cell's
    ``lows[lstart[j] : lstart[j + 1]]`` (the low bytes of this span's steps with high byte
    ``kh``, in step order; not read when ``need[j]`` is 0: no such step can be on), and the
    cell is on where it is above ``kl``; where it equals ``kl`` and ``ambiguous[j]`` the bit
    is set and the position recorded in ``amb_steps``/``amb_cells`` for the exact check.
    Returns the number of ambiguous entries (may exceed the buffers; then call again with
    larger), or -1 when a cell's steps with high byte ``kh`` and its low bytes disagree in
    number (a corrupt file)."""
    m, n = high.shape
    masks[:] = 0
    na = 0
    cap = amb_steps.size
    ptr = lstart[:-1].copy()
    # Block by block, cell by cell, in separate simple loops over 1-d slices of the block
    # (in cache by then): each vectorises; one fused loop, or indexing the 2-d arrays with
    # an offset, did not (3-7x slower, measured).
    for s in range(sums.shape[1]):
        base = s * block
        stop = min(n, base + block)
        for j in range(m):
            row = high[j, base:stop]
            sums[j, s] = _sum_of(row)
            if ks[j] > 65535:
                continue  # nothing is on
            word = masks[j >> 6, base:stop]
            shift = np.uint64(j & 63)
            kh, kl = np.uint8(ks[j] >> 8), np.uint8(ks[j] & 255)
            count = 0
            for i in range(row.size):
                h = row[i]
                word[i] |= np.uint64(h > kh) << shift
                count += h == kh
            if count == 0 or not need[j]:
                continue
            p = ptr[j]
            if p + count > lstart[j + 1]:
                return -1
            for i in range(row.size):
                if row[i] == kh:
                    low = lows[p]
                    p += 1
                    if low > kl:
                        word[i] |= np.uint64(1) << shift
                    elif low == kl and ambiguous[j]:
                        word[i] |= np.uint64(1) << shift
                        if na < cap:
                            amb_steps[na] = base + i
                            amb_cells[na] = j
                        na += 1
            ptr[j] = p
    for j in range(m):
        if need[j] and ks[j] <= 65535 and ptr[j] != lstart[j + 1]:
            return -1
    return na


@nb.njit(cache=True, nogil=True, inline="always")
def _transpose64(a):
    """Transpose the 64 x 64 bit matrix ``a: uint64[64]`` in place (bit ``i`` of ``a[j]``
    becomes bit ``j`` of ``a[i]``): swap the off-diagonal halves, then quarters, ... of
    every block (six rounds of 32 masked swaps instead of 4096 single bits). Each round
    walks its blocks' first halves as runs of consecutive ``k`` (no test of ``k & j``;
    about 1.5x faster at 20 cells, measured)."""
    j = 32
    m = np.uint64(0x00000000FFFFFFFF)
    while j:
        sj = np.uint64(j)
        for base in range(0, 64, 2 * j):
            for k in range(base, base + j):
                t = ((a[k] >> sj) ^ a[k + j]) & m
                a[k + j] ^= t
                a[k] ^= t << sj
        j >>= 1
        m ^= m << np.uint64(j)


@nb.njit(cache=True, nogil=True)
def rows_to_masks(rows, masks):
    """The sweep's words ``masks: uint64[W, n]`` (bit ``j & 63`` of word row ``j >> 6`` = cell
    ``j``) from per-cell bit rows ``rows: uint64[m, ceil(n / 64)]`` (bit ``i & 63`` of word
    ``i >> 6`` = step ``i``): one 64 x 64 bit transpose per 64 cells and 64 steps; with
    ``m <= 32`` cells (``s`` = the next power of two), one transpose takes ``64 / s`` words
    of each row as its ``64 / s`` bands of ``s`` rows, so a third to a 64th as many."""
    W, n = masks.shape
    m = rows.shape[0]
    a = np.empty(64, np.uint64)
    if W == 1 and m <= 32:
        s = 1
        while s < m:
            s *= 2
        f, nw = 64 // s, rows.shape[1]
        low = (np.uint64(1) << np.uint64(s)) - np.uint64(1)
        for w0 in range(0, nw, f):
            for q in range(f):
                for r in range(s):
                    a[q * s + r] = rows[r, w0 + q] if r < m and w0 + q < nw else np.uint64(0)
            _transpose64(a)  # a[i] bit q * s + r: cell r at step (w0 + q) * 64 + i
            for q in range(min(f, nw - w0)):
                base, shift = (w0 + q) * 64, np.uint64(q * s)
                for i in range(min(64, n - base)):
                    masks[0, base + i] = (a[i] >> shift) & low
        return
    for g in range(W):
        for w in range(rows.shape[1]):
            for r in range(64):
                j = g * 64 + r
                a[r] = rows[j, w] if j < m else np.uint64(0)
            _transpose64(a)
            base = w * 64
            for i in range(min(64, n - base)):
                masks[g, base + i] = a[i]


@nb.njit(cache=True, nogil=True)
def masks_to_rows(masks, m, rows):
    """The inverse of :func:`rows_to_masks` for the first ``m`` cells (``rows`` is written
    whole; bits past step ``n - 1`` are clear). A bit transpose is its own inverse."""
    W, n = masks.shape
    a = np.empty(64, np.uint64)
    for g in range(W):
        for w in range(rows.shape[1]):
            base = w * 64
            for i in range(64):
                a[i] = masks[g, base + i] if base + i < n else np.uint64(0)
            _transpose64(a)
            for r in range(min(64, m - g * 64)):
                rows[g * 64 + r, w] = a[r]


class RowCache:
    """Each cell's on-bits at one threshold as a bit row ``uint64[ceil(T / 64)]``, kept per
    (index build, cell, float32 threshold) and filled per checksum block as queries read
    them, within ``limit`` bytes per process (least recently used out first); keys start
    with the owning index's ``id`` and a dropped index's rows go with it.

    A row's bits are exactly the mask words a query built from verified codes plus the
    exact check of ambiguous steps, so a later query on the same cell and threshold gets
    the same words without reading or checking the codes again. The build's file name is
    part of the key: a rebuilt index never meets the rows of the old one."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        self.rows: OrderedDict[tuple, tuple[np.ndarray, bytearray]] = OrderedDict()
        self.used = 0

    def get(self, key: tuple, T: int) -> tuple[np.ndarray, bytearray] | None:
        """``(bits uint64[ceil(T / 64)], done: one byte per checksum block, 1 = filled)`` of
        ``key`` (a bytearray: a slice test is much cheaper than numpy's), created when it
        fits (evicting the least recently used), None when it cannot be kept."""
        nbytes = 8 * -(-T // 64)
        with self.lock:
            entry = self.rows.get(key)
            if entry is not None:
                self.rows.move_to_end(key)
                return entry
            if nbytes > self.limit:
                return None
            while self.rows and self.used + nbytes > self.limit:
                _, (old, _) = self.rows.popitem(last=False)
                self.used -= old.nbytes
            entry = (np.zeros(-(-T // 64), np.uint64), bytearray(-(-T // BLOCK)))
            self.rows[key] = entry
            self.used += nbytes
            return entry

    def peek(self, key: tuple) -> tuple[np.ndarray, bytearray] | None:
        """The entry of ``key`` when it is kept (like :meth:`get`), else None: nothing is
        created or evicted."""
        with self.lock:
            entry = self.rows.get(key)
            if entry is not None:
                self.rows.move_to_end(key)
            return entry

    def forget(self, owner: int) -> None:
        """Drop the rows of the index whose ``id`` is ``owner`` (it is gone)."""
        with self.lock:
            for key in [key for key in self.rows if key[0] == owner]:
                self.used -= self.rows.pop(key)[0].nbytes


ROWS = RowCache(ROW_BUDGET)  # the indexes of a process share one budget


def _covered(entries: list, lo: int, hi: int) -> bool:
    """Whether every row cache entry (None: not kept) is filled over steps ``lo .. hi-1``."""
    b0, b1 = lo // BLOCK, -(-hi // BLOCK)
    return all(e is not None and 0 not in e[1][b0:b1] for e in entries)


class CodeIndex:
    """The index of one source, stored through ``storage``."""

    def __init__(self, source: StateSource, storage: IndexStorage, chunk: int = CHUNK,
                 rows: RowCache = ROWS) -> None:
        self.source = source
        self.storage = storage
        self.chunk = chunk
        self.rows = rows
        # a dead index's rows go with it (id() may be reused by a later index)
        weakref.finalize(self, rows.forget, id(self))
        self._tables: tuple[str, np.ndarray, np.ndarray] | None = None

    # --- freshness ---------------------------------------------------------------
    def fresh(self) -> dict | None:
        """The manifest when the index is fresh and of this layout version, else None."""
        manifest = self.storage.manifest()
        if manifest is None or manifest.get("layout", {}).get("version") != VERSION:
            return None
        return manifest

    def state(self) -> str:
        """``"fresh"``, ``"missing"`` or ``"stale"``."""
        state = self.storage.state()
        if state == "fresh" and self.fresh() is None:
            return "stale"
        return state

    def _tables_of(self, manifest: dict) -> tuple[np.ndarray, np.ndarray]:
        """The build's block checksums of the high bytes ``uint64[D, nblocks]`` and its group
        table ``uint64[D, 257]`` (where each (cell, high byte) group starts in ``lows``),
        read once per build; a group table that fails its CRC raises :class:`IndexCorrupt`."""
        name = manifest["files"]["checks"]["name"]
        if self._tables is None or self._tables[0] != name:
            T, D = self.source.shape
            checks = np.empty((D, -(-T // BLOCK)), np.uint64)
            self.storage.read_into(manifest, "checks", 0, checks)
            groups = np.empty((D, 257), np.uint64)
            self.storage.read_into(manifest, "groups", 0, groups)
            if zlib.crc32(groups.tobytes()) != manifest["layout"]["groups_crc"]:
                raise IndexCorrupt("the group table does not match its checksum")
            self._tables = (name, checks, groups)
        return self._tables[1], self._tables[2]

    def _verify(self, manifest: dict, cells: np.ndarray, first_block: int,
                sums: np.ndarray) -> None:
        expected = self._tables_of(manifest)[0][cells, first_block : first_block + sums.shape[1]]
        if not np.array_equal(expected, sums):
            j, s = np.argwhere(expected != sums)[0]
            raise IndexCorrupt(f"codes of cell {int(cells[j])}, block {first_block + int(s)} "
                               "do not match their checksum")

    # --- build -------------------------------------------------------------------
    def _ranges(self, progress) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-cell finite ``lo``, ``hi``, ``scale`` (float32) and whether the cell holds +-inf."""
        T, D = self.source.shape
        if self.source.transform == "tanh":  # tanh values lie in [-1, 1]: no pass needed
            return (np.full(D, -1, np.float32), np.full(D, 1, np.float32),
                    np.full(D, TOP / 2, np.float32), np.zeros(D, bool))
        lo, hi = np.full(D, np.inf), np.full(D, -np.inf)
        has_inf = np.zeros(D, dtype=bool)
        step = self._build_step()
        for i, (a, b) in enumerate(chunks(0, T, step)):
            v = read_values(self.source, a, b)
            fin = np.where(np.isfinite(v), v, np.nan)
            with np.errstate(invalid="ignore"), _quiet_nan():
                lo = np.fmin(lo, np.nanmin(fin, axis=0))
                hi = np.fmax(hi, np.nanmax(fin, axis=0))
            has_inf |= np.isinf(v).any(0)
            progress(0.5 * (i + 1) * step / T)
        lo = np.where(np.isfinite(lo), lo, 0.0).astype(np.float32)
        hi = np.where(np.isfinite(hi), hi, 0.0).astype(np.float32)
        span = hi.astype(np.float64) - lo
        scale = np.where(span > 0, TOP / np.where(span > 0, span, 1), 0).astype(np.float32)
        return lo, hi, scale, has_inf

    def _build_step(self) -> int:
        """Steps per build chunk: whole checksum blocks, about ``_BUILD_CELLS`` values, and
        at least 20 chunks when ``T`` allows (the progress shown moves in small steps)."""
        T, D = self.source.shape
        return BLOCK * max(1, min(_BUILD_CELLS // (D * BLOCK), T // (20 * BLOCK)))

    def build(self, progress: Callable[[float], None] | None = None) -> None:
        """Write the high bytes, the grouped low bytes, the group table, the checksums and
        the manifest through the storage (atomic: the storage publishes the files only when
        all are complete).

        Two passes: the first encodes the states chunk by chunk (high bytes to ``codes``,
        low bytes in step order to a scratch file, each step's round-threshold parity bit
        (:func:`grid_parity`) to another, and how many steps of each high byte every span
        holds; the states' rows are then dropped from the page cache), the second makes
        each cell's region of ``lows`` (:func:`cell_region`) from what the first wrote."""
        progress = progress or (lambda fraction: None)
        T, D = self.source.shape
        lo, hi, scale, has_inf = self._ranges(progress)
        base = 0.0 if self.source.transform == "tanh" else 0.5
        span = BLOCK * READ_BLOCKS
        nspans = -(-T // span)
        nblocks = -(-T // BLOCK)
        build = self.storage.new_build()
        try:
            build.create("codes", T * D)
            build.create("scratch", T * D)
            row_bits = -(-T // 8)
            build.create("odd", row_bits * D)
            grid = [_round_thresholds(lo[c], hi[c], scale[c], has_inf[c]) for c in range(D)]
            inv_u = np.array([1 / r.u if r.u else 0.0 for r in grid])
            margin = np.array([_margin(r.u, lo[c], hi[c]) if r.u else 0.0
                               for c, r in enumerate(grid)])
            first_j = np.array([r.first for r in grid], np.int64)
            count = np.array([r.t32.size for r in grid], np.int64)
            t32s = np.zeros((D, max(1, int(count.max()))), np.float32)
            for c, r in enumerate(grid):
                t32s[c, : r.t32.size] = r.t32
            checks = np.zeros((D, nblocks), np.uint64)
            counts = np.zeros((D, 256, nspans), np.uint32)
            step = self._build_step()

            forget = getattr(self.source, "forget_rows", None)  # see StateSource

            def write_chunk(bounds: tuple[int, int]) -> tuple[np.ndarray, int, np.ndarray]:
                a, b = bounds
                values = read_values(self.source, a, b)
                if forget is not None:
                    forget(a, b)
                codes = np.empty((D, b - a), np.uint16)
                sums = np.zeros(D)  # for cell_stats' mean
                encode_chunk(values, lo, scale, codes, sums)
                high = (codes >> 8).astype(np.uint8)
                low = codes.astype(np.uint8)  # the low byte
                block_checks(high, BLOCK, checks[:, a // BLOCK : -(-b // BLOCK)])
                s0 = a // span  # two chunks run at once: each counts into its own array
                part = np.zeros((D, 256, (b - 1) // span - s0 + 1), np.uint32)
                count_high(high, a - s0 * span, span, part)
                odd = np.empty((D, -(-(b - a) // 64)), np.uint64)
                grid_parity(values, inv_u, margin, first_j, t32s, count, odd)
                odd_bytes = odd.view(np.uint8)[:, : -(-(b - a) // 8)]  # little-endian words
                for c in range(D):
                    build.write("codes", c * T + a, high[c])
                    build.write("scratch", c * T + a, low[c])
                    build.write("odd", c * row_bits + a // 8, odd_bytes[c])
                return sums, s0, part

            total = np.zeros(D)
            first = 1 - base - (1 - base) / 4  # the first pass's share of the progress
            # two chunks at a time: reading, tanh and encoding release the GIL
            with ThreadPoolExecutor(2) as pool:
                for i, (sums, s0, part) in enumerate(pool.map(write_chunk, chunks(0, T, step))):
                    with np.errstate(invalid="ignore"):
                        total += sums
                    counts[:, :, s0 : s0 + part.shape[2]] += part
                    progress(base + first * min(1.0, (i + 1) * step / T))
            build.create("lows", 0)
            groups = np.zeros((D, 257), np.uint64)

            def region_of(c: int) -> tuple[np.ndarray, np.ndarray]:
                high, low = np.empty(T, np.uint8), np.empty(T, np.uint8)
                odd = np.empty(row_bits, np.uint8)
                build.read("codes", c * T, high)
                build.read("scratch", c * T, low)
                build.read("odd", c * row_bits, odd)
                return _cell_region(high, low, odd, counts[c], grid[c])

            # regions are written one after the other (a cell's size is known once it is
            # made), a few cells ahead at a time on two threads
            end = 0
            with ThreadPoolExecutor(2) as pool:
                for c0 in range(0, D, 8):
                    for c, (region, sizes) in enumerate(pool.map(region_of,
                                                                 range(c0, min(D, c0 + 8))), c0):
                        build.write("lows", end, region)
                        groups[c] = end + np.r_[0, np.cumsum(sizes)]
                        end += region.size
                        progress(base + first + (1 - base - first) * (c + 1) / D)
            build.discard("scratch")
            build.discard("odd")
            build.create("groups", groups.nbytes)
            build.write("groups", 0, groups)
            build.create("checks", checks.nbytes)
            build.write("checks", 0, checks)
            build.commit({"version": VERSION, "block": BLOCK, "span": span, "lo": lo.tolist(),
                          "hi": hi.tolist(), "scale": scale.tolist(),
                          "has_inf": has_inf.tolist(), "sum": total.tolist(),
                          "groups_crc": zlib.crc32(groups.tobytes())})
        except BaseException:
            build.abort()
            raise
        self._tables = None

    # --- query -------------------------------------------------------------------
    def read_codes(self, manifest: dict, cell: int) -> np.ndarray:
        """``uint16[T]``: one cell's codes (high bytes and its whole region of low bytes),
        checksums verified."""
        T = self.source.shape[0]
        groups = self._tables_of(manifest)[1][cell]
        high = np.empty(T, np.uint8)
        self.storage.read_into(manifest, "codes", cell * T, high)
        sums = np.empty((1, -(-T // BLOCK)), np.uint64)
        block_checks(high[None], BLOCK, sums)
        self._verify(manifest, np.array([cell]), 0, sums)
        region = np.empty(int(groups[-1] - groups[0]), np.uint8)
        self.storage.read_into(manifest, "lows", int(groups[0]), region)
        rel = (groups - groups[0]).astype(np.int64)
        nspans = -(-T // int(manifest["layout"]["span"]))
        starts, ends = np.zeros(256, np.int64), np.zeros(256, np.int64)
        for g in np.flatnonzero(np.diff(rel)):
            starts[g] = rel[g] + _head_bytes(nspans)
            ranks, sums = _group_head(region[rel[g] : starts[g]], nspans, rel[g + 1] - starts[g],
                                      cell, g)
            ends[g] = starts[g] + ranks[-1]
            _check_parts(region[starts[g] : ends[g]], ranks, sums, cell, g, 0)
        out = np.empty(T, np.uint16)
        if not join_codes(high, region, starts, ends, out):
            raise IndexCorrupt(f"the low bytes of cell {cell} do not fit its high bytes")
        return out

    @staticmethod
    def likely_on(manifest: dict, exclude: np.ndarray, n: int) -> np.ndarray:
        """``int64[<= n]`` sorted: the cells not in ``exclude`` with the highest sum of values
        (the cells most often on at a threshold, as a guess from the manifest alone; NaN
        sums last)."""
        sums = np.asarray(manifest["layout"]["sum"], dtype=np.float64)
        order = np.argsort(-sums, kind="stable")
        return np.sort(order[~np.isin(order, exclude)][:n]).astype(np.int64)

    def cell_stats(self, manifest: dict, cell: int, bins: int) -> CellStats | None:
        """Exact :class:`CellStats` from the codes (None: use a scan; see stats_from_codes)."""
        m = manifest["layout"]
        batch = max(1, _CHECK_CELLS // self.source.shape[1])

        def exact(steps: np.ndarray) -> np.ndarray:
            parts = [read_scattered(self.source, steps[i : i + batch])[:, cell]
                     for i in range(0, steps.size, batch)]
            return apply_transform(np.concatenate(parts), self.source.transform)

        return stats_from_codes(cell, self.read_codes(manifest, cell), float(m["lo"][cell]),
                                float(m["scale"][cell]), bool(m["has_inf"][cell]),
                                float(m["sum"][cell]), exact, bins)

    @staticmethod
    def threshold_code(layout: dict, cell: int, threshold: float) -> tuple[int, bool]:
        """``(k, ambiguous)``: on iff ``code > k``, or ``code == k`` and (if ambiguous) the
        exact check says so."""
        lo, hi = np.float32(layout["lo"][cell]), np.float32(layout["hi"][cell])
        t = threshold32(threshold)
        if not layout["has_inf"][cell]:
            if t <= lo:  # every non-NaN value is on: code >= 1
                return 0, False
            if t > hi:  # nothing is on
                return TOP + 1, False
        k = encode(np.array([t], dtype=np.float32), lo, np.float32(layout["scale"][cell]))[0]
        return int(k), True

    def mask_blocks(self, manifest: dict, cells: np.ndarray, threshold: float, start: int = 0,
                    stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(lo, uint64[W, n])`` on-bit words of ``cells`` per span of ``start .. stop-1``,
        ambiguous steps checked exactly, every block of high bytes and every part of low
        bytes read checked against its sum. Each span is valid until the next is asked for
        (one buffer: no fresh pages per span).

        A span whose blocks every cell has in the row cache is built from the cached bit
        rows (no read); otherwise the high bytes are read, with each cell's low bytes of
        the threshold's high byte over all the spans (one read per cell, before the first
        span), and the rows of the span are kept."""
        T = self.source.shape[0]
        stop = T if stop is None else stop
        layout = manifest["layout"]
        m, W = cells.size, (cells.size + 63) // 64
        span = int(layout["span"])
        ks = np.empty(m, np.int64)
        amb = np.empty(m, np.uint8)
        for j, c in enumerate(cells):
            ks[j], amb[j] = self.threshold_code(layout, int(c), threshold)
        # the low bytes matter unless no step of the threshold's high byte can be on
        need = ((ks <= TOP + 1) & ((amb == 1) | ((ks & 255) != 255))).astype(np.uint8)
        build = self._row_key(manifest, threshold)
        cached = [self.rows.get((id(self), build, int(c)), T) for c in cells]
        amb_steps, amb_cells = np.empty(1 << 12, np.int64), np.empty(1 << 12, np.int64)
        spans = [(ra, min(T, ra + span))  # the build's spans (the low bytes' parts)
                 for ra in range(start - start % span, stop, span)]
        s0 = start // span

        # high bytes are read on the I/O threads, one pread per cell, the next span's while
        # this one is computed (a cold disk serves concurrent reads faster; reading
        # overlaps work); the low bytes once, on the first read
        buffers = [np.empty((m, span), np.uint8) for _ in range(2)]
        words = np.empty(W * span, np.uint64)  # each span's words, C-contiguous
        reads: dict[int, list] = {}
        lows: list = []
        used = np.zeros(m, np.int64)  # round-threshold bits taken per cell (_decide)
        files = ExitStack()

        def fetch(i: int, reader) -> None:
            if i >= len(spans) or i in reads or _covered(cached, *spans[i]):
                return
            if not lows:
                lows.extend(self._read_lows(manifest, files, cells, ks, need, threshold, s0,
                                            s0 + len(spans)))
            ra, rb = spans[i]
            part = buffers[i % 2][:, : rb - ra]
            reads[i] = [IO.submit(reader.read, int(c) * T + ra, part[j])
                        for j, c in enumerate(cells)]

        with files, self.storage.reader(manifest, "codes") as reader:
            try:
                for i, (ra, rb) in enumerate(spans):
                    b0, b1, w0, w1 = ra // BLOCK, -(-rb // BLOCK), ra // 64, -(-rb // 64)
                    masks = words[: W * (rb - ra)].reshape(W, rb - ra)
                    fetch(i, reader)
                    fetch(i + 1, reader)
                    if i not in reads:  # every cell's rows cached: no read
                        rows_to_masks(np.stack([e[0][w0:w1] for e in cached]), masks)
                    else:
                        for read in reads.pop(i):
                            read.result()
                        part = buffers[i % 2][:, : rb - ra]
                        sums = np.empty((m, b1 - b0), np.uint64)
                        low, lstart = _span_lows(lows, i)
                        n_amb = masks_and_checks(part, ks, amb, need, BLOCK, low, lstart, masks,
                                                 sums, amb_steps, amb_cells)
                        self._verify(manifest, cells, b0, sums)
                        if n_amb < 0:
                            raise IndexCorrupt(f"the low bytes of span {ra // span} do not fit "
                                               "its high bytes")
                        if n_amb > amb_steps.size:
                            amb_steps = np.empty(n_amb, np.int64)
                            amb_cells = np.empty(n_amb, np.int64)
                            masks_and_checks(part, ks, amb, need, BLOCK, low, lstart, masks,
                                             sums, amb_steps, amb_cells)
                        if n_amb:
                            steps, which = amb_steps[:n_amb], amb_cells[:n_amb]
                            left = self._decide(masks, steps, which, lows, used)
                            if left.any():
                                self._check_exact(masks, ra, cells, threshold, steps[left],
                                                  which[left])
                        self._keep_rows(cached, masks, w0, w1, b0, b1)
                    lo, hi = max(start, ra), min(stop, rb)
                    if (lo, hi) != (ra, rb):  # a segment's first or last span
                        masks = np.ascontiguousarray(masks[:, lo - ra : hi - ra])
                    yield lo, masks
            finally:  # no read may still write into a buffer once the file is closed
                for pending in reads.values():
                    for read in pending:
                        read.cancel() or read.exception()
                for pending in lows:
                    pending.cancel() or pending.exception()

    def _read_lows(self, manifest: dict, files: ExitStack, cells: np.ndarray, ks: np.ndarray,
                   need: np.ndarray, threshold: float, s0: int, s1: int) -> list:
        """One future per cell, submitted to the I/O threads: ``(ranks int64[s1 - s0 + 1],
        data uint8[...], on bool[...] | None)``: the low bytes of the cell's steps whose high
        byte is the threshold's over spans ``s0 .. s1-1`` (part ``s`` is ``data[ranks[s - s0]
        : ranks[s - s0 + 1]]``), checked against their checksums, and when the threshold is
        one of the cell's round thresholds, whether each of its ambiguous steps from span
        ``s0`` on is on (in step order; then they need no exact read). The group is read
        with its head in one pread when it is small beside the spans (the round
        thresholds come with it), else the head first and then the parts (no round
        thresholds)."""
        groups = self._tables_of(manifest)[1]
        nspans = -(-self.source.shape[0] // int(manifest["layout"]["span"]))
        reader = files.enter_context(self.storage.reader(manifest, "lows"))
        whole = max(1 << 20, (s1 - s0) * int(manifest["layout"]["span"]) // 4)
        head_n = _head_bytes(nspans)
        t32 = threshold32(threshold)

        def read(cell: int, k: int, needed: bool) -> tuple[np.ndarray, np.ndarray, object]:
            g = k >> 8
            o0, o1 = int(groups[cell, g]), int(groups[cell, g + 1])
            if not needed or o1 == o0:
                return np.zeros(s1 - s0 + 1, np.int64), np.empty(0, np.uint8), None
            size = o1 - o0 - head_n
            if size < 12:  # no room for a low byte and the round thresholds' section
                raise IndexCorrupt(f"the group table of cell {cell} is damaged")
            on = None
            if size <= whole:
                buf = np.empty(o1 - o0, np.uint8)
                reader.read(o0, buf)
                ranks, sums = _group_head(buf[:head_n], nspans, size, cell, g)
                data = buf[head_n + ranks[s0] : head_n + ranks[s1]]
                on = _unpack_decisions(buf[head_n + ranks[-1] :], t32, cell, g)
                if on is not None:  # skip the bits of the steps before span s0
                    on = on[np.count_nonzero(buf[head_n : head_n + ranks[s0]] == (k & 255)) :]
            else:
                head = np.empty(head_n, np.uint8)
                reader.read(o0, head)
                ranks, sums = _group_head(head, nspans, size, cell, g)
                data = np.empty(int(ranks[s1] - ranks[s0]), np.uint8)
                reader.read(o0 + head_n + int(ranks[s0]), data)
            _check_parts(data, ranks[s0 : s1 + 1], sums[s0:s1], cell, g, s0)
            return ranks[s0 : s1 + 1] - ranks[s0], data, on

        return [IO.submit(read, int(c), int(min(ks[j], TOP + 1)), bool(need[j]))
                for j, c in enumerate(cells)]

    @staticmethod
    def _decide(masks: np.ndarray, steps: np.ndarray, which: np.ndarray, lows: list,
                used: np.ndarray) -> np.ndarray:
        """Decide the ambiguous entries ``(steps, which)`` of one span (each cell's in step
        order) of the cells whose round-threshold bits were read (:meth:`_read_lows`):
        clear those that are off; ``used[j]``: how many of cell ``j``'s bits earlier spans
        took. Returns which entries are left for the exact check."""
        left = np.ones(steps.size, bool)
        for j in np.unique(which):
            on = lows[j].result()[2]
            if on is None:
                continue
            mine = np.flatnonzero(which == j)
            if used[j] + mine.size > on.size:
                raise IndexCorrupt("a round threshold's bits do not cover its steps")
            off = mine[~on[used[j] : used[j] + mine.size]]
            used[j] += mine.size
            sweep.clear_bits(masks, steps[off], which[off])
            left[mine] = False
        return left

    @staticmethod
    def _row_key(manifest: dict, threshold: float) -> tuple:
        """The row cache's key of this build at ``threshold`` (the cell id is added)."""
        codes_file = manifest["files"]["codes"]
        return (codes_file["name"], str(codes_file.get("identity")),
                float(threshold32(threshold)))

    def cached_on_counts(self, manifest: dict, cells: np.ndarray, threshold: float,
                         windows: list[tuple[int, int]]) -> list[np.ndarray] | None:
        """``int32[b-a+1]`` per window ``(a, b)``: how many of ``cells`` are on at each step,
        from the row cache alone (the checked bits a match over these cells just built), or
        None when some cell's row does not cover some window: then nothing was read."""
        build = self._row_key(manifest, threshold)
        rows = [self.rows.peek((id(self), build, int(c))) for c in cells]
        if not all(_covered(rows, a, b + 1) for a, b in windows):
            return None
        out = []
        for a, b in windows:
            w0, w1 = a // 64, b // 64 + 1
            words = np.stack([e[0][w0:w1] for e in rows])  # uint64[m, w]: bit i = step 64w+i
            bits = np.unpackbits(words.astype("<u8").view(np.uint8), axis=1, bitorder="little")
            out.append(bits[:, a - 64 * w0 : b - 64 * w0 + 1].sum(0, dtype=np.int32))
        return out

    @staticmethod
    def _keep_rows(cached, masks, w0, w1, b0, b1) -> None:
        """Write the span's checked words into the cached rows (``ra`` is a multiple of
        ``BLOCK``, so the span starts on a word). Bits before ``done`` (two segments may
        fill the same blocks with the same bits)."""
        rows = np.empty((len(cached), w1 - w0), np.uint64)
        masks_to_rows(masks, len(cached), rows)
        for j, e in enumerate(cached):
            if e is not None:
                e[0][w0:w1] = rows[j]
                e[1][b0:b1] = b"\x01" * (b1 - b0)

    def _check_exact(self, masks, lo, cells, threshold, steps, which) -> None:
        """Read the exact values at the ambiguous (step, cell) entries; clear those that are off."""
        unique = np.unique(steps)
        batch = max(1, _CHECK_CELLS // self.source.shape[1])
        t32 = threshold32(threshold)
        for i in range(0, unique.size, batch):
            part = unique[i : i + batch]
            sel = np.flatnonzero((steps >= part[0]) & (steps <= part[-1]))
            raw = read_scattered(self.source, part + lo)
            vals = apply_transform(raw[np.searchsorted(part, steps[sel]), cells[which[sel]]],
                                   self.source.transform)
            off = sel[~(vals >= t32)]
            sweep.clear_bits(masks, steps[off], which[off])


class RoundGrid(NamedTuple):
    """One cell's round thresholds (:func:`_round_thresholds`)."""

    u: float  # the grid step, 0: none
    first: int  # the grid index of t32[0]
    t32: np.ndarray  # float32 of every grid index first, first + 1, ... in (lo, hi]
    codes: np.ndarray  # uint16, sorted: the codes with a round threshold...
    index: np.ndarray  # int64: ...and that threshold's grid index (first + position in t32)


def _round_thresholds(lo: np.float32, hi: np.float32, scale: np.float32, has_inf: bool
                      ) -> RoundGrid:
    """One cell's round thresholds: the multiples ``j * u`` of the power of ten ``u`` with
    ``(hi - lo) / 10000 < u <= (hi - lo) / 1000`` (0.001 for tanh states), as the client's
    threshold handle rounds them, in ``(lo, hi]``, each as its float32 (:func:`threshold32`)
    and its code ``k``, where ``code == k`` steps are ambiguous (one threshold per code: a
    code bin is narrower than ``u / 6``). The index stores, for each, which of those steps
    are on, so such a threshold needs no exact read. None for a cell with +-inf (rare: its
    thresholds are checked exactly) or whose values are too far from 0 for float32 to tell
    grid points apart well (:func:`grid_parity`'s margin would pass a quarter step)."""
    width = float(hi) - float(lo)
    none = RoundGrid(0.0, 0, np.empty(0, np.float32), np.empty(0, np.uint16),
                     np.empty(0, np.int64))
    if has_inf or not (width > 0 and np.isfinite(width)):
        return none
    u = 10.0 ** math.floor(math.log10(width / 1000))
    if _margin(u, lo, hi) > 0.25:
        return none
    digits = max(0, -math.floor(math.log10(u)))
    first = math.floor(float(lo) / u)
    t = np.round(np.arange(first, math.floor(float(hi) / u) + 2) * u, digits)
    t32 = t.astype(np.float32)
    t32 = np.where(t32.astype(np.float64) < t, np.nextafter(t32, np.float32(np.inf)), t32)
    inside = np.flatnonzero((t32 > lo) & (t32 <= hi))  # as threshold_code: else not ambiguous
    codes, pick = np.unique(encode(t32[inside], lo, scale), return_index=True)
    return RoundGrid(u, first, t32, codes, first + inside[pick])


def _margin(u: float, lo: float, hi: float) -> float:
    """How far (in grid steps) a float32 grid threshold may lie from ``j * u``: its rounding,
    four times over."""
    return 4 * 2.0**-24 * max(abs(float(lo)), abs(float(hi))) / u + 1e-9


@nb.njit(cache=True, nogil=True)
def grid_parity(values, inv_u, margin, first, t32s, count, out):
    """``out[c, i >> 6]`` bit ``i & 63``: the parity of ``f(v)``, ``v = values[i, c]``, the
    largest grid index ``j`` with ``t32s[c, j - first[c]] <= v`` (cells with ``inv_u[c] =
    0`` and non-finite values: 0). A step in the code bin of grid threshold ``j`` has
    ``f(v)`` ``j`` (on) or ``j - 1`` (off), so the parity tells which. ``f(v)`` is
    ``floor(v / u)`` unless ``v / u`` is within ``margin[c]`` of an integer (a float32
    threshold may lie that far from ``j * u``): then it is decided on the float32 grid
    (``t32s[c, :count[c]]``, grid indices from ``first[c]``).
    Time-major over contiguous rows, one uint64 per 64 steps and cell: no per-code table is
    touched (one made the build 3x slower, measured)."""
    n, D = values.shape
    word = np.zeros(D, np.uint64)  # the tile's 64 bits of each cell
    near = np.zeros(D, np.bool_)
    low, high = margin, 1 - margin
    for w in range(out.shape[1]):
        word[:] = 0
        for i in range(w * 64, min(n, w * 64 + 64)):
            row, bit = values[i], np.uint64(i & 63)
            # branch-free (it vectorises): the parity of floor(q) is whether q / 2 has a
            # fractional part of at least a half; NaN and inf give NaN, so 0 and not near
            hits = 0
            for c in range(D):
                q = np.float64(row[c]) * inv_u[c]
                h = 0.5 * q
                r = q - np.floor(q)
                near[c] = (r < low[c]) | (r > high[c])
                hits += near[c]
                word[c] |= np.uint64(h - np.floor(h) >= 0.5) << bit
            if hits == 0:
                continue
            for c in range(D):  # within the margin of a grid point: on the float32 grid
                if near[c]:
                    q = np.float64(row[c]) * inv_u[c]
                    j = math.floor(q + 0.5)  # the nearest grid index
                    at = j - first[c]
                    if 0 <= at < count[c]:
                        f = j if row[c] >= t32s[c, at] else j - 1
                        word[c] = (word[c] & ~(np.uint64(1) << bit)) | (
                            np.uint64(np.int64(f) & 1) << bit)
        out[:, w] = word


@nb.njit(cache=True, nogil=True)
def _head_bytes(nspans):
    """Bytes of a group's head in ``lows``: ``nspans + 1`` ranks and ``nspans`` checksums."""
    return 8 * (2 * nspans + 1)


def _cell_region(high: np.ndarray, low: np.ndarray, odd: np.ndarray, counts: np.ndarray,
                 grid: RoundGrid) -> tuple[np.ndarray, np.ndarray]:
    """One cell's bytes in ``lows`` and each high byte's share of them (``int64[256]``, 0 for
    an empty group). Per non-empty high byte ``g`` in order: its head (``ranks[s]``: how many
    of its steps lie before span ``s``; the checksum of each span's part), the low bytes of
    its steps in step order, and its round thresholds' section: ``uint32`` count ``n``,
    ``n`` pairs (threshold's float32 bits, how many steps have its code), each threshold's
    on-bits of those steps in step order (packed, little bit order, whole bytes), and the
    checksum of the section. ``counts: uint32[256, nspans]``; ``odd``: the build's parity
    bits (:func:`grid_parity`, packed): a step of threshold ``j``'s code is on when its
    parity is ``j``'s."""
    bits32 = grid.t32[grid.index - grid.first].view(np.uint32)
    return cell_region(high, low, odd, counts, grid.codes, bits32,
                       (grid.index & 1).astype(np.uint8))


@nb.njit(cache=True, nogil=True, inline="always")
def _put(out, at, value, nbytes):
    """Write ``value``'s ``nbytes`` low bytes at ``out[at:]``, little-endian."""
    for i in range(nbytes):
        out[at + i] = np.uint8((np.uint64(value) >> np.uint64(8 * i)) & np.uint64(255))


@nb.njit(cache=True, nogil=True)
def cell_region(high, low, odd, counts, grid_codes, bits32, grid_parity):
    """:func:`_cell_region`'s bytes and sizes: sizes from the codes' histogram, then one
    pass over the steps puts each low byte in its group and each round threshold's bit in
    its section, then the heads and checksums (about 2x faster than grouping first and
    copying, measured)."""
    T, nspans = high.size, counts.shape[1]
    head_n = _head_bytes(nspans)
    hist = np.zeros(1 << 16, np.int64)
    for i in range(T):
        hist[(np.int64(high[i]) << 8) | np.int64(low[i])] += 1
    entry = np.full(1 << 16, -1, np.int64)  # code -> its round threshold (with steps)
    n, n_entries = np.zeros(256, np.int64), np.zeros(256, np.int64)
    n_bits = np.zeros(256, np.int64)
    for g in range(256):
        n[g] = hist[g << 8 : (g + 1) << 8].sum()
    for e in range(grid_codes.size):
        k = np.int64(grid_codes[e])
        if hist[k] > 0:
            entry[k] = e
            n_entries[k >> 8] += 1
            n_bits[k >> 8] += (hist[k] + 7) >> 3
    sizes = np.zeros(256, np.int64)
    for g in range(256):
        if n[g]:
            sizes[g] = head_n + n[g] + 4 + 8 * n_entries[g] + n_bits[g] + 8
    base = np.zeros(257, np.int64)
    base[1:] = np.cumsum(sizes)
    out = np.zeros(base[256], np.uint8)  # the bit areas start clear
    data = base[:256] + head_n  # where each group's next low byte goes
    table = data + n + 4  # where each group's next table entry goes
    bits = table + 8 * n_entries  # where each group's next threshold's bits go
    for g in range(256):
        if n[g]:
            _put(out, table[g] - 4, n_entries[g], 4)
    at = np.zeros(grid_codes.size, np.int64)
    for e in range(grid_codes.size):
        k = np.int64(grid_codes[e])
        if entry[k] >= 0:
            g = k >> 8
            _put(out, table[g], bits32[e], 4)
            _put(out, table[g] + 4, hist[k], 4)
            table[g] += 8
            at[e] = bits[g]
            bits[g] += (hist[k] + 7) >> 3
    seen = np.zeros(grid_codes.size, np.int64)
    for i in range(T):
        g = np.int64(high[i])
        out[data[g]] = low[i]
        data[g] += 1
        e = entry[(g << 8) | np.int64(low[i])]
        if e >= 0:
            if (odd[i >> 3] >> (i & 7)) & 1 == grid_parity[e]:
                out[at[e] + (seen[e] >> 3)] |= np.uint8(1 << (seen[e] & 7))
            seen[e] += 1
    for g in range(256):
        if n[g] == 0:
            continue
        start, rank = base[g] + head_n, 0
        for s in range(nspans):
            c = np.int64(counts[g, s])
            _put(out, base[g] + 8 * (s + 1), rank + c, 8)
            part = out[start + rank : start + rank + c]
            _put(out, base[g] + 8 * (nspans + 1 + s), _sum_of(part), 8)
            rank += c
        section = base[g] + head_n + n[g]
        _put(out, base[g + 1] - 8, _sum_of(out[section : base[g + 1] - 8]), 8)
    return out, sizes


def _unpack_decisions(section: np.ndarray, t32: np.float32, cell: int, g: int
                      ) -> np.ndarray | None:
    """The on-bits (``bool``, in step order) that a group's section holds for the steps with
    the code of threshold ``t32``, or None when ``t32`` is not one of its round thresholds.
    A section that fails its checksum or does not add up raises :class:`IndexCorrupt`."""
    damaged = IndexCorrupt(f"the round thresholds of cell {cell}, group {g} are damaged")
    if section.size < 12:
        raise damaged
    body = section[:-8]
    check = np.empty(1, np.uint64)
    part_checks(body, np.array([0, body.size]), check)
    n = int(np.frombuffer(body[:4].tobytes(), np.uint32)[0])
    if check[0] != np.frombuffer(section[-8:].tobytes(), np.uint64)[0] or 4 + 8 * n > body.size:
        raise damaged
    table = np.frombuffer(body[4 : 4 + 8 * n].tobytes(), np.uint32).reshape(n, 2)
    nbytes = (table[:, 1].astype(np.int64) + 7) // 8
    if 4 + 8 * n + int(nbytes.sum()) != body.size:
        raise damaged
    hit = np.flatnonzero(table[:, 0] == np.float32(t32).view(np.uint32))
    if not hit.size:
        return None
    r = int(hit[0])
    at = 4 + 8 * n + int(nbytes[:r].sum())
    bits = np.unpackbits(body[at : at + nbytes[r]], bitorder="little")
    return bits[: int(table[r, 1])].astype(bool)


def _span_lows(lows: list, i: int) -> tuple[np.ndarray, np.ndarray]:
    """The low bytes of the ``i``-th span read by one ``mask_blocks``, every cell's part one
    after the other, and where each starts (``int64[m + 1]``): the kernel's ``lows``,
    ``lstart``. ``lows``: the futures of :meth:`CodeIndex._read_lows`."""
    parts = [data[ranks[i] : ranks[i + 1]] for ranks, data, _ in (f.result() for f in lows)]
    lstart = np.zeros(len(parts) + 1, np.int64)
    np.cumsum([p.size for p in parts], out=lstart[1:])
    return (np.concatenate(parts) if lstart[-1] else np.empty(0, np.uint8)), lstart


def _group_head(head: np.ndarray, nspans: int, size: int, cell: int, g: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(ranks int64[nspans + 1], checksums uint64[nspans])`` of a group's head bytes, checked
    to be consistent with the ``size`` bytes after the head (its low bytes, ``ranks[-1]``,
    and its round thresholds' section, at least 12) (else :class:`IndexCorrupt`)."""
    words = np.frombuffer(head.tobytes(), np.uint64)  # a copy: the head need not be aligned
    ranks = words[: nspans + 1]
    if (words.size != 2 * nspans + 1 or ranks[0] != 0 or ranks[-1] > max(0, size - 12)
            or np.any(ranks[1:] < ranks[:-1])):
        raise IndexCorrupt(f"the low bytes' table of cell {cell}, group {g} is damaged")
    return ranks.astype(np.int64), words[nspans + 1 :]


def _check_parts(data: np.ndarray, ranks: np.ndarray, sums: np.ndarray, cell: int, g: int,
                 first: int) -> None:
    """Check ``data`` (parts ``ranks[s] - ranks[0] .. ranks[s + 1] - ranks[0]``) against the
    checksums ``sums`` of spans ``first ..``."""
    got = np.empty(ranks.size - 1, np.uint64)
    part_checks(data, ranks - ranks[0], got)
    if not np.array_equal(got, sums):
        s = first + int(np.flatnonzero(got != sums)[0])
        raise IndexCorrupt(f"low bytes of cell {cell}, group {g}, span {s} do not match "
                           "their checksum")


class _quiet_nan:
    """Silence numpy's all-NaN-slice warning (a cell whose chunk is all NaN is expected)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
