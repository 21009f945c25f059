"""The operations of openapi.yaml: look up, check, call the store or the engine, return JSON.

Connexion has already checked types and bounds against the spec; what depends on the data
(a position past T, a cell past D, an unknown track) is checked here and raised as
:class:`ApiError` naming the value.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from dataclasses import asdict

import numpy as np

from ..engine import MatchQuery, MatchWindow, SelectQuery, SourceEngine, warm_up
from ..engine.errors import check_cells
from ..engine.query import check_threshold
from ..store import Catalog, Dataset, H5StateSource, TokenSearch, Workspace
from .errors import ApiError, not_found
from .features import FeatureOps
from .live import LiveOps
from .payloads import dataset_summary, json_response, meta_values, sequence_starts, sequence_values
from .structure import StructureOps

MATCH_WINDOW_MAX = 400  # a match row shows at most this many steps after its start
HISTOGRAM_BINS = 50


class Handlers(FeatureOps, StructureOps, LiveOps):
    """Operation functions bound to one catalog; one SourceEngine per (data set, source).

    The analyses' operations live in their own modules (features.py, structure.py, live.py)
    as mixins, so each grows without making this file the place for everything.
    """

    def __init__(self, catalog: Catalog, regex_search: bool = False,
                 workspace: Workspace | None = None) -> None:
        self.catalog = catalog
        self.regex_default = regex_search
        # engines, their index files and builds belong to the store's workspace
        self.workspace = workspace or Workspace(catalog, SourceEngine, warm_up=warm_up)
        self._searches: dict[str, TokenSearch] = {}
        self._lock = threading.Lock()
        # a number per loaded Dataset object: cache keys carry it, so an answer computed from
        # one load (its vocab, tokens, tracks) is never served for the next
        self._loads: weakref.WeakKeyDictionary[Dataset, int] = weakref.WeakKeyDictionary()
        self._load_numbers = itertools.count(1)
        self._init_features()
        self._init_structure()
        self._init_live()

    def load(self, ds: Dataset) -> int:
        """This load of data set ``ds``: a number that a reload (a new Dataset) never reuses."""
        with self._lock:
            number = self._loads.get(ds)
            if number is None:
                number = self._loads[ds] = next(self._load_numbers)
            return number

    def forget(self, id: str) -> None:
        """Drop what was computed from data set ``id`` after the catalog replaced or removed
        it: its search text, cached answers, loaded models and engines."""
        with self._lock:
            self._searches.pop(id, None)
            for key in [k for k in self._live_models if k[0] == id]:
                self._live_models.pop(key, None)
        for cache in (self.feature_results, self.feature_columns, self.feature_token_ids,
                      self.structure_cache):
            cache.drop(id)
        self.workspace.forget(id)

    # --- look-ups ------------------------------------------------------------------
    def dataset(self, id: str) -> Dataset:
        """The loaded data set ``id``; loaded again first when its files changed (a data set
        whose folder is not valid now is a 503 until it is)."""
        entry = self.catalog.current(id)
        if entry is None:
            raise not_found("data set", id, sorted(self.catalog.entries))
        if entry.dataset is None:
            raise ApiError(
                503,
                f"data set {id!r} is unavailable: {entry.public_error}; it is served again "
                "as soon as its folder is valid (no restart needed)",
            )
        return entry.dataset

    def check_regex(self, ds: Dataset) -> None:
        """Regular expressions over a data set's text only where its config or the server
        allows them (a pattern can take long; see `etc.regex_search`)."""
        if not (ds.regex_search or self.regex_default):
            raise ApiError(
                400,
                f"regex search is off for data set {ds.id!r}; set `etc: {{regex_search: "
                "true}` in its config, or serve with --regex-search",
            )

    def source(self, ds: Dataset, id: str) -> H5StateSource:
        if id not in ds.sources:
            raise not_found(f"source of data set {ds.id!r}:", id, list(ds.sources))
        return ds.sources[id]

    def engine(self, ds: Dataset, source: H5StateSource) -> SourceEngine:
        """The workspace's engine of a source (it never builds an index inside a request)."""
        return self.workspace.engine(ds, source.id)

    # --- data sets -------------------------------------------------------------------
    def listDatasets(self):
        return json_response(
            {"datasets": [self._summary(e) for _, e in sorted(self.catalog.entries.items())]}
        )

    def getDataset(self, dataset: str):
        """Also for an unavailable data set: its summary carries the error to show."""
        if dataset not in self.catalog.entries:
            raise not_found("data set", dataset, sorted(self.catalog.entries))
        return json_response(self._summary(self.catalog.entries[dataset]))

    def _summary(self, entry) -> dict:
        """The data set summary with each source's match index state and build percent."""
        index = None if entry.dataset is None else self.workspace.index_status(entry.dataset)
        return dataset_summary(entry, index)

    # --- context -------------------------------------------------------------------
    def getContext(
        self,
        dataset: str,
        source: str,
        pos: int,
        left: int = 10,
        right: int = 40,
        cells: list[int] | None = None,
        threshold: float = 0.3,
        meta: list[str] | None = None,
    ):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        _step("pos", pos, ds)
        threshold = check_threshold(threshold)
        rows = _cells(cells, src) if cells is not None else None
        names = _meta_names(meta, ds)
        start, end = max(0, pos - left), min(ds.length - 1, pos + right)
        states, counts = self._window(ds, src, start, end, rows, threshold)
        return json_response(
            {
                "dataset": ds.id,
                "source": src.id,
                "pos": pos,
                "start": start,
                "end": end,
                "tokens": ds.token_text(start, end),
                "token_ids": ds.tokens[start : end + 1],
                "sequence_starts": sequence_starts(ds, start, end),
                "cells": rows if rows is not None else np.arange(src.shape[1]),
                "states": states,
                "threshold": threshold,
                "on_count": counts,
                "meta": meta_values(ds, names, start, end),
                "sequence_meta": sequence_values(ds, start, end),
            }
        )

    def _window(
        self,
        ds: Dataset,
        src: H5StateSource,
        start: int,
        end: int,
        cells: np.ndarray | None,
        threshold: float,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Transformed ``float32[cells, steps]`` and the per-step on-count of ``cells`` (None
        when ``cells`` is None: all cells, no count)."""
        engine = self.engine(ds, src)
        if cells is not None and cells.size == 0:
            return np.empty((0, end - start + 1), np.float32), np.zeros(end - start + 1, np.int32)
        states = engine.values(start, end, cells)
        counts = None if cells is None else engine.on_count(cells, threshold, start, end)
        return states, counts

    # --- select and match ------------------------------------------------------------
    def selectCells(
        self,
        dataset: str,
        source: str,
        start: int,
        end: int,
        threshold: float = 0.3,
        pad_left: int = 0,
        pad_right: int = 0,
    ):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        query = SelectQuery(start, end, threshold, pad_left, pad_right)  # checked once, there
        return json_response({"cells": self.engine(ds, src).select(query), **asdict(query)})

    def matchCells(
        self,
        dataset: str,
        source: str,
        cells: list[int],
        threshold: float = 0.3,
        pad_left: int = 0,
        pad_right: int = 0,
        min_overlap: int = 1,
        min_len: int = 1,
        max_len: int | None = None,
        limit: int = 50,
        left: int = 3,
        right: int = 20,
        meta: list[str] | None = None,
        summary: bool = False,
    ):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        query = MatchQuery(tuple(cells), threshold, pad_left, pad_right, min_overlap, min_len,
                           max_len, limit)  # checked once, there
        names = _meta_names(meta, ds)
        engine = self.engine(ds, src)
        if summary:  # one sweep for both
            result, found = engine.match_and_candidates(query)
        else:
            result, found = engine.match(query), None
        windows = engine.align(query, result.matches, left, right, MATCH_WINDOW_MAX)
        return json_response(
            {
                "matches": [_match_row(ds, w, names) for w in windows],
                "candidates": result.candidates,
                **asdict(query),
                **({"summary": self.match_summary(ds, found, names)} if summary else {}),
            }
        )

    # --- search and statistics -------------------------------------------------------
    def searchTokens(self, dataset: str, q: str, regex: bool = False, limit: int = 50):
        ds = self.dataset(dataset)
        if regex:
            self.check_regex(ds)
        with self._lock:  # one TokenSearch per data set: it caches the joined token text
            if ds.id not in self._searches:
                self._searches[ds.id] = TokenSearch(ds)
            search = self._searches[ds.id]
        hits, truncated = search.regex(q, limit) if regex else search.phrase(q, limit)
        return json_response(
            {"q": q, "regex": regex, "truncated": truncated, "results": [h.__dict__ for h in hits]}
        )

    def getCellStats(self, dataset: str, cell: int, source: str):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        st = self.engine(ds, src).cell_stats(cell, bins=HISTOGRAM_BINS)
        return json_response(
            {
                "source": src.id,
                "cell": cell,
                "min": st.min,
                "max": st.max,
                "mean": st.mean,
                "median": st.median,
                "nan": st.nan_count,
                "percentiles": {str(k): v for k, v in st.percentiles.items()},
                "histogram": {"edges": st.edges, "counts": st.counts},
            }
        )


# --- checks that depend on the data ---------------------------------------------------------
def _step(name: str, value: int, ds: Dataset) -> None:
    if value >= ds.length:
        raise ApiError(
            400,
            f"{name} {value} is out of range; data set {ds.id!r} has "
            f"{ds.length:,} steps (0..{ds.length - 1})",
        )


def _match_row(ds: Dataset, w: MatchWindow, names: list[str]) -> dict:
    """A match with its window's tokens, on-counts and meta values (MatchRow of the spec)."""
    a, b = w.window_start, w.window_end
    return {
        **asdict(w.match),
        "window_start": a,
        "window_end": b,
        "tokens": ds.token_text(a, b),
        "on_count": w.on_count,
        "meta": meta_values(ds, names, a, b),
        "sequence_meta": sequence_values(ds, w.match.start, w.match.end),
    }


def _cells(cells: list[int], src: H5StateSource) -> np.ndarray:
    """The given cells as sorted, unique ``int64[k]`` (the engine's check; empty is fine)."""
    return np.zeros(0, np.int64) if not cells else check_cells(cells, src.shape[1])


def _meta_names(meta: list[str] | None, ds: Dataset) -> list[str]:
    names = list(dict.fromkeys(meta or []))
    for name in names:
        if name not in ds.meta:
            raise ApiError(
                400,
                f"meta {name!r} is not a meta track of data set {ds.id!r}; "
                f"it has {', '.join(ds.meta) or 'none'}",
            )
    return names
