"""Which cells track a feature: Pearson, Spearman and mutual information of every cell's
values with a per-step feature (papers/000_…, the QA-LSTM visualiser's neuron ranking).

The feature is ``float64[T]``: a scalar track, a 0/1 indicator (a label, a regex or a word
list over tokens) or category ids (a categorical track, for ``mi`` only). A step whose
feature is NaN is left out for every cell; a step whose cell value is NaN (or ±inf) is left
out for that cell only, so each cell has its own ``n``. Cell values are those after the
source's transform.

- ``pearson``: one streamed pass of sums (shifted by the feature's mean and each cell's
  first finite value, so the one-pass variance does not cancel); two-sided p from the t
  distribution with ``n - 2`` degrees of freedom (as ``scipy.stats.pearsonr``).
- ``spearman``: Pearson of the average ranks (ties share the mean of their ranks, as
  ``scipy.stats.spearmanr``); the same t-based p-value as scipy.
- ``mi``: mutual information in bits between the feature's categories and the cell's value
  in 16 equal-frequency bins. With the cell's ``n`` used values sorted as ``s``, the edges are
  ``q_k = s[max(floor(k n / 16) - 1, 0)]`` (the last value of bin ``k-1``), ``k = 1..15``, and
  a value ``v`` falls in bin ``#{k : q_k < v}``: without ties each bin holds ``n/16`` values;
  equal values always share a bin (the lowest value is always in bin 0), so heavy ties make
  some bins larger and others empty. A scalar feature with more than 16 distinct values is
  binned the same way, once over all steps where it is finite; otherwise its distinct values
  are the categories. No p-value (None).

A cell (or a feature over that cell's steps) without variance gets score and p NaN; the
ranking puts those last. Spearman and mi need each cell's whole column: cells are taken in
blocks of at most ``BLOCK_VALUES`` values, one streamed read of the source per block, or, for
a large source, one read that spills every column to a temporary cell-major file.
"""
from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np
from scipy import stats as sps

from .ranks import binned_joint, rank_sums
from .scan import chunks, read_values
from .source import StateSource

METHODS = ("pearson", "spearman", "mi")
MI_BINS = 16
CHUNK_VALUES = 1 << 22  # values per read in the streamed passes (16 MB float32)
BLOCK_VALUES = 1 << 26  # values of whole columns held at once for spearman / mi (256 MB)
MAX_PASSES = 2  # more blocks than this: spill the columns to a temporary cell-major file


@dataclass(frozen=True)
class CellScores:
    """Scores of every cell of a source with one feature.

    ``scores``/``p``: ``float64[D]`` (NaN: no variance, or no p for mi); ``n``: ``int64[D]``
    steps used per cell; ``steps``: steps with a finite feature (the response's ``n``).
    """

    method: str
    scores: np.ndarray
    p: np.ndarray
    n: np.ndarray
    steps: int

    def ranking(self) -> np.ndarray:
        """``int64[D]`` cells by |score| descending (ties: lower cell), no-variance cells last."""
        key = np.where(np.isnan(self.scores), -1.0, np.abs(self.scores))
        return np.lexsort((np.arange(key.size), -key)).astype(np.int64)


def correlate(source: StateSource, feature: np.ndarray, method: str, categorical: bool = False,
              threads: int = 2, progress: Callable[[float], None] | None = None) -> CellScores:
    """Score every cell of ``source`` against ``feature: float64[T]`` (NaN = step left out).

    ``categorical``: the feature holds category ids (only ``mi`` accepts that).
    ``progress``: called with the fraction done (0..1) after each chunk read and each block
    of cells scored (the answer does not depend on it).
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: use one of {', '.join(METHODS)}")
    T = int(source.shape[0])
    feature = np.asarray(feature, dtype=np.float64)
    if feature.shape != (T,):
        raise ValueError(f"feature has shape {feature.shape}; the source has {T} steps")
    used = np.isfinite(feature)
    steps = np.flatnonzero(used)
    report = progress or _no_progress
    if method == "pearson":
        scores, p, n = _pearson(source, feature, used, report)
    else:
        scores, p, n = _by_columns(source, feature, steps, method, categorical, threads, report)
    return CellScores(method, scores, p, n, int(steps.size))


# --- pearson: one pass of sums ------------------------------------------------------------
@nb.njit(cache=True, nogil=True)
def _pearson_sums(x, f, shift, acc, lo, hi):
    """Add one chunk to the per-cell sums. ``x: float32[n, D]`` (used rows only), ``f:
    float64[n]`` (shifted feature), ``shift: float64[D]``; ``acc: float64[6, D]`` holds
    (n, sum f, sum f^2, sum x, sum x^2, sum x f) of the finite pairs; ``lo``/``hi`` min/max."""
    n, D = x.shape
    for i in range(n):
        fi = f[i]
        for c in range(D):
            v = np.float64(x[i, c])
            if not np.isfinite(v):
                continue
            if v < lo[c]:
                lo[c] = v
            if v > hi[c]:
                hi[c] = v
            v -= shift[c]
            acc[0, c] += 1.0
            acc[1, c] += fi
            acc[2, c] += fi * fi
            acc[3, c] += v
            acc[4, c] += v * v
            acc[5, c] += v * fi


def _no_progress(fraction: float) -> None:
    pass


def _pearson(source: StateSource, feature: np.ndarray, used: np.ndarray, progress):
    T, D = (int(x) for x in source.shape)
    fshift = float(feature[used].mean()) if used.any() else 0.0
    shift = None
    acc = np.zeros((6, D))
    lo_x, hi_x = np.full(D, np.inf), np.full(D, -np.inf)
    for lo, hi in chunks(0, T, max(1, CHUNK_VALUES // max(D, 1))):
        rows = used[lo:hi]
        if not rows.any():
            continue
        x = read_values(source, lo, hi)
        x = np.ascontiguousarray(x if rows.all() else x[rows])
        if shift is None:  # each cell's first finite value, so the one-pass sums do not cancel
            finite = np.isfinite(x)
            shift = np.where(finite.any(0), x[finite.argmax(0), np.arange(D)], 0.0)
            shift = np.where(np.isfinite(shift), shift, 0.0).astype(np.float64)
        _pearson_sums(x, feature[lo:hi][rows] - fshift, shift, acc, lo_x, hi_x)
        progress(hi / max(T, 1))
    n, sf, sff, sx, sxx, sxf = acc
    with np.errstate(invalid="ignore", divide="ignore"):
        vf = n * sff - sf**2
        r = np.clip((n * sxf - sx * sf) / np.sqrt((n * sxx - sx**2) * vf), -1.0, 1.0)
    # no variance: a constant cell (exactly, from min/max), or a constant feature over the
    # cell's steps (relative to its scale, since the one-pass sums round)
    flat = (n < 2) | (hi_x <= lo_x) | (vf <= 1e-12 * np.maximum(sff * n, 1e-300)) | ~np.isfinite(r)
    r[flat] = np.nan
    n = n.astype(np.int64)
    return r, _t_pvalue(r, n), n


def _t_pvalue(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p of a correlation ``r`` over ``n`` pairs (t with n-2 dof, as scipy)."""
    p = np.full(r.shape, np.nan)
    ok = np.isfinite(r) & (n > 2)
    rr, dof = r[ok], (n[ok] - 2).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rr * np.sqrt(dof / ((1.0 - rr) * (1.0 + rr)))
    p[ok] = 2 * sps.t.sf(np.abs(t), dof)
    return p


# --- spearman and mi: whole columns, cell block by cell block ----------------------------
def _by_columns(source, feature, steps, method, categorical, threads, progress):
    T, D = (int(x) for x in source.shape)
    scores, p = np.full(D, np.nan), np.full(D, np.nan)
    n = np.zeros(D, np.int64)
    f = feature[steps]
    fcat = None if method != "mi" else _categories(f, categorical)
    frank = sps.rankdata(f) if method == "spearman" else None

    def one(x):
        finite = np.isfinite(x)
        if method == "spearman":
            return _spearman(x, f, frank, finite)
        return _mi(x, fcat, finite)

    # progress: reading the columns is the first half, scoring the cells the second
    with ThreadPoolExecutor(max(1, threads)) as pool, \
            _column_blocks(source, steps, lambda f: progress(f / 2)) as blocks:
        for c0, columns in blocks:
            for j, (s, pv, k) in enumerate(pool.map(one, columns)):
                scores[c0 + j], p[c0 + j], n[c0 + j] = s, pv, k
                progress(0.5 + 0.5 * (c0 + j + 1) / max(D, 1))  # as each cell is scored
    return scores, p, n


@contextmanager
def _column_blocks(source: StateSource, steps: np.ndarray, progress=_no_progress):
    """Yields an iterator of ``(first cell, float32[k, len(steps)])`` blocks of whole columns,
    at most ``BLOCK_VALUES`` values each.

    When all columns fit in ``MAX_PASSES`` blocks, each block is one streamed read of the
    source. Otherwise one read writes every column to a temporary cell-major file (deleted
    afterwards; ``4 T D`` bytes) and the blocks are read back from it, so a large source is
    read once, not once per block. ``progress(fraction)``: the reads done so far.
    """
    D = int(source.shape[1])
    block = max(1, min(D, BLOCK_VALUES // max(steps.size, 1)))
    if -(-D // block) <= MAX_PASSES:
        def read(c0):
            cells = np.arange(c0, min(D, c0 + block))
            return _columns(source, steps, cells,
                            progress=lambda f: progress((c0 + f * cells.size) / D))

        yield ((c0, read(c0)) for c0 in range(0, D, block))
        return
    with tempfile.TemporaryDirectory(prefix="hiddenscope-columns-") as tmp:
        spill = np.lib.format.open_memmap(Path(tmp) / "columns.npy", mode="w+",
                                          dtype=np.float32, shape=(D, steps.size))
        _columns(source, steps, np.arange(D), out=spill, progress=progress)
        spill.flush()
        yield ((c0, np.array(spill[c0 : c0 + block])) for c0 in range(0, D, block))
        del spill


def _columns(source: StateSource, steps: np.ndarray, cells: np.ndarray,
             out: np.ndarray | None = None, progress=_no_progress) -> np.ndarray:
    """``float32[len(cells), len(steps)]``: the cells' values at ``steps``, one streamed pass
    (``progress(fraction of the steps read)`` after each chunk)."""
    T, D = (int(x) for x in source.shape)
    out = np.empty((cells.size, steps.size), np.float32) if out is None else out
    select = None if cells.size == D else cells
    for lo, hi in chunks(0, T, max(1, CHUNK_VALUES // max(D, 1))):
        a, b = np.searchsorted(steps, [lo, hi])
        if a < b:
            out[:, a:b] = read_values(source, lo, hi, select)[steps[a:b] - lo].T
        progress(hi / max(T, 1))
    return out


def _spearman(x, f, frank, finite):
    k = int(finite.sum())
    if not finite.all():
        x, frank = x[finite], sps.rankdata(f[finite])
    if k < 2 or x.min() == x.max() or frank.min() == frank.max():
        return np.nan, np.nan, k
    # Pearson of the average ranks, both centred at the mean rank (n + 1) / 2; one radix
    # sort of the cell (ranks.py). Adding +0.0 turns -0.0 into 0.0, its equal.
    rf = frank - (k + 1) / 2.0
    cov, vx = rank_sums(np.ascontiguousarray(x + np.float32(0.0)), rf)
    r = float(np.clip(cov / np.sqrt(vx * float(rf @ rf)), -1.0, 1.0))
    return r, float(_t_pvalue(np.array([r]), np.array([k]))[0]), k


def _edges(x: np.ndarray, bins: int = MI_BINS) -> np.ndarray:
    """The ``bins - 1`` edges ``s[max(floor(k n / bins) - 1, 0)]``, ``s`` the sorted values
    (found by partition, without a full sort)."""
    at = np.maximum((np.arange(1, bins) * x.size) // bins - 1, 0)
    return np.partition(x, np.unique(at))[at]


def equal_frequency_bins(x: np.ndarray, bins: int = MI_BINS) -> np.ndarray:
    """``int64[n]`` bin of each value: ``#{k : s[max(floor(k n / bins) - 1, 0)] < x}``,
    ``s`` the sorted values (ties share a bin; see the module docstring)."""
    return np.searchsorted(_edges(x, bins), x, side="left").astype(np.int64)


def _categories(f: np.ndarray, categorical: bool) -> np.ndarray:
    """``int64[n]`` category of each used step of the feature."""
    values, inverse = np.unique(f, return_inverse=True)
    if categorical or values.size <= MI_BINS:
        return inverse.astype(np.int64)
    return equal_frequency_bins(f)


def _mi(x, fcat, finite):
    k = int(finite.sum())
    if not finite.all():
        x, fcat = x[finite], fcat[finite]
    if k < 2 or x.min() == x.max() or fcat.min() == fcat.max():
        return np.nan, np.nan, k
    joint = binned_joint(x, _edges(x), fcat, int(fcat.max()) + 1)
    return _mi_of_joint(joint), np.nan, k


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information in bits of two ``int64[n]`` label arrays."""
    nb_ = int(b.max()) + 1
    joint = np.bincount(a * nb_ + b, minlength=(int(a.max()) + 1) * nb_).reshape(-1, nb_)
    return _mi_of_joint(joint)


def _mi_of_joint(joint: np.ndarray) -> float:
    """Mutual information in bits of a table of joint counts."""
    pj = joint / joint.sum()
    pa, pb = pj.sum(1, keepdims=True), pj.sum(0, keepdims=True)
    nz = pj > 0
    return float(max(0.0, (pj[nz] * np.log2(pj[nz] / (pa @ pb)[nz])).sum()))


# --- a small cache per parameters ---------------------------------------------------------
class ScoreCache:
    """LRU of :class:`CellScores` keyed by (source fingerprint, feature, method)."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[tuple, CellScores] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> CellScores | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: tuple, value: CellScores) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
