"""Expected response of cells to words (RNNVis, papers/004_…): the mean change of a cell's
value when a word is read.

For step ``t`` with token ``w = tokens[t]`` the *change* of cell ``c`` is
``d[t, c] = h[t, c] - h[t-1, c]``, where ``h`` are the values after the source's transform
and ``h[t-1] = 0`` when ``t`` is the first step of a sequence (the state before the first
word is the zero state, as the networks start). The expected response of ``c`` to ``w`` is
the mean of ``d[t, c]`` over the steps that read ``w``.

Missing values: a change that is not finite (``h[t]`` or ``h[t-1]`` is NaN, or ±inf values
under ``transform: none``) is left out of that cell's sum *and* count, so the mean is over
the finite changes only; ``counts`` is therefore per (word, cell), and ``occurrences`` is the
plain number of steps that read each word.

Everything comes from ONE streamed pass over the source (``chunk`` steps at a time), so
memory is ``O(chunk x D' + W x D')`` whatever ``T`` is. Used by ``cells/{cell}/words`` and by
the co-clustering analysis (cells x words over all cells).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba as nb
import numpy as np

from .scan import chunks, read_values
from .source import StateSource

CHUNK_VALUES = 1 << 22  # values (steps x cells) read per chunk: 16 MB of float32


@dataclass(frozen=True)
class WordResponse:
    """Sums of the changes per word and cell, from :func:`response_matrix`.

    Attributes:
        word_ids: ``int64[W]``, the token ids asked for (in that order).
        cells: ``int64[D']``, the cells (columns of ``sums``).
        sums: ``float64[W, D']``, the sum of the finite changes ``d[t, c]`` over steps reading
            word ``w``.
        counts: ``int64[W, D']``, how many finite changes went into each sum.
        occurrences: ``int64[W]``, how many steps read each word (``counts <= occurrences``;
            equal everywhere when the source has no NaN/inf).
    """

    word_ids: np.ndarray
    cells: np.ndarray
    sums: np.ndarray
    counts: np.ndarray
    occurrences: np.ndarray

    def mean(self) -> np.ndarray:
        """``float64[W, D']`` expected responses; NaN where a count is 0."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)


@nb.njit(cache=True, nogil=True)
def _accumulate(values, prev, first, word_of, sums, counts):
    """Add the changes of one chunk. ``values: float32[n, k]``, ``prev: float32[k]`` the
    values of the step before the chunk, ``first: bool[n]`` sequence starts, ``word_of:
    int64[n]`` row of ``sums`` for each step (-1: a word not asked for)."""
    n, k = values.shape
    for i in range(n):
        w = word_of[i]
        if w < 0:
            continue
        for c in range(k):
            before = 0.0 if first[i] else (values[i - 1, c] if i > 0 else prev[c])
            d = np.float64(values[i, c]) - np.float64(before)
            if np.isfinite(d):
                sums[w, c] += d
                counts[w, c] += 1


def response_matrix(source: StateSource, tokens: np.ndarray, offsets: np.ndarray,
                    word_ids: np.ndarray, cells: np.ndarray | None = None,
                    chunk: int | None = None,
                    progress: Callable[[float], None] | None = None) -> WordResponse:
    """Sums and counts of the changes ``h[t] - h[t-1]`` per word and cell, in one pass.

    Args:
        source: the states (values after its transform are used).
        tokens: ``int32[T]`` token ids, aligned with the source's steps.
        offsets: ``int64[N+1]`` sequence offsets (``h[-1] = 0`` at each sequence start).
        word_ids: ``int64[W]`` distinct token ids to accumulate (others are skipped).
        cells: ``int64[D']`` cells to compute (None: all ``D``).
        chunk: steps per read (default: about 4M values per chunk).
        progress: called with the fraction of steps done (0..1) after each chunk.

    Returns:
        :class:`WordResponse`; ``mean()`` gives the expected responses ``float64[W, D']``.
    """
    T, D = (int(x) for x in source.shape)
    tokens = np.asarray(tokens)
    if tokens.shape[0] != T:
        raise ValueError(f"tokens has {tokens.shape[0]} steps; the source has {T}")
    word_ids = np.asarray(word_ids, dtype=np.int64)
    if np.unique(word_ids).size != word_ids.size:
        raise ValueError("word_ids must be distinct")
    cells_arr = np.arange(D, dtype=np.int64) if cells is None else np.asarray(cells, np.int64)
    k = cells_arr.size
    # token id -> row of sums (-1: not asked); token ids are small (a vocabulary)
    top = int(max(int(tokens.max(initial=0)), int(word_ids.max(initial=-1)))) + 1
    row_of = np.full(top, -1, dtype=np.int64)
    row_of[word_ids[word_ids >= 0]] = np.flatnonzero(word_ids >= 0)
    first = np.zeros(T, dtype=np.bool_)
    first[np.asarray(offsets, dtype=np.int64)[:-1]] = True
    sums = np.zeros((word_ids.size, k), dtype=np.float64)
    counts = np.zeros((word_ids.size, k), dtype=np.int64)
    prev = np.zeros(k, dtype=np.float32)
    step = chunk or max(1, CHUNK_VALUES // max(D, 1))
    select = None if cells is None else cells_arr
    for lo, hi in chunks(0, T, step):
        values = np.ascontiguousarray(read_values(source, lo, hi, select), dtype=np.float32)
        _accumulate(values, prev, first[lo:hi], row_of[tokens[lo:hi]], sums, counts)
        prev = values[-1].copy()
        if progress is not None:
            progress(hi / max(T, 1))
    occurrences = np.bincount(row_of[tokens][row_of[tokens] >= 0], minlength=word_ids.size)
    return WordResponse(word_ids, cells_arr, sums, counts, occurrences.astype(np.int64))


def top_words(mean: np.ndarray, occurrences: np.ndarray, word_ids: np.ndarray,
              limit: int, min_count: int) -> tuple[list[tuple[int, float, int]],
                                                    list[tuple[int, float, int]]]:
    """The words a cell responds to most: ``(positive, negative)`` lists of
    ``(word_id, response, count)``.

    ``mean: float64[W]`` (one cell's expected responses), ``occurrences: int64[W]`` the
    count of finite changes per word. Words with fewer than ``min_count`` are left out;
    ``positive`` holds up to ``limit`` words with response > 0, largest first, ``negative``
    up to ``limit`` with response < 0, most negative first; ties by smaller word id.
    """
    keep = (occurrences >= min_count) & np.isfinite(mean)
    idx = np.flatnonzero(keep)
    r = mean[idx]
    pos = idx[r > 0][np.lexsort((word_ids[idx[r > 0]], -mean[idx[r > 0]]))][:limit]
    neg = idx[r < 0][np.lexsort((word_ids[idx[r < 0]], mean[idx[r < 0]]))][:limit]

    def rows(sel):
        return [(int(word_ids[i]), float(mean[i]), int(occurrences[i])) for i in sel]

    return rows(pos), rows(neg)
