"""Select, match and statistics over one source of states: numpy only.

Nothing here opens files through h5py or speaks HTTP; the store hands in a
:class:`StateSource` and the API turns results into JSON. The semantics are the
paragraph "Select and match: the exact semantics" of DESIGN.md, restated in
README.md ("How select and match work").

Public interface (the API layer and the CLI use only these names)::

    eng = SourceEngine(source, index_dir=None)   # index_dir None: exact chunked scan, no index
    eng.select(start, end, threshold, pad_left=0, pad_right=0) -> int64[k] sorted cell ids
    eng.match(cells, threshold, pad_left=0, pad_right=0, min_overlap=1, min_len=1,
              max_len=None, limit=50) -> MatchResult(matches=[Match...], candidates=int)
    eng.on_count(cells, threshold, start, end) -> int32[end-start+1]
    eng.values(start, end, cells=None) -> float32[len(cells) or D, end-start+1] (transformed)
    eng.cell_stats(cell, bins=50) -> CellStats
    eng.index_state() -> "fresh" | "missing" | "stale";  eng.build_index(progress=True)

``start``/``end`` are inclusive step positions everywhere. Invalid arguments raise
:class:`EngineError` (a ``ValueError``) whose message names the value and the fix.
"""
from .engine import SourceEngine
from .errors import EngineError
from .results import CellStats, Match, MatchResult
from .source import ArraySource, StateSource, apply_transform

__all__ = [
    "ArraySource",
    "CellStats",
    "EngineError",
    "Match",
    "MatchResult",
    "SourceEngine",
    "StateSource",
    "apply_transform",
]
