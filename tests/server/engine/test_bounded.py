"""The bound-first ranking of a large cut tier (SourceEngine._bounded) and ``smallest``:
the same answer as the brute-force oracle and as ranking every candidate exactly."""
from __future__ import annotations

import tempfile
from unittest import mock

import numpy as np
import pytest
from engine_helpers import PROPERTY, make_states
from hiddenscope.server.engine import ArraySource, MatchQuery, SourceEngine
from hiddenscope.server.engine import engine as engine_mod
from hiddenscope.server.engine.lexorder import smallest
from hiddenscope.server.store import IndexFiles
from hypothesis import given
from hypothesis import strategies as st
from oracle import match as oracle_match


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 2), st.integers(0, 50)),
                min_size=1, max_size=60), st.integers(1, 70))
def test_smallest_equals_lexsort(rows, n):
    keys = tuple(np.array(col, np.int64) for col in zip(*rows, strict=True))
    order = np.lexsort(tuple(reversed(keys)))[:n]
    got = smallest(keys, n)
    assert [tuple(int(k[i]) for k in keys) for i in got] == [
        tuple(int(k[i]) for k in keys) for i in order]
    assert len(set(got.tolist())) == got.size == min(n, len(rows))


def indexed_engine(states, offsets, transform, folder) -> SourceEngine:
    source = ArraySource(states, offsets, transform, fingerprint="test")
    engine = SourceEngine(source, IndexFiles(folder, source), chunk=7)
    engine.build_index()
    return engine


@PROPERTY
@given(st.integers(0, 2**31), st.lists(st.integers(1, 60), min_size=1, max_size=5),
       st.integers(2, 24), st.data())
def test_bounded_rank_equals_oracle(seed, lengths, D, data):
    """Every tier bounded (BOUND_ROWS 0) with a Q of 1-3 cells: the oracle's answer."""
    states, offsets = make_states(seed, lengths, D, coarse=data.draw(st.booleans()))
    transform = data.draw(st.sampled_from(["tanh", "none"]))
    threshold = data.draw(st.floats(-1.0, 1.0, allow_nan=False))
    cells = data.draw(st.lists(st.integers(0, D - 1), min_size=1, max_size=min(D - 1, 6)))
    zl, zr = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
    limit = data.draw(st.sampled_from([1, 2, 3, 5]))
    everything, total = oracle_match(states, offsets, transform, threshold, cells, zl, zr,
                                     1, 1, None, 10**9)
    query = MatchQuery(cells, threshold, zl, zr, limit=limit)
    with tempfile.TemporaryDirectory() as folder, \
            mock.patch.object(engine_mod, "BOUND_ROWS", 0), \
            mock.patch.object(engine_mod, "BOUND_CELLS", data.draw(st.integers(1, 3))):
        got = indexed_engine(states, offsets, transform, folder).match(query)
    assert got.candidates == total
    assert [(m.start, m.end, m.length, m.overlap, m.union, m.extra)
            for m in got.matches] == everything[:limit]


@pytest.mark.parametrize("pads", [(0, 0), (1, 1)])
def test_a_tie_is_ranked_from_few_exact_counts(pads):
    """A tie of thousands of short candidates: the same answer as ranking all of them
    exactly, with far fewer steps of every cell read (the planes' filled steps)."""
    states, offsets = make_states(3, [4000] * 10, 96)
    query = MatchQuery((0,), 0.2, *pads, limit=20)  # every candidate has |I| = 1
    with tempfile.TemporaryDirectory() as folder:
        bounded = indexed_engine(states, offsets, "tanh", folder)
        with mock.patch.object(engine_mod, "BOUND_ROWS", 1 << 62):
            full = SourceEngine(bounded.source, bounded.index.storage)
            expected = full.match(query)
        with mock.patch.object(engine_mod, "BOUND_ROWS", 1000):
            got = bounded.match(query)
    assert got == expected
    assert got.candidates > 4000
    read_all = int(full.planes.plane(0.2).done.sum())
    read_bounded = int(bounded.planes.plane(0.2).done.sum())
    assert read_bounded < read_all / 4, (read_bounded, read_all)
