"""Align cells of one source with the cells of another: signed Pearson over the whole corpus.

For cells ``a`` of source A and every cell ``b`` of source B (the same data set, or another
data set over the same tokens)::

    r(a, b) = cov(A[:, a], B[:, b]) / (std(A[:, a]) * std(B[:, b]))

over all ``T`` steps of the transformed states, in one streamed pass: each chunk of steps
adds to the sums of ``a``, ``a**2``, ``b``, ``b**2`` and ``a*b`` (float32 products and sums
inside a chunk of about 6,000 steps, float64 across chunks; values shifted by the first
chunk's means, so the final subtraction loses no precision: r agrees with ``numpy.corrcoef``
to about 1e-6). A cell with a non-finite value anywhere, or a constant
cell, has no correlation (NaN, as ``numpy.corrcoef`` gives); it is never a match.

The sign is kept: the best match of ``a`` is the cell that is high where ``a`` is high, so a
selection carried to the other source can be matched there with the same threshold rule.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import EngineError
from .source import StateSource, apply_transform

CHUNK_VALUES = 1 << 22  # float32 values of B read per chunk (16 MB)


@dataclass(frozen=True)
class CellMatches:
    """The best matches of one cell: ``cells`` int64[m] of the other source, ``r`` float64[m]."""

    cell: int
    cells: np.ndarray
    r: np.ndarray


def _chunk_rows(D: int) -> int:
    return max(256, CHUNK_VALUES // max(1, D))


def correlate(a: StateSource, cells: np.ndarray, b: StateSource, threads: int = 2,
              progress: Callable[[float], None] | None = None) -> np.ndarray:
    """``float64[len(cells), D_b]`` Pearson r of each of ``cells`` (of ``a``) with every cell of
    ``b``; NaN where a cell is constant or has a non-finite value. Reads each source once
    (once in all when ``a is b``) plus its first chunk, in ``threads`` parts of the corpus at
    the same time. ``progress``: called with the fraction of steps done (0..1) per chunk."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    cells = np.asarray(cells, dtype=np.int64)
    T = int(a.shape[0])
    if int(b.shape[0]) != T:
        raise EngineError("to_source", f"to_source: it has {b.shape[0]} steps, the source {T}; "
                          "align needs the same steps in both")
    step = _chunk_rows(int(b.shape[1]))
    first = min(T, step)
    head = _values(b, 0, first)  # the shift: means of the first chunk (read twice, 16 MB)
    shift_b = _finite_means(head)
    shift_a = _finite_means(head[:, cells] if a is b else apply_transform(
        np.asarray(a.read_rows(0, first))[:, cells], a.transform))
    # parts of whole chunks, summed by threads with one BLAS thread each: the products and
    # tanh release the GIL, so two cores work without OpenBLAS's own threads, which spun
    # against each other on a shared 2-core machine (7x slower than one thread)
    chunks = -(-T // step)
    cuts = np.minimum(np.unique(np.linspace(0, chunks, max(1, threads) + 1).round()) * step, T)
    parts = [(int(lo), int(hi)) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]
    done = [0] * len(parts)  # steps done per part (each written by its own thread)

    def part(i: int) -> tuple:
        def report(steps: int) -> None:
            done[i] = steps
            if progress is not None:
                progress(sum(done) / max(T, 1))

        return _sums(a, cells, b, *parts[i], step, shift_a, shift_b, report)

    with threadpool_limits(limits=1):
        if len(parts) == 1:
            sums = [part(0)]
        else:
            with ThreadPoolExecutor(len(parts)) as pool:
                sums = list(pool.map(part, range(len(parts))))
    cross, sa, saa, sbb, bad_a, bad_b = (sum(x) if i < 4 else np.logical_or.reduce(x)
                                         for i, x in enumerate(zip(*sums, strict=True)))
    sb, sab = cross[0], cross[1:]
    cov = sab - np.outer(sa, sb) / T
    var_a = saa - sa**2 / T
    var_b = sbb - sb**2 / T
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(np.outer(var_a, var_b))
    r[bad_a] = np.nan
    r[:, bad_b] = np.nan
    r[(var_a <= 0)] = np.nan
    r[:, var_b <= 0] = np.nan
    return np.clip(r, -1.0, 1.0)


def _sums(a: StateSource, cells: np.ndarray, b: StateSource, start: int, stop: int, step: int,
          shift_a: np.ndarray, shift_b: np.ndarray, report=None) -> tuple:
    """Sums over steps ``start .. stop-1`` of the shifted values: ``(cross float64[k+1, D]``
    (row 0: sum of b, rows 1..k: sum of a_i * b), ``sum a [k]``, ``sum a**2 [k]``,
    ``sum b**2 [D]``, non-finite columns ``bool[k]`` and ``bool[D])``. ``report(steps done)``
    after each chunk."""
    k, D = cells.size, int(b.shape[1])
    cross = np.zeros((k + 1, D))
    sa, saa, sbb = np.zeros(k), np.zeros(k), np.zeros(D)
    bad_a, bad_b = np.zeros(k, bool), np.zeros(D, bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for lo in range(start, stop, step):
            hi = min(stop, lo + step)
            B = _values(b, lo, hi)
            A = B[:, cells] if a is b else apply_transform(
                np.asarray(a.read_rows(lo, hi))[:, cells], a.transform)
            A = A - shift_a
            np.subtract(B, shift_b, out=B)
            # [1 | A]^T @ B: the column sums of B and the cross sums in one float32 product
            ones_a = np.empty((hi - lo, k + 1), np.float32)
            ones_a[:, 0] = 1
            ones_a[:, 1:] = A
            block = ones_a.T @ B
            col_a = A.sum(0, dtype=np.float64)
            if not (np.isfinite(block).all() and np.isfinite(col_a).all()):
                A, B = _zero_nonfinite(A, bad_a), _zero_nonfinite(B, bad_b)
                ones_a[:, 1:] = A
                block, col_a = ones_a.T @ B, A.sum(0, dtype=np.float64)
            cross += block
            sa += col_a
            saa += np.einsum("ij,ij->j", A, A, dtype=np.float64)
            sbb += np.einsum("ij,ij->j", B, B)
            if report is not None:
                report(hi - start)
    return cross, sa, saa, sbb, bad_a, bad_b


def _values(source: StateSource, lo: int, hi: int) -> np.ndarray:
    """Transformed ``float32[hi-lo, D]`` that this module may change in place."""
    raw = np.asarray(source.read_rows(lo, hi))
    values = apply_transform(raw, source.transform)
    return values if values is not raw else values.copy()  # `none` hands back the source's rows


def _finite_means(X: np.ndarray) -> np.ndarray:
    """``float32[n]`` column means with non-finite values (and means) counted as 0."""
    with np.errstate(invalid="ignore", over="ignore"):
        means = np.where(np.isfinite(X), X, 0).mean(0, dtype=np.float64)
    return np.nan_to_num(means, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _zero_nonfinite(X: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``X`` with its non-finite values set to 0; marks their columns in ``bad``."""
    mask = ~np.isfinite(X)
    bad |= mask.any(0)
    return np.where(mask, np.float32(0), X)


def best_matches(r: np.ndarray, cells: np.ndarray, limit: int,
                 same_source: bool = False) -> list[CellMatches]:
    """For each row of ``r`` (cell ``cells[i]``), the ``limit`` columns of highest r, highest
    first (ties: lower cell id first); NaN never matches; on the same source a cell is not
    its own match."""
    out = []
    for i, cell in enumerate(np.asarray(cells, dtype=np.int64).tolist()):
        row = r[i].copy()
        if same_source:
            row[cell] = np.nan
        valid = np.flatnonzero(~np.isnan(row))
        order = valid[np.lexsort((valid, -row[valid]))][:limit]
        out.append(CellMatches(cell, order.astype(np.int64), row[order]))
    return out


def token_difference(tokens_a: np.ndarray, vocab_a: list, tokens_b: np.ndarray,
                     vocab_b: list) -> str | None:
    """None when both token sequences spell the same strings, else the first difference in
    words (``tokens_*: int[T]`` ids into ``vocab_*``, lists of strings or None)."""
    names: dict[object, int] = {}
    ids_a = np.array([names.setdefault(v, len(names)) for v in vocab_a] or [0], dtype=np.int64)
    ids_b = np.array([names.setdefault(v, len(names)) for v in vocab_b] or [0], dtype=np.int64)
    ta, tb = ids_a[np.asarray(tokens_a)], ids_b[np.asarray(tokens_b)]
    n = min(ta.size, tb.size)
    diff = np.flatnonzero(ta[:n] != tb[:n])
    if diff.size:
        t = int(diff[0])
        return (f"step {t} reads {vocab_a[tokens_a[t]]!r} in one and "
                f"{vocab_b[tokens_b[t]]!r} in the other")
    if ta.size != tb.size:
        return f"one has {ta.size:,} steps and the other {tb.size:,} (the first {n:,} agree)"
    return None
