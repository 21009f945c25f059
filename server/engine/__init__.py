"""Select, match and statistics over one source of states: numpy only.

Nothing here opens files through h5py or speaks HTTP; the store hands in a
:class:`StateSource` and the API turns results into JSON. The semantics are the
paragraph "Select and match: the exact semantics" of DESIGN.md, restated in
README.md ("How select and match work").

Public interface (the API layer and the CLI use only these names)::

    eng = SourceEngine(source, index=None)   # index: the store's IndexFiles (IndexStorage);
                                             # None, missing or stale: exact chunked scan
    eng.select(SelectQuery(start, end, threshold=0.3, pad_left=0, pad_right=0))
        -> int64[k] sorted cell ids
    q = MatchQuery(cells, threshold=0.3, pad_left=0, pad_right=0, min_overlap=1, min_len=1,
                   max_len=None, limit=50)
    eng.match(q) -> MatchResult(matches=[Match...], candidates=int)
    eng.candidates(q) -> Candidates(start, end, overlap: int64[n])  # all of them, unranked
    eng.match_and_candidates(q) -> (MatchResult, Candidates)  # both from one sweep
    eng.align(q, matches, left, right) -> [MatchWindow(match, window_start, window_end,
                                                       on_count int32[n])]
    eng.on_count(cells, threshold, start, end) -> int32[end-start+1]
    eng.values(start, end, cells=None) -> float32[len(cells) or D, end-start+1] (transformed)
    eng.cell_stats(cell, bins=50) -> CellStats
    eng.index_state() -> "fresh" | "missing" | "stale";  eng.build_index(progress=None)
    warm_up()  # compile (or load) every numba kernel before the first query

``start``/``end`` are inclusive step positions everywhere. Queries are checked when built
(:mod:`query`); invalid arguments raise :class:`EngineError` (a ``ValueError``) whose
message names the value and the fix; unsorted or repeated cell ids are normalised (sorted,
unique). The threshold must be finite (NaN and +-inf are refused).

Exactness (tests/server/engine checks all of it against a brute-force oracle):

- On-rule: ``on(t, c) := float64(v) >= float64(threshold)`` with ``v`` the float32 value
  after :func:`apply_transform`; NaN is never on (so it counts as off for padding).
  Thresholds outside the value range are fine.
- Steps outside the sequence that contains a range count as off: padding may hang over
  a sequence's start or end and is then satisfied; a match never crosses a boundary.
- Every candidate of DESIGN.md is enumerated over the whole source (no step window, no
  cap on the pool, length 1 and border matches included) by one sweep over time
  (sweep.py explains how maximality reduces to per-cell on-runs); ``candidates`` counts
  them all. ``|S2|`` needs every cell, so it is computed for the ``|I|`` tiers needed to
  fill ``limit`` only, the tier the limit cuts included in full (exact ranking). A cut
  tier of very many candidates (a small, common cell set) reads their rows in
  contiguous groups: correct, and the slow case (about one scan of the rows involved).
- The index (index.py) is derived data owned by the store: uint16 codes per cell,
  monotone in the value, with the steps whose code equals the threshold's code checked
  exactly, every block checksummed; results are identical with and without it, and a
  stale, missing or corrupt index is never used.
- Match splits the work at sequence boundaries over two threads (the numba kernels
  release the GIL); memory stays ``O(|S| x block)`` whatever ``T`` is.
"""
from .engine import SourceEngine
from .errors import EngineError, IndexCorrupt
from .query import MatchQuery, SelectQuery
from .results import Candidates, CellStats, Match, MatchResult, MatchWindow
from .source import ArraySource, IndexStorage, StateSource, apply_transform
from .warmup import MemoryStorage, warm_up

__all__ = [
    "ArraySource",
    "Candidates",
    "CellStats",
    "EngineError",
    "IndexCorrupt",
    "IndexStorage",
    "Match",
    "MatchQuery",
    "MatchResult",
    "MatchWindow",
    "MemoryStorage",
    "SelectQuery",
    "SourceEngine",
    "StateSource",
    "apply_transform",
    "warm_up",
]
