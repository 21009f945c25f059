"""Projections of hidden states to 2-D: PCA, ISOMAP, t-SNE and (optionally) UMAP.

Which states (``points``), exactly:

- ``sequence_end``: the last step of each sequence. The sequences are put in the order of
  ``numpy.random.default_rng(seed).permutation(N)`` and the first ``min(n, N)`` are kept, in
  that order.
- ``steps``: ``numpy.random.default_rng(seed).choice(T, size=min(n, T), replace=False)``,
  sorted ascending.

Values are the source's transformed states (what every view shows). A non-finite value
(NaN, or +-inf of an untransformed source) is replaced by 0 so that one broken step cannot
turn a whole projection into NaN; ``nonfinite`` counts them.

PCA is exact linear algebra in numpy: the centred points ``Xc`` (k x D) have the singular
values and vectors of their smaller Gram matrix (``Xc Xc^T`` or ``Xc^T Xc``, numpy's ``eigh``,
the ``covariance_eigh`` route of scikit-learn's PCA), about 3x less work than a full SVD of a
500 x 650 matrix for the two axes needed. ``explained`` is the share of the total variance on
each of the two axes, and the axes' signs are fixed so that each axis's largest loading is
positive (the same rule as scikit-learn's ``svd_flip``), so a projection is reproducible.

All methods run with one BLAS/OpenMP thread: on a shared machine, OpenBLAS's two threads made a
500 x 650 SVD ten times slower (2.5 s against 0.26 s at a load of 12 on 2 cores).
PCA also returns its ``mean`` and ``axes``, so one more state (the user's own text) can be
placed on the same plot: ``(h - mean) @ axes.T``. ISOMAP and t-SNE come from scikit-learn,
UMAP from the optional ``umap-learn`` package; their maps have no such formula.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .errors import EngineError
from .source import StateSource, apply_transform

METHODS = ("pca", "isomap", "tsne", "umap")
POINTS = ("sequence_end", "steps")
UMAP_HINT = "pip install 'hiddenscope[umap]'"
ISOMAP_NEIGHBORS = 10
TSNE_PERPLEXITY = 30.0
TSNE_ITERATIONS = 500  # 250 of them with early exaggeration; half scikit-learn's default


class MissingExtra(RuntimeError):
    """A method needs an optional package that is not installed; the message says how to add it."""


@dataclass(frozen=True)
class Projection:
    """2-D coordinates of sampled states.

    Attributes:
        method: one of :data:`METHODS`.
        steps: ``int64[k]`` step of each point; ``seq``: ``int64[k]`` its sequence.
        xy: ``float64[k, 2]`` coordinates.
        explained: ``float64[2]`` variance ratio per axis (PCA), else None.
        mean: ``float64[D]`` and ``axes``: ``float64[2, D]`` of PCA, else None.
        nonfinite: how many values were not finite and counted as 0.
    """

    method: str
    steps: np.ndarray
    seq: np.ndarray
    xy: np.ndarray
    explained: np.ndarray | None
    mean: np.ndarray | None
    axes: np.ndarray | None
    nonfinite: int


def sample_steps(offsets: np.ndarray, points: str, n: int, seed: int) -> np.ndarray:
    """``int64[min(n, N or T)]`` the steps to project (module docstring: the exact rule)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    if points not in POINTS:
        raise EngineError("points", f"points: {points!r} is not one of {', '.join(POINTS)}")
    if n < 1:
        raise EngineError("n", f"n: {n} is below 1; pass 1 or more")
    rng = np.random.default_rng(seed)
    if points == "sequence_end":
        order = rng.permutation(offsets.size - 1)[:n]
        return offsets[order + 1] - 1
    T = int(offsets[-1])
    return np.sort(rng.choice(T, size=min(n, T), replace=False)).astype(np.int64)


def read_points(source: StateSource, steps: np.ndarray) -> tuple[np.ndarray, int]:
    """Transformed ``float64[len(steps), D]`` at ``steps`` (any order) and the non-finite count."""
    uniq, back = np.unique(steps, return_inverse=True)
    # one small read per row: for a few hundred rows spread over the corpus this was 15-40x
    # faster than read_steps, which gathers through a map of the whole span they cover
    raw = np.stack([np.asarray(source.read_rows(int(t), int(t) + 1))[0] for t in uniq])
    values = apply_transform(raw, source.transform).astype(np.float64)[back]
    bad = ~np.isfinite(values)
    values[bad] = 0.0
    return values, int(bad.sum())


def pca(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PCA of ``X: float64[k, D]`` -> ``(xy [k, 2], explained [2], mean [D], axes [2, D])``.

    Fewer than two informative directions (k < 3, D < 2, constant data) leave zero axes.
    """
    k, D = X.shape
    mean = X.mean(axis=0)
    Xc = X - mean
    total = float(np.einsum("ij,ij->", Xc, Xc))  # the trace of either Gram matrix
    axes = np.zeros((2, D))
    xy = np.zeros((k, 2))
    explained = np.zeros(2)
    m = min(2, k, D)
    if m == 0 or total <= 0:
        return xy, explained, mean, axes
    if k <= D:  # eigenvectors of Xc Xc^T are the left singular vectors
        lam, U = np.linalg.eigh(Xc @ Xc.T)
        lam, U = np.clip(lam[::-1][:m], 0, None), U[:, ::-1][:, :m]
        S = np.sqrt(lam)
        with np.errstate(invalid="ignore", divide="ignore"):
            V = np.where(S > 0, (Xc.T @ U) / S, 0.0).T
    else:  # eigenvectors of Xc^T Xc are the right singular vectors
        lam, W = np.linalg.eigh(Xc.T @ Xc)
        lam, V = np.clip(lam[::-1][:m], 0, None), W[:, ::-1][:, :m].T
    # svd_flip: the largest loading of each axis is positive
    signs = np.sign(V[np.arange(m), np.argmax(np.abs(V), axis=1)])
    signs[signs == 0] = 1
    axes[:m] = V * signs[:, None]
    xy[:, :m] = Xc @ axes[:m].T
    explained[:m] = lam / total
    return xy, explained, mean, axes


def embed(X: np.ndarray, method: str, seed: int) -> np.ndarray:
    """``float64[k, 2]`` ISOMAP, t-SNE or UMAP coordinates of ``X: float64[k, D]``."""
    k, D = X.shape
    if k < 3:  # neighbourhood methods need a few points; place one or two on the x axis
        return np.column_stack([np.arange(k, dtype=np.float64), np.zeros(k)])
    if method in ("isomap", "tsne", "umap") and np.all(X == X[0]):
        return np.zeros((k, 2))  # one state sampled k times: every point at the origin
    if method == "isomap":
        from scipy.sparse import SparseEfficiencyWarning
        from sklearn.manifold import Isomap

        with warnings.catch_warnings():
            # a disconnected neighbour graph is joined by scikit-learn, which warns; the map
            # is still drawn (the sampled states form separate groups, which is the finding)
            warnings.filterwarnings("ignore", message=".*connected components.*")
            warnings.filterwarnings("ignore", category=SparseEfficiencyWarning)
            model = Isomap(n_neighbors=min(ISOMAP_NEIGHBORS, k - 1), n_components=2)
            return np.asarray(model.fit_transform(X), dtype=np.float64)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(TSNE_PERPLEXITY, (k - 1) / 3)
        # a PCA start needs two dimensions; one cell starts from random positions
        model = TSNE(n_components=2, perplexity=perplexity, init="pca" if D >= 2 else "random",
                     random_state=seed, max_iter=TSNE_ITERATIONS)
        return np.asarray(model.fit_transform(X), dtype=np.float64)
    if method == "umap":
        try:
            import umap  # optional extra
        except ImportError as exc:
            raise MissingExtra(
                f"method 'umap' needs the optional package umap-learn, which is not installed; "
                f"install it with `{UMAP_HINT}`, or use method pca, isomap or tsne"
            ) from exc
        model = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, k - 1))
        return np.asarray(model.fit_transform(X), dtype=np.float64)
    raise EngineError("method", f"method: {method!r} is not one of {', '.join(METHODS)}")


def project(source: StateSource, method: str, points: str = "sequence_end", n: int = 500,
            seed: int = 0) -> Projection:
    """Sample states of ``source`` and project them with ``method`` (module docstring)."""
    if method not in METHODS:
        raise EngineError("method", f"method: {method!r} is not one of {', '.join(METHODS)}")
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    steps = sample_steps(source.sequence_offsets, points, n, seed)
    seq = np.searchsorted(source.sequence_offsets, steps, side="right") - 1
    X, nonfinite = read_points(source, steps)
    with threadpool_limits(limits=1):  # module docstring: one thread on a shared machine
        if method == "pca":
            xy, explained, mean, axes = pca(X)
            return Projection(method, steps, seq, xy, explained, mean, axes, nonfinite)
        xy = embed(X, method, seed)
    return Projection(method, steps, seq, xy, None, None, None, nonfinite)
