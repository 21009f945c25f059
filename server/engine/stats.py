"""Statistics of one cell's values (the cell detail view)."""
from __future__ import annotations

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
    qs = np.percentile(finite, (50, *PERCENTILES))
    span = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
    counts, edges = np.histogram(finite, bins=bins, range=span)
    return CellStats(
        cell=cell, min=lo, max=hi, mean=float(finite.mean()), median=float(qs[0]),
        percentiles={p: float(q) for p, q in zip(PERCENTILES, qs[1:], strict=True)},
        edges=edges, counts=counts.astype(np.int64), nan_count=int(nan.sum()),
    )
