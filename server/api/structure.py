"""Operations of the structure views (projection, co-clusters, align of two sources).
Mixed into :class:`Handlers`, whose ``dataset`` and ``source`` look-ups they use.

Each answer is cached per parameters and per the source's fingerprint (a changed file is a
new key), so a view that is redrawn, or a link that is opened again, costs a dictionary hit.
Co-clusters and align run as background jobs (jobs.py): a request that is not answered
within the jobs' wait gets 202 with the percent done and asks again.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..engine.align import best_matches, correlate, token_difference
from ..engine.coclusters import cocluster, expected_response, frequent_words
from ..engine.projection import MissingExtra, project
from .cache import ResultCache
from .errors import ApiError
from .jobs import Jobs, Running
from .payloads import json_response

EMBED_MAX = 1000  # isomap / t-SNE / UMAP points per request (PCA: the spec's 5000)
TEXT_TOKENS = 16  # tokens of a point's text: the point's own and those just before it
class StructureOps:
    """Handlers for projection, coclusters and align."""

    def _init_structure(self) -> None:
        """Called once by Handlers.__init__: the answers' cache and the background jobs of
        the long analyses (one pool per app; tests set its ``wait``)."""
        self.structure_cache = ResultCache()
        self.jobs = Jobs()

    def background(self, cache: ResultCache, key: tuple, compute: Callable[[Callable], object],
                   label: tuple):
        """The answer of ``key``: from ``cache`` at once, else from a background job running
        ``compute(progress)`` (shared by identical requests; its answer goes into ``cache``);
        a :class:`Running` when it is not done within the jobs' wait. ``label``: what the 202
        answer shows of the job (data set id, source id, parameters; never a file path)."""
        missing = object()
        hit = cache.peek(key, missing)
        if hit is not missing:
            return hit
        return self.jobs.run(key, lambda progress: cache.get(key, lambda: compute(progress)),
                             label=label)

    # --- projection --------------------------------------------------------------------
    def getProjection(self, dataset: str, source: str, method: str = "pca",
                      points: str = "sequence_end", n: int = 500, seed: int = 0,
                      meta: list[str] | None = None):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        if method != "pca" and n > EMBED_MAX:
            raise ApiError(400, f"n {n} is over the bound for method {method!r}: at most "
                           f"{EMBED_MAX} points (pca takes up to 5000)")
        tracks = _point_tracks(ds, meta)
        key = ("projection", ds.id, self.load(ds), src.fingerprint, method, points, n, seed)
        try:
            proj = self.structure_cache.get(key, lambda: project(src, method, points, n, seed))
        except MissingExtra as exc:  # 400, not 5xx: the server is fine, this request is not
            raise ApiError(400, str(exc)) from exc
        steps = proj.steps
        body = {
            "dataset": ds.id,
            "source": src.id,
            "method": method,
            "sampling": points,
            "n": n,
            "seed": seed,
            "points": [
                {"x": float(x), "y": float(y), "seq": int(s), "pos": int(p), "text": _text(ds, p)}
                for (x, y), s, p in zip(proj.xy, proj.seq, steps, strict=True)
            ],
            "explained": proj.explained,
            "pca": None if proj.mean is None else {"mean": proj.mean, "axes": proj.axes},
            "nonfinite": proj.nonfinite,
            "meta": {name: _values_at(ds.meta[name], steps) for name in tracks},
            # every sequence-level track at each point's sequence (N values, so all of them)
            "sequence_meta": {name: t.values(proj.seq) for name, t in ds.sequence_meta.items()},
        }
        return json_response(body)

    # --- co-clusters -------------------------------------------------------------------
    def getCoclusters(self, dataset: str, source: str, k: int = 8, words: int = 200,
                      min_count: int = 5, seed: int = 0):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        key = ("coclusters", ds.id, self.load(ds), src.fingerprint, k, words, min_count, seed)
        body = self.background(self.structure_cache, key, lambda progress: self._coclusters(
            ds, src, k, words, min_count, seed, progress),
            label=("coclusters", ds.id, src.id, k, words, min_count, seed))
        return body.response() if isinstance(body, Running) else json_response(body)

    def _coclusters(self, ds, src, k: int, words: int, min_count: int, seed: int,
                    progress=None) -> dict:
        ids, counts = frequent_words(ds.tokens, len(ds.vocab), words, min_count)
        if ids.size == 0:
            raise ApiError(400, f"min_count {min_count}: no word of data set {ds.id!r} is read "
                           f"that often (the most frequent is read "
                           f"{int(np.bincount(ds.tokens).max())} times); lower min_count")
        key = ("response", ds.id, self.load(ds), src.fingerprint, words, min_count)
        R = self.structure_cache.get(
            key, lambda: expected_response(src, ds.tokens, ds.sequence_offsets, ids,
                                           progress=progress))
        cc = cocluster(R, k, seed)
        names = ds.vocab_array[ids]
        return {
            "dataset": ds.id,
            "source": src.id,
            "k": k,
            "words": words,
            "min_count": min_count,
            "seed": seed,
            "cell_clusters": cc.cell_clusters,
            "word_clusters": [names[w].tolist() for w in cc.word_clusters],
            "links": [{"cells": i, "words": j, "strength": s, "weight": w}
                      for i, j, s, w in cc.links],
            "response": {
                "cells": np.arange(R.shape[0]),
                "words": names.tolist(),
                "word_ids": ids,
                "counts": counts,
                "values": R,
            },
        }

    # --- align -------------------------------------------------------------------------
    def alignCells(self, dataset: str, source: str, cells: list[int], to_source: str,
                   to_dataset: str | None = None, limit: int = 3):
        ds = self.dataset(dataset)
        src = self.source(ds, source)
        other = ds if to_dataset is None else self.dataset(to_dataset)
        dst = self.source(other, to_source)
        chosen = _check_cells(cells, src)
        if other is not ds:
            diff = token_difference(ds.tokens, ds.vocab, other.tokens, other.vocab)
            if diff is not None:
                raise ApiError(400, f"to_dataset {other.id!r} is not over the same tokens as "
                               f"{ds.id!r}: {diff}; align needs two data sets built on the "
                               "same corpus")
        same = other is ds and dst is src
        key = ("align", ds.id, self.load(ds), src.fingerprint, other.id, self.load(other),
               dst.fingerprint, tuple(chosen.tolist()))
        r = self.background(self.structure_cache, key,
                            lambda progress: correlate(src, chosen, dst, progress=progress),
                            label=("align", ds.id, src.id, other.id, dst.id,
                                   ",".join(map(str, chosen.tolist()))))
        if isinstance(r, Running):
            return r.response()
        pairs = [
            {"cell": m.cell,
             "matches": [{"cell": int(c), "r": float(v)} for c, v in zip(m.cells, m.r,
                                                                         strict=True)]}
            for m in best_matches(r, chosen, limit, same_source=same)
        ]
        return json_response({"dataset": ds.id, "source": src.id, "to_dataset": other.id,
                              "to_source": dst.id, "limit": limit, "pairs": pairs})


def _check_cells(cells: list[int], src) -> np.ndarray:
    """The given cells as sorted, unique ``int64[k]``, each below the source's D."""
    D = src.shape[1]
    bad = [c for c in cells if not 0 <= c < D]
    if bad:
        raise ApiError(400, f"cells: {bad[0]} is out of range; source {src.id} has {D} cells "
                       f"(0..{D - 1})")
    return np.unique(np.asarray(cells, dtype=np.int64))


def _point_tracks(ds, meta: list[str] | None) -> list[str]:
    """The requested per-step tracks that can colour a point (categorical or scalar)."""
    names = list(dict.fromkeys(meta or []))
    for name in names:
        track = ds.meta.get(name)
        if track is None:
            raise ApiError(400, f"meta {name!r} is not a meta track of data set {ds.id!r}; it "
                           f"has {', '.join(ds.meta) or 'none'}")
        if track.kind not in ("categorical", "scalar"):
            raise ApiError(400, f"meta {name!r} is a {track.kind} track; points are coloured "
                           "by categorical or scalar tracks only")
    return names


def _values_at(track, steps: np.ndarray) -> dict:
    """The track's MetaValues at each of ``steps`` (one value per point, in point order)."""
    values = [track.window(int(t), int(t))["values"][0] for t in steps]
    if track.kind == "categorical":
        return {"kind": "categorical", "values": np.asarray(values, np.int64),
                "labels": track.labels}
    return {"kind": "scalar", "values": np.asarray(values, np.float64), "range": track.range}


def _text(ds, pos: int) -> str:
    """The text read up to and including step ``pos``: at most TEXT_TOKENS tokens of its
    sequence, '…' in front when cut."""
    first, _ = ds.sequence_bounds(int(pos))
    start = max(first, int(pos) - TEXT_TOKENS + 1)
    sep = "" if ds.char_level else " "
    return ("…" if start > first else "") + sep.join(ds.token_text(start, int(pos)))
