"""Numba kernels behind Spearman and mutual information of one cell's column (features.py).

Each cell needs its whole column in order. ``radix_order`` sorts float32 values by their bit
patterns (two counting passes of 16 bits; sign-flipped so the unsigned order is the numeric
order), O(n) and about 5x faster than ``np.argsort`` here; the kernels release the GIL, so
two threads work on two cells at once.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def radix_order(x):
    """``int64[n]``: a permutation that sorts ``x: float32[n]`` (finite, no -0.0) ascending."""
    n = x.size
    bits = x.view(np.uint32)
    keys = np.empty(n, np.uint32)
    for i in range(n):
        b = bits[i]
        keys[i] = ~b if b >> np.uint32(31) else b | np.uint32(0x80000000)
    count = np.zeros(65537, np.int64)
    for i in range(n):
        count[(keys[i] & 0xFFFF) + 1] += 1
    for d in range(65536):
        count[d + 1] += count[d]
    low = np.empty(n, np.int64)
    for i in range(n):
        d = keys[i] & 0xFFFF
        low[count[d]] = i
        count[d] += 1
    count[:] = 0
    for i in range(n):
        count[(keys[i] >> np.uint32(16)) + 1] += 1
    for d in range(65536):
        count[d + 1] += count[d]
    order = np.empty(n, np.int64)
    for q in range(n):
        i = low[q]
        d = keys[i] >> np.uint32(16)
        order[count[d]] = i
        count[d] += 1
    return order


@nb.njit(cache=True, nogil=True)
def rank_sums(x, rf):
    """``(sum r_x rf, sum r_x^2)`` with ``r_x`` the average ranks of ``x: float32[n]`` centred
    at ``(n + 1) / 2`` and ``rf: float64[n]`` the feature's centred ranks.

    A tie group at sorted positions ``i .. j-1`` holds ranks ``i+1 .. j``: mean ``(i+j+1)/2``.
    """
    n = x.size
    order = radix_order(x)
    middle = (n + 1) / 2.0
    cov = 0.0
    var = 0.0
    i = 0
    while i < n:
        v = x[order[i]]
        j = i + 1
        while j < n and x[order[j]] == v:
            j += 1
        r = (i + j + 1) / 2.0 - middle
        s = 0.0
        for q in range(i, j):
            s += rf[order[q]]
        cov += r * s
        var += r * r * (j - i)
        i = j
    return cov, var


@nb.njit(cache=True, nogil=True)
def binned_joint(x, edges, categories, n_categories):
    """``int64[len(edges)+1, n_categories]`` counts of (bin, category); a value's bin is the
    number of edges strictly below it (ties share a bin)."""
    out = np.zeros((edges.size + 1, n_categories), np.int64)
    for i in range(x.size):
        v = x[i]
        lo, hi = 0, edges.size
        while lo < hi:  # first edge >= v: that many edges lie below v
            mid = (lo + hi) // 2
            if edges[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        out[lo, categories[i]] += 1
    return out
