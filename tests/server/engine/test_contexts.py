"""Top contexts (engine/contexts.py) against a direct greedy over every step."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hiddenscope.server.engine.contexts import Window, top_windows, top_windows_from_codes


def direct(column, offsets, limit, left, right):
    """The rule read literally: repeatedly the best (value, -step) not excluded."""
    seq = [int(np.searchsorted(offsets, t, side="right")) - 1 for t in range(column.size)]
    chosen = []
    while len(chosen) < limit:
        best = None
        for t in range(column.size):
            if math.isnan(column[t]):
                continue
            if any(seq[p] == seq[t] and p - left <= t <= p + right for p in chosen):
                continue
            if best is None or column[t] > column[best]:
                best = t
        if best is None:
            break
        chosen.append(best)
    out = []
    for p in chosen:
        first, last = int(offsets[seq[p]]), int(offsets[seq[p] + 1]) - 1
        out.append(Window(p, float(column[p]), max(first, p - left), min(last, p + right)))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_against_a_direct_greedy(seed):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(5, 120))
    column = np.round(rng.standard_normal(T), 1).astype(np.float32)  # many ties
    column[rng.random(T) < 0.1] = np.nan
    if seed % 3 == 0:
        column[rng.random(T) < 0.1] = np.inf
    cuts = np.sort(rng.choice(np.arange(1, T), size=min(T - 1, int(rng.integers(0, 5))),
                              replace=False))
    offsets = np.concatenate([[0], cuts, [T]]).astype(np.int64)
    limit, left, right = int(rng.integers(1, 15)), int(rng.integers(0, 6)), int(rng.integers(0, 6))
    assert top_windows(column, offsets, limit, left, right) == direct(column, offsets, limit,
                                                                      left, right)


def test_a_flat_cell_and_all_nan():
    offsets = np.array([0, 10, 20])
    ones = np.ones(20, np.float32)
    got = top_windows(ones, offsets, limit=4, left=1, right=2)
    assert [w.pos for w in got] == [0, 3, 6, 9]  # ties: the earliest step not excluded
    assert (got[-1].start, got[-1].end) == (8, 9)  # clipped to its sequence
    assert top_windows(np.full(5, np.nan, np.float32), np.array([0, 5]), 3, 1, 1) == []


@pytest.mark.parametrize("seed", range(8))
def test_from_codes_equals_the_column(seed):
    """Any monotone coding (coarse bins, many ties per code) gives the same windows."""
    rng = np.random.default_rng(100 + seed)
    T = int(rng.integers(20, 400))
    column = np.round(rng.standard_normal(T), 2).astype(np.float32)
    column[rng.random(T) < 0.05] = np.nan
    edges = np.sort(rng.uniform(-2, 2, int(rng.integers(1, 30))))
    codes = np.where(np.isnan(column), 0, 1 + np.searchsorted(edges, column)).astype(np.uint16)
    offsets = np.unique(np.concatenate([[0, T], rng.integers(1, T, 3)])).astype(np.int64)
    reads = []

    def exact(steps):
        assert np.all(np.diff(steps) > 0)
        reads.append(steps.size)
        return column[steps]

    limit, left, right = int(rng.integers(1, 8)), int(rng.integers(0, 4)), int(rng.integers(0, 4))
    got = top_windows_from_codes(codes, exact, offsets, limit, left, right)
    assert got == top_windows(column, offsets, limit, left, right)
    assert top_windows_from_codes(codes, exact, offsets, limit, left, right, max_reads=0) in (
        None, [])
