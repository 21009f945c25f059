"""Operations of the cells-and-features analyses (correlation, a cell's top contexts, the
labels it detects best and its expected response to words, the match summary). Mixed into
:class:`Handlers`, whose ``dataset``/``source`` look-ups they use.

Answers are cached per parameters, the data set's load and the source's fingerprint (a
reloaded data set drops them). A cell's top contexts come from the match index's codes when
it is fresh (a few exact reads), else from the cell's column (one streamed read, kept); the
words of every cell come from one pass, kept.
The long parts (a correlation, a column read, a words pass) run as background jobs
(jobs.py): a request not answered within the jobs' wait gets 202 and asks again.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..engine import ArraySource, IndexCorrupt, apply_transform
from ..engine import features as corr
from ..engine import summary as msum
from ..engine.contexts import top_windows, top_windows_from_codes
from ..engine.detectors import label_detectors
from ..engine.response import response_matrix, top_words
from ..engine.scan import chunks
from ..engine.scan import values as column_values
from ..store import Dataset
from ..store.patterns import vocabulary_matches
from .cache import ResultCache
from .errors import ApiError
from .jobs import Running
from .payloads import json_response

FEATURE_PREFIXES = ("meta:", "regex:", "words:")
COLUMNS_KEPT = 4  # whole cell columns kept (20 MB each at T = 5M)
WORDS_ALL_CELLS = 1 << 22  # words x cells up to which one pass answers every cell's words
EXACT_VALUES = 1 << 22  # values per scattered read when checking index codes exactly
LABELS_KEPT = 200  # a cell's best labels kept (the operation's largest limit)


class FeatureOps:
    """Handlers for correlation, cells/{cell}/top, /labels and /words."""

    def _init_features(self) -> None:
        """Called once by Handlers.__init__: answers, whole cell columns, a data set's
        distinct token ids."""
        self.feature_results = ResultCache(32)
        self.feature_columns = ResultCache(COLUMNS_KEPT)
        self.feature_token_ids = ResultCache(8)

    # --- correlation ---------------------------------------------------------------------
    def getCorrelation(self, dataset: str, source: str, feature: str, method: str = "pearson",
                       limit: int = 50):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        if feature.startswith("regex:"):
            self.check_regex(ds)  # the same switch as /search?regex=true
        key = ("correlation", ds.id, self.load(ds), src.fingerprint, feature, method)
        # the feature is built inside: a cached answer reads no track and runs no pattern
        scores = self.background(self.feature_results, key, lambda progress: (
            corr.correlate(src, *_feature_args(ds, feature, method), progress=progress)),
            label=("correlation", ds.id, src.id, feature, method))
        if isinstance(scores, Running):
            return scores.response()
        cells = [
            {"cell": int(c), "score": _num(scores.scores[c]), "p": _num(scores.p[c]),
             "n": int(scores.n[c])}
            for c in scores.ranking()[:limit]
        ]
        return json_response({"dataset": ds.id, "source": src.id, "feature": feature,
                              "method": method, "n": scores.steps, "cells": cells})

    # --- one cell ------------------------------------------------------------------------
    @staticmethod
    def _column_bounds(src, cell: int) -> None:
        D = src.shape[1]
        if not 0 <= cell < D:
            raise ApiError(400, f"cell {cell} is out of range; source {src.id} has {D} cells "
                           f"(0..{D - 1})")

    def _column(self, ds: Dataset, src, cell: int, progress=None, background: bool = False):
        """Transformed ``float32[T]`` of one cell (one streamed read of the source, kept);
        ``background``: read by a job, a :class:`Running` when not done within its wait."""
        self._column_bounds(src, cell)
        key = ("column", ds.id, self.load(ds), src.fingerprint, cell)
        cache = self.feature_columns
        if background:
            return self.background(cache, key, lambda p: _read_column(src, cell, p),
                                   label=("column", ds.id, src.id, cell))
        return cache.get(key, lambda: _read_column(src, cell, progress))

    def getCellTop(self, dataset: str, cell: int, source: str, limit: int = 20, left: int = 10,
                   right: int = 10):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        windows = self._top_from_index(ds, src, cell, limit, left, right)
        if windows is None:  # no fresh index (or a flat cell): the whole column, read once
            column = self._column(ds, src, cell, background=True)
            if isinstance(column, Running):
                return column.response()
            windows = top_windows(column, ds.sequence_offsets, limit, left, right)

            def values(w):
                return column[w.start : w.end + 1]
        else:
            def values(w):
                return self.engine(ds, src).values(w.start, w.end, [cell])[0]

        return json_response({
            "dataset": ds.id, "source": src.id, "cell": cell,
            "windows": [
                {"pos": w.pos, "value": w.value, "start": w.start, "end": w.end,
                 "tokens": ds.token_text(w.start, w.end), "values": values(w)}
                for w in windows
            ],
        })

    def _top_from_index(self, ds: Dataset, src, cell: int, limit: int, left: int, right: int):
        """The top windows from the cell's index codes plus a few exact reads, when the
        match index is fresh; None otherwise (the answer is the same either way)."""
        self._column_bounds(src, cell)
        D = src.shape[1]
        index = self.engine(ds, src).index
        manifest = index.fresh() if index is not None else None
        if manifest is None:
            return None
        batch = max(1, EXACT_VALUES // D)

        def exact(steps: np.ndarray) -> np.ndarray:
            parts = [np.asarray(src.read_steps(steps[i : i + batch]))[:, cell]
                     for i in range(0, steps.size, batch)]
            raw = np.concatenate(parts) if parts else np.empty(0, np.float32)
            return apply_transform(raw, src.transform)

        try:
            codes = index.read_codes(manifest, cell)
        except IndexCorrupt:
            return None  # the workspace rebuilds it; meanwhile the column answers
        return top_windows_from_codes(codes, exact, ds.sequence_offsets, limit, left, right)

    def getCellLabels(self, dataset: str, cell: int, source: str, limit: int = 10):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        self._column_bounds(src, cell)

        def compute(progress):
            column = self._column(ds, src, cell, lambda f: progress(0.8 * f))
            tracks = {
                name: (track.window(0, ds.length - 1)["values"], track.labels)
                for name, track in ds.meta.items() if track.kind == "categorical"
            }
            return label_detectors(column, tracks, LABELS_KEPT)

        got = self.background(self.feature_results,
                              ("labels", ds.id, self.load(ds), src.fingerprint, cell), compute,
                              label=("labels", ds.id, src.id, cell))
        if isinstance(got, Running):
            return got.response()
        return json_response({"dataset": ds.id, "source": src.id, "cell": cell,
                              "labels": [asdict(d) for d in got[:limit]]})

    def getCellWords(self, dataset: str, cell: int, source: str, limit: int = 20,
                     min_count: int = 5):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        self._column_bounds(src, cell)
        # the distinct token ids, once per load of the data set (a pass over T tokens)
        ids = self.feature_token_ids.get(
            ("token_ids", ds.id, self.load(ds)), lambda: np.unique(ds.tokens).astype(np.int64))
        if ids.size * src.shape[1] <= WORDS_ALL_CELLS:
            # one pass for every cell at once: the next cell's words cost a dictionary hit
            key = ("words-all", ds.id, self.load(ds), src.fingerprint)
            r = self.background(self.feature_results, key, lambda progress: (
                response_matrix(src, ds.tokens, ds.sequence_offsets, ids, progress=progress)),
                label=("words-all", ds.id, src.id))
            if isinstance(r, Running):
                return r.response()
            mean, counts = r.mean()[:, cell], r.counts[:, cell]
        else:  # a large vocabulary: this cell alone, from its column

            def compute(progress):
                # the column read is most of the work: its first 90 %
                column = self._column(ds, src, cell, lambda f: progress(0.9 * f))
                # the column is already transformed: a one-cell source with transform none
                one = ArraySource(column[:, None], ds.sequence_offsets, "none", fingerprint="c")
                r = response_matrix(one, ds.tokens, ds.sequence_offsets, ids)
                return r.mean()[:, 0], r.counts[:, 0]

            got = self.background(self.feature_results,
                                  ("words", ds.id, self.load(ds), src.fingerprint, cell), compute,
                                  label=("words", ds.id, src.id, cell))
            if isinstance(got, Running):
                return got.response()
            mean, counts = got
        positive, negative = top_words(mean, counts, ids, limit, min_count)

        def rows(found):
            return [{"word": ds.vocab_array[w], "response": r, "count": n} for w, r, n in found]

        return json_response({"dataset": ds.id, "source": src.id, "cell": cell,
                              "min_count": min_count, "positive": rows(positive),
                              "negative": rows(negative)})

    # --- match summary (called by matchCells) --------------------------------------------
    def match_summary(self, ds: Dataset, found, names: list[str]) -> dict:
        """The ``summary`` of a match over ALL its candidates ``found`` (from
        ``engine.match_and_candidates``: the same sweep as the match, every tier kept)."""
        starts, ends = found.start, found.end
        meta = {}
        cover = msum.coverage(ds.length, starts, ends) if names else None
        for name in names:
            track = ds.meta[name]
            if track.kind == "categorical":
                ids = track.window(0, ds.length - 1)["values"]
                meta[name] = msum.categorical_enrichment(ids, track.labels, cover)
            elif track.kind == "scalar":
                values = track.window(0, ds.length - 1)["values"]
                meta[name] = msum.scalar_enrichment(values, cover)
        return {
            "lengths": msum.lengths(starts, ends),
            "phrases": msum.phrases(ds.tokens, ds.vocab_array, starts, ends),
            "meta": meta,
        }


def _read_column(src, cell: int, progress=None) -> np.ndarray:
    """Transformed ``float32[T]`` of one cell, read in chunks of steps (``progress(fraction)``
    after each)."""
    T = int(src.shape[0])
    out = np.empty(T, np.float32)
    step = max(1 << 16, -(-T // 50))  # about 50 progress reports, each a few full reads
    for lo, hi in chunks(0, T, step):
        out[lo:hi] = column_values(src, lo, hi - 1, np.array([cell]))[0]
        if progress is not None:
            progress(hi / max(T, 1))
    return out


def _feature_args(ds: Dataset, feature: str, method: str) -> tuple[np.ndarray, str, bool]:
    values, categorical = feature_values(ds, feature, method)
    return values, method, categorical


def feature_values(ds: Dataset, feature: str, method: str) -> tuple[np.ndarray, bool]:
    """``(float64[T], categorical)`` of a feature string (see openapi.yaml, `feature`)."""
    kind, _, rest = feature.partition(":")
    if not rest or f"{kind}:" not in FEATURE_PREFIXES:
        raise ApiError(400, f"feature {feature!r} is not understood; write meta:TRACK, "
                       "meta:TRACK=LABEL, regex:PATTERN or words:w1,w2")
    if kind == "meta":
        return _meta_feature(ds, feature, rest, method)
    if kind == "regex":
        matches = vocabulary_matches(ds.vocab, rest, param="feature")
        return matches[ds.tokens].astype(np.float64), False
    words = [w.strip() for w in rest.split(",") if w.strip()]
    lowered = {}
    for i, v in enumerate(ds.vocab):
        if v is not None:
            lowered.setdefault(v.lower(), []).append(i)
    unknown = [w for w in words if w.lower() not in lowered]
    if not words or unknown:
        raise ApiError(400, f"feature {feature!r}: "
                       + (f"{unknown[0]!r} is not a token of data set {ds.id!r}" if unknown
                          else "no words given") + "; list known tokens, e.g. words:the,a")
    ids = np.concatenate([lowered[w.lower()] for w in words])
    return np.isin(ds.tokens, ids).astype(np.float64), False


def _meta_feature(ds: Dataset, feature: str, rest: str, method: str):
    name, has_label, label = rest.partition("=")
    track = ds.meta.get(name)
    if track is None:
        raise ApiError(400, f"feature {feature!r}: {name!r} is not a meta track of data set "
                       f"{ds.id!r}; it has {', '.join(ds.meta) or 'none'}")
    if track.kind == "topk":
        raise ApiError(400, f"feature {feature!r}: {name!r} is a top-K track; use a "
                       "categorical or scalar track")
    values = track.window(0, ds.length - 1)["values"]
    if track.kind == "scalar":
        if has_label:
            raise ApiError(400, f"feature {feature!r}: {name!r} is a scalar track without "
                           f"labels; write meta:{name}")
        return np.asarray(values, np.float64), False
    if has_label:
        labels = track.labels
        if label not in labels:
            shown = ", ".join(labels[:12]) + (" ..." if len(labels) > 12 else "")
            raise ApiError(400, f"feature {feature!r}: {label!r} is not a label of track "
                           f"{name!r}; it has {shown}")
        return (values == labels.index(label)).astype(np.float64), False
    if method != "mi":
        raise ApiError(400, f"feature {feature!r}: {name!r} is categorical, so {method} needs "
                       f"one label (meta:{name}=LABEL); or use method=mi over all labels")
    return np.asarray(values, np.float64), True


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
