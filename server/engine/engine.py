"""SourceEngine: select, match, on-counts, values and cell statistics over one source.

On-rule: ``on(t, c) := float64(v) >= float64(threshold)`` where ``v`` is the float32
value after :func:`apply_transform`; NaN is never on (and so always counts as off).
Positions outside the sequence that contains a range count as off, so padding may hang
over a sequence start or end and is then satisfied. See sweep.py and pairs.py for how the
DESIGN.md match definition reduces to per-cell on-runs (candidates.py picks one).

Ranking is ``(-|I|, |S ∪ S2|, -length, start)``. ``|S2|`` needs every cell's values over
the padded range, so it is computed only for the candidates of the ``|I|`` tiers needed
to fill ``limit``, from per-threshold on-bit planes of every cell (planes.py): the first
query at a threshold reads the rows its candidates cover once, later ones at that
threshold only AND words. A large cut tier (a tie of hundreds of thousands of short
candidates) is bounded first (:meth:`SourceEngine._bounded`): the cells of ``S2`` outside
``S`` include those of a small set ``Q`` outside ``S``, counted on ``Q``'s on-bits alone, and
only the candidates whose bound can still reach the ``limit``-th rank get their exact
``|S2|``. The answer stays exact; at 5M steps a tie's first query reads ``|S| + |Q|`` cells
through the index and the rows of a few thousand ranges, instead of every row its
candidates cover (minutes on a cold disk).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import scan
from .candidates import give_words, new_sweep, take_words, top_tiers
from .errors import EngineError, IndexCorrupt, check_cells, check_int, check_range
from .index import CodeIndex
from .lexorder import smallest
from .planes import PlaneCache, count_bits
from .query import MatchQuery, SelectQuery, check_threshold
from .results import Candidates, CellStats, Match, MatchResult, MatchWindow
from .source import IndexStorage, StateSource
from .stats import stats_of_column

BOUND_ROWS = 1 << 14  # candidates to rank from which |S2| is bounded first (see _bounded)
BOUND_CELLS = 16  # the cells of Q (see _bounded)
# candidates counted exactly in _bounded's first round, per limit: at 5M the ties take one
# round at 2 (100 candidates, 2,800-5,200 steps of rows read), at 4 twice the steps
BOUND_FIRST = 2


class SourceEngine:
    """Exact select and match over one :class:`StateSource`, with an optional index.

    ``index`` None: no index, every query scans the source in chunks of time. Otherwise the
    index stored there is used while it is fresh; a missing or stale one is never used and
    never built by a query (the store's workspace builds it in the background, or
    ``hiddenscope index``), so queries answer by scanning meanwhile, with identical results.
    """

    def __init__(self, source: StateSource, index: IndexStorage | None = None,
                 chunk: int = scan.CHUNK, threads: int | None = None) -> None:
        self.source = source
        self.T, self.D = (int(x) for x in source.shape)
        self.offsets = np.asarray(source.sequence_offsets, dtype=np.int64)
        self.chunk = chunk
        self.threads = threads or min(2, os.cpu_count() or 1)
        self.index = None if index is None else CodeIndex(source, index, chunk=chunk)
        self.planes = PlaneCache(source, threads=self.threads)  # on-bits per threshold: |S2|

    # --- index -------------------------------------------------------------------
    def index_state(self) -> str:
        """``"fresh"``, ``"missing"`` or ``"stale"`` (``"missing"`` when there is no index)."""
        return "missing" if self.index is None else self.index.state()

    def build_index(self, progress: Callable[[float], None] | None = None) -> None:
        """Build (or rebuild) the index; ``progress(fraction)`` is called as it goes."""
        if self.index is None:
            raise EngineError("index", "index: this engine has no index storage; pass index=")
        self.index.build(progress)

    def _usable_index(self) -> tuple[CodeIndex, dict] | None:
        """The index and its manifest when fresh, else None (never builds)."""
        if self.index is None:
            return None
        manifest = self.index.fresh()
        return None if manifest is None else (self.index, manifest)

    def _indexed(self, run: Callable, fallback: Callable):
        """``run(index, manifest)`` on a fresh index, else ``fallback()``. A block that fails
        its checksum marks the index stale and the answer comes from ``fallback()``."""
        usable = self._usable_index()
        if usable is None:
            return fallback()
        try:
            return run(*usable)
        except IndexCorrupt as err:
            self.index.storage.invalidate(str(err))
            return fallback()
        except OSError:  # a rebuild replaced the files between the look-up and the read
            return fallback()

    # --- queries -----------------------------------------------------------------
    def _sequence(self, t: int) -> tuple[int, int]:
        """``(first, last)`` step of the sequence containing step ``t``."""
        i = int(np.searchsorted(self.offsets, t, side="right")) - 1
        return int(self.offsets[i]), int(self.offsets[i + 1]) - 1

    def select(self, query: SelectQuery) -> np.ndarray:
        """``int64[k]`` sorted ids of the cells on over ``start .. end`` and off on the padding."""
        first, last = query.check_source(self.T, self.offsets)
        lo, hi = max(first, query.start - query.pad_left), min(last, query.end + query.pad_right)
        on = scan.s2_mask(self.source, query.threshold, lo, query.start, query.end, hi,
                          self.chunk)
        return np.flatnonzero(on).astype(np.int64)

    def _sweep(self, query: MatchQuery, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Run the candidate sweep over the whole source (index when fresh, else scan); per
        segment the candidates of the tiers needed for ``limit`` and the tier histogram."""
        query.check_source(self.D)
        cells, threshold = query.cell_ids, query.threshold

        def sweep(blocks_of) -> list[tuple[np.ndarray, np.ndarray]]:
            def segment(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
                start, stop = bounds
                offsets = self.offsets[(self.offsets >= start) & (self.offsets <= stop)]
                found = new_sweep(cells.size, offsets, query.pad_left, query.pad_right,
                                  query.min_len, query.max_len, query.min_overlap, limit)
                for lo, masks in blocks_of(start, stop):
                    found.feed(lo, masks)
                return found.finish()

            segments = self._segments()
            if len(segments) == 1:
                return [segment(segments[0])]
            # the kernels release the GIL: sequences are independent, so split at one
            with ThreadPoolExecutor(len(segments)) as pool:
                return list(pool.map(segment, segments))

        return self._indexed(
            lambda index, manifest: sweep(
                lambda a, b: index.mask_blocks(manifest, cells, threshold, a, b)),
            lambda: sweep(
                lambda a, b: scan.mask_blocks(self.source, cells, threshold, self.chunk, a, b)))

    def match(self, query: MatchQuery) -> MatchResult:
        """The first ``query.limit`` matches in rank order, and how many candidates there are."""
        parts = self._sweep(query, query.limit)
        a, b, k, total = top_tiers(parts, query.limit, query.min_overlap)
        return self._rank(a, b, k, total, query)

    def candidates(self, query: MatchQuery) -> Candidates:
        """Every candidate of ``query`` (DESIGN.md's definition, the same sweep as
        :meth:`match`; ``limit`` is ignored), as ``int64`` arrays sorted by start then end:
        ``start``, ``end`` (inclusive) and ``overlap`` (``|I|``). Unranked: ``|S2|`` is not
        computed. For summaries over all candidates (lengths, phrases, meta enrichment).
        Memory: 24 bytes per candidate (at most a few per step)."""
        return self.match_and_candidates(query, rank=False)[1]

    def match_and_candidates(self, query: MatchQuery, rank: bool = True
                             ) -> tuple[MatchResult | None, Candidates]:
        """:meth:`match` (None unless ``rank``) and :meth:`candidates` from one sweep: every
        tier is kept, the match ranks the tiers it needs of them (a summary beside a match
        no longer sweeps twice)."""
        everything = np.iinfo(np.int64).max
        parts = self._sweep(query, everything)
        result = self._rank(*top_tiers(parts, query.limit, query.min_overlap), query) \
            if rank else None
        a, b, k, _ = top_tiers(parts, everything, query.min_overlap)
        # pairs.py writes each segment's rows by start, then end, and the segments in order
        later = (a[1:] > a[:-1]) | (a[1:] == a[:-1]) & (b[1:] > b[:-1])
        if not later.all():
            order = np.lexsort((b, a))
            a, b, k = a[order], b[order], k[order]
        return result, Candidates(start=np.ascontiguousarray(a), end=np.ascontiguousarray(b),
                                  overlap=np.ascontiguousarray(k))

    def align(self, query: MatchQuery, matches: list[Match], left: int, right: int,
              window_max: int = 400) -> list[MatchWindow]:
        """The window of each match, ``start - left .. end + right`` cut to its sequence and
        to ``window_max`` steps after its start, with the on-count of ``query.cells`` at each
        step (each window's rows are read once)."""
        left, right = check_int("left", left, 0), check_int("right", right, 0)
        bounds = []
        for m in matches:
            first, last = self._sequence(m.start)
            bounds.append((max(first, m.start - left), min(last, m.end + right,
                                                           m.start + window_max)))
        # after a match over these cells the index's row cache holds their checked on-bits
        usable = self._usable_index()
        counts = None if usable is None or not matches else usable[0].cached_on_counts(
            usable[1], query.cell_ids, query.threshold, bounds)
        if counts is None:
            def window(ab: tuple[int, int]) -> np.ndarray:
                return scan.on_count(self.source, query.cell_ids, query.threshold, *ab,
                                     self.chunk)

            # the windows lie scattered over the source: read them concurrently (cold disk)
            counts = list(scan.IO.map(window, bounds)) if len(bounds) > 1 else [
                window(ab) for ab in bounds]
        return [MatchWindow(match=m, window_start=a, window_end=b, on_count=c)
                for m, (a, b), c in zip(matches, bounds, counts, strict=True)]

    def _segments(self) -> list[tuple[int, int]]:
        """Up to ``threads`` ranges of whole sequences of about equal length."""
        parts = max(1, min(self.threads, self.offsets.size - 1))
        near = np.searchsorted(self.offsets, np.arange(1, parts) * self.T / parts)
        cuts = np.unique(self.offsets[near])
        bounds = np.concatenate([[0], cuts[(cuts > 0) & (cuts < self.T)], [self.T]])
        return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))

    def _rank(self, a, b, k, total, query: MatchQuery) -> MatchResult:
        """Order the top-tier candidates by ``(-|I|, |S ∪ S2|, -length, start)``."""
        if total == 0:
            return MatchResult(matches=[], candidates=0)
        seq = np.searchsorted(self.offsets, a, side="right") - 1
        lo = np.maximum(self.offsets[seq], a - query.pad_left)
        hi = np.minimum(self.offsets[seq + 1] - 1, b + query.pad_right)
        bounded = self._bounded(query, a, b, k, lo, hi)
        if bounded is None:
            s2 = self.planes.count_s2(query.threshold, a, b, lo, hi)
        else:
            keep, s2 = bounded
            a, b, k = a[keep], b[keep], k[keep]
        union = len(query.cells) + s2 - k
        length = b - a + 1
        # the first two keys as one number (|I| <= D, |S u S2| <= 2D)
        order = smallest((-k.astype(np.int64) * (1 << 32) + union, -length, a), query.limit)
        matches = [
            Match(start=int(a[i]), end=int(b[i]), length=int(length[i]), overlap=int(k[i]),
                  union=int(union[i]), extra=int(s2[i] - k[i]))
            for i in order
        ]
        return MatchResult(matches=matches, candidates=total)

    def _bounded(self, query: MatchQuery, a, b, k, lo, hi
                 ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(keep, s2)``: the indices of the candidates that can be among the first
        ``query.limit`` and their exact ``|S2|``, found without every cell's bits; None:
        rank them all (few candidates, no fresh index, or no cell outside ``S``).

        ``Q`` (:data:`BOUND_CELLS` cells outside ``S``, the highest mean value first): the
        cells of ``Q`` in ``S2`` are cells of ``S2`` outside ``S``, so the first two keys
        ``key = -|I| * 2**32 + |S ∪ S2|`` are at least ``lb = -|I| * 2**32 + |S| + |S2 ∩ Q|``.
        With the rank's other keys, ``(lb, -length, start)`` is at most a candidate's rank
        ``(key, -length, start)``. The ``n`` best by that bound get their exact ``|S2|``
        (``n`` = :data:`BOUND_FIRST` times ``limit``, then 4 times more each round); the
        ``limit``-th best exact rank among them is at least as good as the answer's last,
        so once the ``n``-th bound ranks after it, every candidate not counted ranks after
        ``limit`` others and is left out. Exact: the answer is unchanged; on a tie of short
        candidates the ones counted are the long ones and the few short ones whose bound is
        low."""
        if a.size < max(BOUND_ROWS, 4 * query.limit) or len(query.cells) >= self.D:
            return None
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)  # as the warm-up compiled
        extra = self._indexed(lambda index, manifest: self._bound_counts(
            index, manifest, query, a, b, lo, hi), lambda: None)
        if extra is None:
            return None
        tier = -k.astype(np.int64) * (1 << 32)
        lb, neg_len = tier + len(query.cells) + extra, a - b - 1
        n = BOUND_FIRST * query.limit
        while True:  # the n best by the bound, counted exactly, until the rest can't reach
            first = smallest((lb, neg_len, a), n)
            s2 = self.planes.count_s2(query.threshold, a[first], b[first], lo[first], hi[first])
            exact = tier[first] + len(query.cells) + s2 - k[first]
            j = smallest((exact, neg_len[first], a[first]), query.limit)[-1]
            last = first[-1]
            if first.size == a.size or (lb[last], neg_len[last], a[last]) > (
                    exact[j], neg_len[first[j]], a[first[j]]):
                return first, s2
            n *= 4

    def _bound_counts(self, index: CodeIndex, manifest: dict, query: MatchQuery, a, b, lo,
                      hi) -> np.ndarray:
        """``|S2 ∩ Q|`` of each candidate (``Q``: see :meth:`_bounded`), from ``Q``'s on-bits
        read through the index on the engine's threads into one word per step."""
        cells = index.likely_on(manifest, query.cell_ids, BOUND_CELLS)
        buf = take_words(self.T)
        try:
            def segment(bounds: tuple[int, int]) -> None:
                for lo_, masks in index.mask_blocks(manifest, cells, query.threshold, *bounds):
                    buf[lo_ : lo_ + masks.shape[1]] = masks[0]

            segments = self._segments()
            with ThreadPoolExecutor(len(segments)) as pool:
                list(pool.map(segment, segments))
            return count_bits(buf.reshape(self.T, 1), a, b, lo, hi)
        finally:
            give_words(buf)

    def on_count(self, cells, threshold, start, end) -> np.ndarray:
        """``int32[end-start+1]``: how many of ``cells`` are on at each step of ``start .. end``."""
        cells = check_cells(cells, self.D)
        threshold = check_threshold(threshold)
        start, end = check_range(start, end, self.T)
        return scan.on_count(self.source, cells, threshold, start, end, self.chunk)

    def values(self, start, end, cells=None) -> np.ndarray:
        """Transformed ``float32[len(cells) or D, end-start+1]`` (cells x steps)."""
        start, end = check_range(start, end, self.T)
        cells = None if cells is None else check_cells(cells, self.D)
        return scan.values(self.source, start, end, cells, self.chunk)

    def cell_stats(self, cell, bins=50) -> CellStats:
        """Distribution of one cell's transformed values over the whole source.

        With a fresh index: from the cell's codes plus a few exact reads; else one scan.
        """
        cell = check_int("cell", cell)
        if not 0 <= cell < self.D:
            raise EngineError("cell", f"cell: {cell} is out of range; "
                              f"this source has {self.D} cells "
                              f"(0..{self.D - 1})")
        bins = check_int("bins", bins, 1)
        stats = self._indexed(lambda index, manifest: index.cell_stats(manifest, cell, bins),
                              lambda: None)
        if stats is not None:
            return stats
        column = scan.values(self.source, 0, self.T - 1, np.array([cell]), self.chunk)[0]
        return stats_of_column(cell, column, bins)
