"""Co-clusters of cells and words (RNNVis): spectral co-clustering of the expected-response graph.

The input is the expected-response matrix ``R: float64[D, W]`` (response.py: the mean of
``h[t] - h[t-1]`` over the steps that read each word, ``h[-1] = 0`` at a sequence start;
:func:`expected_response` runs its pass in two parts of whole sequences at once).
Cells and words form a bipartite graph whose edge weights must be nonnegative, while a
response has a sign (a word may push a cell down as strongly as another pushes it up). The
affinity is therefore ``|R|``: a cell and a word are tied by how strongly the word moves the
cell, in either direction; the sign stays in ``response.values`` and in each link's
``strength``. A tiny floor (``1e-9`` of the largest ``|R|``) keeps every row and column
nonzero, which the normalisation ``D_r^-1/2 A D_c^-1/2`` needs.

scikit-learn's :class:`SpectralCoclustering` (Dhillon 2001, as RNNVis uses; exact singular
vectors by ARPACK, k-means with 10 starts) labels every row
and every column exactly once. Its k-means may leave a label without rows or without columns;
such an empty cluster is dropped (so fewer than ``k`` clusters may come back, never an empty
one), and the clusters are renumbered in label order. Cells within a cluster are sorted by
id, words by how often they are read (most first).

Links: for cell cluster ``i`` and word cluster ``j``, ``strength`` is the mean signed response
over the block ``R[cells_i, words_j]`` and ``weight`` its mean absolute response; every pair
is listed, heaviest first.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import EngineError
from .response import WordResponse, response_matrix
from .source import StateSource

_FLOOR = 1e-9


@dataclass(frozen=True)
class Coclusters:
    """Clusters of cells (row indices) and of words (column indices) and their links.

    Attributes:
        cell_clusters: list of ``int64[m]`` row indices of ``R`` per cell cluster.
        word_clusters: list of ``int64[m]`` column indices of ``R`` per word cluster.
        links: ``(i, j, strength, weight)`` per pair of clusters, by weight descending.
    """

    cell_clusters: list[np.ndarray]
    word_clusters: list[np.ndarray]
    links: list[tuple[int, int, float, float]]


def frequent_words(tokens: np.ndarray, vocab_size: int, words: int,
                   min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids int64[w], counts int64[w])``: the ``words`` most frequent token ids read at least
    ``min_count`` times, most frequent first (ties: lower id first)."""
    counts = np.bincount(np.asarray(tokens, dtype=np.int64), minlength=vocab_size)
    ids = np.flatnonzero(counts >= min_count)
    ids = ids[np.lexsort((ids, -counts[ids]))][:words]
    return ids.astype(np.int64), counts[ids].astype(np.int64)


class _Steps:
    """The steps ``lo .. hi-1`` of a :class:`StateSource`, itself a StateSource (a part of the
    corpus made of whole sequences)."""

    def __init__(self, source: StateSource, lo: int, hi: int, offsets: np.ndarray) -> None:
        self._source, self._lo = source, lo
        self.shape = (hi - lo, int(source.shape[1]))
        self.transform = source.transform
        self.sequence_offsets = offsets[(offsets >= lo) & (offsets <= hi)] - lo
        self.fingerprint = f"{source.fingerprint}[{lo}:{hi}]"

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        return self._source.read_rows(self._lo + start, self._lo + stop)

    def read_steps(self, steps: np.ndarray) -> np.ndarray:
        return self._source.read_steps(np.asarray(steps) + self._lo)


def expected_response(source: StateSource, tokens: np.ndarray, offsets: np.ndarray,
                      word_ids: np.ndarray, threads: int = 2,
                      progress: Callable[[float], None] | None = None) -> np.ndarray:
    """``float64[D, W]`` expected response of every cell to each of ``word_ids`` (response.py's
    :func:`response_matrix`, NaN where a word has no finite change), its one pass split at
    sequence boundaries into up to ``threads`` parts summed at the same time (its kernel and
    the transform release the GIL); a part starts at a sequence start, where ``h[-1] = 0``.
    ``progress``: called with the fraction of all steps done (0..1) after each chunk."""
    offsets = np.asarray(offsets, dtype=np.int64)
    T = int(offsets[-1])
    near = np.searchsorted(offsets, np.arange(1, max(1, threads)) * T / max(1, threads))
    cuts = np.unique(np.concatenate([[0], offsets[np.clip(near, 0, offsets.size - 1)], [T]]))
    parts = list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))
    done = [0.0] * len(parts)  # steps done per part (each written by its own thread)

    def part(i: int) -> WordResponse:
        lo, hi = parts[i]

        def report(fraction: float) -> None:
            done[i] = fraction * (hi - lo)
            if progress is not None:
                progress(sum(done) / max(T, 1))

        return response_matrix(_Steps(source, lo, hi, offsets), tokens[lo:hi],
                               offsets[(offsets >= lo) & (offsets <= hi)] - lo, word_ids,
                               progress=report)

    if len(parts) == 1:
        results = [part(0)]
    else:
        with ThreadPoolExecutor(len(parts)) as pool:
            results = list(pool.map(part, range(len(parts))))
    total = WordResponse(word_ids, results[0].cells, sum(r.sums for r in results),
                         sum(r.counts for r in results), sum(r.occurrences for r in results))
    return np.ascontiguousarray(total.mean().T)


def affinity(R: np.ndarray) -> np.ndarray:
    """The nonnegative bipartite affinity ``|R|`` with a floor of 1e-9 of its maximum (module
    docstring); an all-zero or non-finite-only matrix becomes all ones."""
    A = np.abs(np.nan_to_num(np.asarray(R, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    top = float(A.max()) if A.size else 0.0
    return A + (_FLOOR * top if top > 0 else 1.0)


def cocluster(R: np.ndarray, k: int, seed: int = 0, order: np.ndarray | None = None) -> Coclusters:
    """Co-cluster ``R: float64[D, W]`` into at most ``k`` cell and ``k`` word clusters.

    ``order``: ``int[W]`` rank of each column for sorting words inside a cluster (default:
    column order). Raises :class:`EngineError` when ``k`` exceeds the cells or the words.
    """
    from sklearn.cluster import SpectralCoclustering
    from sklearn.exceptions import ConvergenceWarning

    D, W = R.shape
    if k < 1:
        raise EngineError("k", f"k: {k} is below 1; pass 1 or more")
    if k > min(D, W):
        what = f"{W} words" if W < D else f"{D} cells"
        raise EngineError("k", f"k: {k} is more than the {what} there are to cluster; "
                          f"pass k <= {min(D, W)}" + (", or lower min_count" if W < D else ""))
    if k == 1:
        rows, cols = np.zeros(D, np.int64), np.zeros(W, np.int64)
    else:
        from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

        # ARPACK: the exact leading singular vectors (the default, randomized, approximates);
        # it needs more rows and columns than the vectors it computes (1 + ceil(log2 k) + 1),
        # and on matrices that small the randomized method spans the whole space anyway
        vectors = 2 + int(np.ceil(np.log2(k)))
        method = "arpack" if vectors < min(D, W) else "randomized"
        model = SpectralCoclustering(n_clusters=k, svd_method=method, random_state=seed)
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            # one thread: OpenBLAS's two threads on a shared machine were 4x slower here
            # k-means may find fewer distinct clusters than k (duplicate points); handled below
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            model.fit(affinity(R))
        rows, cols = model.row_labels_, model.column_labels_
    order = np.arange(W) if order is None else np.asarray(order)
    cell_clusters = [np.flatnonzero(rows == c) for c in range(k)]
    word_clusters = [_by_rank(np.flatnonzero(cols == c), order) for c in range(k)]
    cell_clusters = [c for c in cell_clusters if c.size]
    word_clusters = [w for w in word_clusters if w.size]
    return Coclusters(cell_clusters, word_clusters, links(R, cell_clusters, word_clusters))


def _by_rank(columns: np.ndarray, order: np.ndarray) -> np.ndarray:
    return columns[np.argsort(order[columns], kind="stable")].astype(np.int64)


def links(R: np.ndarray, cell_clusters: list[np.ndarray],
          word_clusters: list[np.ndarray]) -> list[tuple[int, int, float, float]]:
    """``(i, j, strength, weight)`` of every cluster pair, heaviest first (module docstring)."""
    out = []
    values = np.nan_to_num(np.asarray(R, dtype=np.float64), nan=0.0)
    for i, cells in enumerate(cell_clusters):
        rows = values[cells]
        for j, words in enumerate(word_clusters):
            block = rows[:, words]
            out.append((i, j, float(block.mean()), float(np.abs(block).mean())))
    out.sort(key=lambda link: (-link[3], link[0], link[1]))
    return out
