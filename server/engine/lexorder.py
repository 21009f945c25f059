"""The first rows of a lexicographic order without sorting them all."""
from __future__ import annotations

import numpy as np


def smallest(keys: tuple[np.ndarray, ...], n: int) -> np.ndarray:
    """Indices of the ``n`` smallest rows in the lexicographic order of ``keys`` (equal-length
    arrays, the first key first), sorted in that order. Partitions key by key, so a large
    tie in the first keys costs O(rows) per key instead of a lexsort of the whole tie."""
    rows = np.arange(keys[0].size)
    taken = []
    for key in keys:
        if rows.size <= n:
            break
        col = key[rows]
        cut = np.partition(col, n - 1)[n - 1]
        below = col < cut
        taken.append(rows[below])
        n -= int(below.sum())
        rows = rows[col == cut]
    out = np.concatenate([*taken, rows[:n]])
    return out[np.lexsort(tuple(key[out] for key in reversed(keys)))]
