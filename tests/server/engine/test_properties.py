"""select and match against the brute-force oracle on random small states, with and
without the index (hypothesis)."""
from __future__ import annotations

import tempfile

import numpy as np
from engine_helpers import PROPERTY, engines, make_states
from hiddenscope.server.engine import MatchQuery, SelectQuery, apply_transform
from hypothesis import given
from hypothesis import strategies as st
from oracle import match as oracle_match
from oracle import select as oracle_select


@st.composite
def scenarios(draw):
    lengths = draw(st.lists(st.integers(1, 60), min_size=1, max_size=5)
                   .filter(lambda x: sum(x) <= 200))
    D = draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**31))
    nan_rate = draw(st.sampled_from([0.0, 0.0, 0.05]))
    states, offsets = make_states(seed, lengths, D, nan_rate=nan_rate,
                                  coarse=draw(st.booleans()))
    transform = draw(st.sampled_from(["tanh", "none"]))
    values = apply_transform(states, transform)
    finite = values[np.isfinite(values)]
    if finite.size and draw(st.booleans()):  # a threshold equal to a value: ties matter
        threshold = float(finite[draw(st.integers(0, finite.size - 1))])
    else:
        threshold = draw(st.floats(-2.5, 2.5, allow_nan=False))
    return states, offsets, transform, threshold


@PROPERTY
@given(scenarios(), st.data())
def test_match_equals_oracle(scenario, data):
    states, offsets, transform, threshold = scenario
    D = states.shape[1]
    cells = data.draw(st.lists(st.integers(0, D - 1), min_size=1, max_size=8))
    zl, zr = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
    min_len = data.draw(st.integers(1, 4))
    max_len = data.draw(st.one_of(st.none(), st.integers(min_len, 10)))
    min_overlap = data.draw(st.integers(1, 3))
    limit = data.draw(st.sampled_from([1, 2, 5, 10, 10**6]))
    everything, total = oracle_match(states, offsets, transform, threshold, cells, zl, zr,
                                     min_overlap, min_len, max_len, 10**9)
    expected = everything[:limit]
    query = MatchQuery(cells, threshold, zl, zr, min_overlap, min_len, max_len, limit)
    with tempfile.TemporaryDirectory() as folder:
        for engine in engines(states, offsets, transform, folder):
            got = engine.match(query)
            assert got.candidates == total
            rows = [(m.start, m.end, m.length, m.overlap, m.union, m.extra) for m in got.matches]
            assert rows == expected
            every = engine.candidates(query)
            assert list(zip(every.start.tolist(), every.end.tolist(), every.overlap.tolist(),
                            strict=True)) == sorted((r[0], r[1], r[3]) for r in everything)
            ranked, found = engine.match_and_candidates(query)  # one sweep for both
            assert ranked == got
            for name in ("start", "end", "overlap"):
                np.testing.assert_array_equal(getattr(found, name), getattr(every, name))


@PROPERTY
@given(scenarios(), st.data())
def test_select_equals_oracle(scenario, data):
    states, offsets, transform, threshold = scenario
    seq = data.draw(st.integers(0, len(offsets) - 2))
    first, last = int(offsets[seq]), int(offsets[seq + 1]) - 1
    start = data.draw(st.integers(first, last))
    end = data.draw(st.integers(start, last))
    zl, zr = data.draw(st.integers(0, 4)), data.draw(st.integers(0, 4))
    expected = oracle_select(states, offsets, transform, threshold, start, end, zl, zr)
    with tempfile.TemporaryDirectory() as folder:
        for engine in engines(states, offsets, transform, folder):
            assert engine.select(SelectQuery(start, end, threshold, zl, zr)).tolist() == expected
