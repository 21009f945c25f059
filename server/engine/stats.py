"""Statistics of one cell's values (the cell detail view)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .results import CellStats

PERCENTILES = (1, 5, 25, 75, 95, 99)


def stats_of_column(cell: int, column: np.ndarray, bins: int) -> CellStats:
    """:class:`CellStats` of ``column: float32[T]`` (transformed values; NaN counted apart).

    Percentiles use numpy's default (linear) interpolation between order statistics.
    """
    nan = np.isnan(column)
    finite = column[~nan].astype(np.float64)
    if finite.size == 0:
        edges = np.linspace(0.0, 1.0, bins + 1)
        return CellStats(cell, *(float("nan"),) * 4, {p: float("nan") for p in PERCENTILES},
                         edges, np.zeros(bins, dtype=np.int64), int(nan.sum()))
    finite.sort()
    lo, hi = float(finite[0]), float(finite[-1])
    with np.errstate(invalid="ignore"):  # inf - inf with +-inf values (transform none): NaN
        qs = np.percentile(finite, (50, *PERCENTILES))
        mean = float(finite.mean())
    real = finite[np.isfinite(finite)]  # +-inf (transform none) stay out of the histogram
    flo, fhi = (float(real[0]), float(real[-1])) if real.size else (0.0, 0.0)
    span = (flo, fhi) if fhi > flo else (flo - 0.5, fhi + 0.5)
    counts, edges = np.histogram(real, bins=bins, range=span)
    return CellStats(
        cell=cell, min=lo, max=hi, mean=mean, median=float(qs[0]),
        percentiles={p: float(q) for p, q in zip(PERCENTILES, qs[1:], strict=True)},
        edges=edges, counts=counts.astype(np.int64), nan_count=int(nan.sum()),
    )


_MAX_EXACT = 1 << 16  # exact values read per code bin before falling back to a scan


def stats_from_codes(cell: int, codes: np.ndarray, lo: float, scale: float, has_inf: bool,
                     total: float, exact: Callable[[np.ndarray], np.ndarray],
                     bins: int) -> CellStats | None:
    """:class:`CellStats` from one cell's index codes, equal to :func:`stats_of_column`.

    ``codes: uint16[T]`` (0 = NaN, monotone in the value), ``total`` the exact sum of the
    non-NaN values (from the index build) and ``exact(steps)`` the transformed float32
    values at sorted ``steps``. Order statistics come from the code histogram plus the
    exact values of the few code bins they fall in; histogram counts from whole code bins,
    and exact values for the code bins that straddle a histogram edge. Returns None when
    a needed code bin holds too many values (then scan the column instead).
    """
    if has_inf:
        return None  # the histogram leaves +-inf out; the scan handles that rare case
    counts = np.bincount(codes, minlength=1 << 16).astype(np.int64)
    n = int(counts[1:].sum())
    if n == 0:
        return stats_of_column(cell, np.full(int(counts[0]), np.nan, np.float32), bins)
    cum = np.cumsum(counts[1:])
    cache: dict[int, np.ndarray] = {}

    def bin_values(b: int) -> np.ndarray | None:
        if b not in cache:
            if counts[b] > _MAX_EXACT:
                return None
            cache[b] = np.sort(exact(np.flatnonzero(codes == b)).astype(np.float64))
        return cache[b]

    def order_stat(r: int) -> float | None:
        b = int(np.searchsorted(cum, r, side="right")) + 1
        values = bin_values(b)
        return None if values is None else float(values[r - (int(cum[b - 2]) if b > 1 else 0)])

    lo_v, hi_v = order_stat(0), order_stat(n - 1)
    quantiles = [_percentile(order_stat, n, q) for q in (50, *PERCENTILES)]
    if lo_v is None or hi_v is None or any(q is None for q in quantiles):
        return None
    hist = _histogram(counts, lo, scale, lo_v, hi_v, bins, bin_values)
    if hist is None:
        return None
    return CellStats(
        cell=cell, min=lo_v, max=hi_v, mean=total / n, median=quantiles[0],
        percentiles=dict(zip(PERCENTILES, quantiles[1:], strict=True)),
        edges=hist[1], counts=hist[0], nan_count=int(counts[0]),
    )


def _percentile(order_stat: Callable[[int], float | None], n: int, q: float) -> float | None:
    """numpy's default (linear) percentile from the order statistics ``order_stat(r)``."""
    quantile = q / 100
    virtual = n * quantile + (1 + quantile * -1) - 1  # numpy's _compute_virtual_index
    below = int(np.floor(virtual))
    gamma = virtual - below
    a, b = order_stat(min(max(below, 0), n - 1)), order_stat(min(max(below + 1, 0), n - 1))
    if a is None or b is None:
        return None
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


def _histogram(counts, lo, scale, vmin, vmax, bins, bin_values):
    """``(counts int64[bins], edges)`` as ``np.histogram`` over ``[vmin, vmax]``, or None."""
    n = int(counts[1:].sum())
    span = (vmin, vmax) if vmax > vmin else (vmin - 0.5, vmax + 0.5)
    edges = np.linspace(span[0], span[1], bins + 1)
    if vmin == vmax:
        return np.histogram([vmin], bins=bins, range=span)[0] * n, edges
    if scale <= 0:
        return None
    b = np.flatnonzero(counts[1:]) + 1
    # A code bin's values lie within lo + (b-1 .. b) / scale; float32 rounding in the
    # encoder moves that by far less than the 0.05-code margin used here.
    v0 = np.where(b == 1, -np.inf, lo + (b - 1.05) / scale)
    v1 = np.where(b == (1 << 16) - 1, np.inf, lo + (b + 0.05) / scale)
    i0 = np.clip(np.searchsorted(edges, v0, side="right") - 1, 0, bins - 1)
    i1 = np.clip(np.searchsorted(edges, v1, side="right") - 1, 0, bins - 1)
    out = np.zeros(bins, np.int64)
    whole = i0 == i1
    np.add.at(out, i0[whole], counts[b[whole]])
    for code in b[~whole]:
        values = bin_values(int(code))
        if values is None:
            return None
        out += np.histogram(values, bins=bins, range=span)[0]
    return out, edges
