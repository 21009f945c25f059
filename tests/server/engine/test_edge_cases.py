"""One named test per edge case of the engine issue, each with and without the index."""
from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import engines, make_states
from hiddenscope.server.engine import (
    ArraySource,
    EngineError,
    MatchQuery,
    SelectQuery,
    SourceEngine,
    apply_transform,
)
from oracle import match as oracle_match
from oracle import select as oracle_select


def rows(result):
    return [(m.start, m.end, m.length, m.overlap, m.union, m.extra) for m in result.matches]


def both(states, offsets, tmp_path, transform="none"):
    return engines(np.asarray(states, dtype=np.float32), np.asarray(offsets), transform, tmp_path)


def test_length_one_match(tmp_path):
    states = np.zeros((10, 2), np.float32)
    states[4, 0] = 1.0
    for engine in both(states, [0, 10], tmp_path):
        result = engine.match(MatchQuery([0], 0.5))
        assert rows(result) == [(4, 4, 1, 1, 1, 0)]
        assert result.candidates == 1


def test_matches_touching_first_and_last_step(tmp_path):
    states = np.zeros((12, 2), np.float32)
    states[0:3, 0] = 1.0
    states[9:12, 0] = 1.0
    for engine in both(states, [0, 12], tmp_path):
        for pad in (0, 1, 5):
            got = rows(engine.match(MatchQuery([0], 0.5, pad_left=pad, pad_right=pad)))
            assert got == [(0, 2, 3, 1, 1, 0), (9, 11, 3, 1, 1, 0)]


def test_padding_hangs_over_sequence_boundaries(tmp_path):
    # cell 0 is on at the end of sequence 0 and at the start of sequence 1: steps outside
    # a range's sequence count as off, so both runs satisfy any padding.
    states = np.zeros((10, 2), np.float32)
    states[3:7, 0] = 1.0
    states[3:5, 1] = 1.0
    offsets = [0, 5, 10]
    for engine in both(states, offsets, tmp_path):
        assert engine.select(SelectQuery(5, 6, 0.5, pad_left=3, pad_right=0)).tolist() == [0]
        assert engine.select(SelectQuery(3, 4, 0.5, pad_left=1, pad_right=4)).tolist() == [0, 1]
        got = rows(engine.match(MatchQuery([0, 1], 0.5, pad_left=2, pad_right=2)))
        assert got == [(3, 4, 2, 2, 2, 0), (5, 6, 2, 1, 2, 0)]
        assert got == oracle_match(states, np.array(offsets), "none", 0.5, [0, 1], 2, 2)[0]


def test_threshold_outside_the_value_range(tmp_path):
    states, offsets = make_states(1, [20, 15], 4)
    for engine in both(states, offsets, tmp_path):
        assert engine.select(SelectQuery(0, 3, 10.0)).size == 0
        assert engine.match(MatchQuery([0, 1], 10.0)).candidates == 0
        assert engine.select(SelectQuery(0, 3, -10.0)).tolist() == [0, 1, 2, 3]
        everything = engine.match(MatchQuery([0, 1], -10.0, pad_left=1, pad_right=1))
        assert rows(everything) == [(0, 19, 20, 2, 4, 2), (20, 34, 15, 2, 4, 2)]


def test_unsorted_and_duplicated_cells_are_normalised(tmp_path):
    states, offsets = make_states(2, [40, 30], 6)
    for engine in both(states, offsets, tmp_path):
        repeated = engine.match(MatchQuery([4, 1, 4, 1, 1], 0.2))
        assert repeated == engine.match(MatchQuery([1, 4], 0.2))
        assert (engine.on_count([3, 0, 3], 0.2, 0, 69) == engine.on_count([0, 3], 0.2, 0, 69)).all()


def test_empty_cell_set_is_a_clear_error(tmp_path):
    states, offsets = make_states(3, [10], 3)
    for engine in both(states, offsets, tmp_path):
        with pytest.raises(EngineError, match="cells: the cell set is empty") as err:
            engine.match(MatchQuery([], 0.2))
        assert err.value.param == "cells"


def test_all_cells_selected(tmp_path):
    states, offsets = make_states(4, [30, 25, 20], 10)
    expected = oracle_match(states, offsets, "tanh", 0.1, list(range(10)), limit=10**6)
    for engine in engines(states, offsets, "tanh", tmp_path):
        result = engine.match(MatchQuery(range(10), 0.1, limit=10**6))
        assert (rows(result), result.candidates) == expected


def test_nan_is_off(tmp_path):
    states = np.ones((8, 2), np.float32)
    states[3, 0] = np.nan
    states[0, 1] = np.nan
    for engine in both(states, [0, 8], tmp_path):
        # NaN is never on, even at the lowest threshold, and counts as off for padding.
        assert engine.select(SelectQuery(0, 2, -1e300)).tolist() == [0]
        assert engine.select(SelectQuery(1, 2, -1e300, pad_left=1)).tolist() == [1]
        assert engine.on_count([0, 1], -1e300, 0, 7).tolist() == [1, 2, 2, 1, 2, 2, 2, 2]
        got = rows(engine.match(MatchQuery([0], 0.5, pad_left=1, pad_right=1)))
        assert got == [(4, 7, 4, 1, 1, 0), (0, 2, 3, 1, 1, 0)]


def test_limit_larger_than_the_number_of_candidates(tmp_path):
    states, offsets = make_states(5, [50, 30], 8)
    for engine in both(states, offsets, tmp_path, "tanh"):
        result = engine.match(MatchQuery([0, 2, 5], 0.3, limit=10**6))
        assert 0 < result.candidates == len(result.matches) < 10**6


def test_threshold_is_compared_in_float64(tmp_path):
    # float32(0.1) = 0.10000000149...; numpy 2 would round a Python float threshold to
    # float32 and call a value just below it "on" (NEP 50). The engine must not.
    v = np.float32(0.1)
    states = np.full((4, 1), v, np.float32)
    for engine in both(states, [0, 4], tmp_path):
        assert engine.select(SelectQuery(0, 3, float(v))).tolist() == [0]
        assert engine.select(SelectQuery(0, 3, 0.1)).tolist() == [0]
        assert engine.select(SelectQuery(0, 3, float(v) + 1e-12)).tolist() == []
        assert engine.match(MatchQuery([0], float(v) + 1e-12)).candidates == 0


def test_infinite_values_with_transform_none(tmp_path):
    states, offsets = make_states(6, [25, 25], 5)
    states[3, 1], states[10, 2], states[30, 2] = np.inf, -np.inf, np.inf
    for threshold in (-1e300, -5.0, 0.0, 1e30, 1e300):
        expected = oracle_match(states, offsets, "none", threshold, [1, 2], limit=1000)
        for engine in engines(states, offsets, "none", tmp_path / str(threshold)):
            result = engine.match(MatchQuery([2, 1], threshold, limit=1000))
            assert (rows(result), result.candidates) == expected


def test_many_values_equal_to_the_threshold(tmp_path):
    # a coarse grid puts many values exactly at the threshold: the index's ambiguous
    # codes must all be checked exactly.
    states, offsets = make_states(7, [60, 60, 60], 12, coarse=True)
    for threshold in (0.0, 0.25, 0.5):
        expected = oracle_match(states, offsets, "none", threshold, [0, 3, 7, 11], 1, 0, limit=100)
        for engine in engines(states, offsets, "none", tmp_path / str(threshold)):
            result = engine.match(MatchQuery([0, 3, 7, 11], threshold, 1, 0, limit=100))
            assert (rows(result), result.candidates) == expected


@pytest.mark.parametrize("call, param", [
    (lambda e: e.match(MatchQuery([700], 0.3)), "cells"),
    (lambda e: e.match(MatchQuery([-1], 0.3)), "cells"),
    (lambda e: e.match(MatchQuery([0.5], 0.3)), "cells"),
    (lambda e: e.match(MatchQuery([0], float("nan"))), "threshold"),
    (lambda e: e.match(MatchQuery([0], float("inf"))), "threshold"),
    (lambda e: e.select(SelectQuery(0, 1, -np.inf)), "threshold"),
    (lambda e: e.on_count([0], np.inf, 0, 3), "threshold"),
    (lambda e: e.align(MatchQuery([0]), [], -1, 0), "left"),
    (lambda e: e.match(MatchQuery([0], "high")), "threshold"),
    (lambda e: e.match(MatchQuery([0], 0.3, pad_left=-1)), "pad_left"),
    (lambda e: e.match(MatchQuery([0], 0.3, pad_right=-2)), "pad_right"),
    (lambda e: e.match(MatchQuery([0], 0.3, min_len=4, max_len=3)), "max_len"),
    (lambda e: e.match(MatchQuery([0], 0.3, limit=0)), "limit"),
    (lambda e: e.match(MatchQuery([0], 0.3, min_overlap=0)), "min_overlap"),
    (lambda e: e.select(SelectQuery(5, 4, 0.3)), "end"),
    (lambda e: e.select(SelectQuery(-1, 4, 0.3)), "start"),
    (lambda e: e.select(SelectQuery(0, 30, 0.3)), "end"),
    (lambda e: e.on_count([0], 0.3, 0, 30), "end"),
    (lambda e: e.values(3, 2), "end"),
    (lambda e: e.cell_stats(9), "cell"),
    (lambda e: e.cell_stats(0, bins=0), "bins"),
])
def test_bad_arguments_name_the_parameter(call, param):
    states, offsets = make_states(8, [20, 10], 6)
    with pytest.raises(EngineError) as err:
        call(SourceEngine(ArraySource(states, offsets)))
    assert err.value.param == param
    assert isinstance(err.value, ValueError)


def test_messages_name_the_value_and_the_fix():
    states, offsets = make_states(9, [20, 10], 650)
    engine = SourceEngine(ArraySource(states, offsets))
    with pytest.raises(EngineError,
                       match=r"cells: 700 is out of range; this source has 650 cells \(0..649\)"):
        engine.match(MatchQuery([1, 700], 0.3))
    with pytest.raises(EngineError,
                       match=r"crosses a sequence boundary: .*sequence 0..19 and step 25 in "
                             r"20..29.*"
                             r"so pass end <= 19"):
        engine.select(SelectQuery(15, 25, 0.3))


def test_select_matches_oracle_on_a_hand_example(tmp_path):
    states, offsets = make_states(10, [12, 9], 5)
    for engine in engines(states, offsets, "tanh", tmp_path):
        for start, end, zl, zr in [(0, 0, 0, 0), (2, 5, 1, 2), (12, 20, 3, 3), (19, 20, 0, 9)]:
            expected = oracle_select(states, offsets, "tanh", 0.0, start, end, zl, zr)
            assert engine.select(SelectQuery(start, end, 0.0, zl, zr)).tolist() == expected


def test_one_and_two_threads_agree(tmp_path):
    states, offsets = make_states(11, [40, 35, 50, 20], 9)
    source = ArraySource(states, offsets, "tanh")
    one, two = SourceEngine(source, threads=1), SourceEngine(source, threads=2)
    for pad in (0, 2):
        cells = [0, 3, 4, 8]
        query = MatchQuery(cells, 0.2, pad, pad, limit=7)
        assert one.match(query) == two.match(query)


def test_align_windows_and_on_counts(tmp_path):
    states, offsets = make_states(12, [30, 45, 25], 6)
    values = apply_transform(states, "tanh")
    query = MatchQuery([1, 3, 4], 0.1, limit=12)
    for engine in engines(states, offsets, "tanh", tmp_path):
        matches = engine.match(query).matches
        rows = engine.align(query, matches, left=3, right=5, window_max=8)
        assert [r.match for r in rows] == matches
        for r in rows:
            m = r.match
            first = max(o for o in offsets[:-1] if o <= m.start)
            last = min(o for o in offsets[1:] if o > m.start) - 1
            a, b = max(first, m.start - 3), min(last, m.end + 5, m.start + 8)
            assert (r.window_start, r.window_end) == (a, b)
            on = values[a : b + 1][:, [1, 3, 4]].astype(np.float64) >= 0.1
            assert r.on_count.tolist() == on.sum(1).tolist()


@pytest.mark.parametrize("transform", ["tanh", "none"])
def test_raw_band_decides_like_the_transform(transform):
    """Scans compare raw values and transform only those near the threshold: the same
    answer as transforming all, for thresholds near 0, near +-1, beyond, and at values."""
    from hiddenscope.server.engine.onrule import is_on, is_on_raw

    rng = np.random.default_rng(3)
    raw = (rng.standard_normal(200_000) * rng.choice([0.01, 1, 5, 30], 200_000)).astype(np.float32)
    raw[:7] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 9.0, -9.0]
    values = apply_transform(raw, transform)
    picks = values[rng.integers(0, raw.size, 40)]
    for threshold in [*picks.tolist(), 0.0, 1e-30, -1e-30, 0.3, -0.999999, 0.99999994, 1.0,
                      -1.0, 1.0000001, -1.0000001, 5.0, -5.0, 1e300, -1e300]:
        np.testing.assert_array_equal(is_on_raw(raw, threshold, transform),
                                      is_on(values, threshold), err_msg=str(threshold))


def test_raw_band_with_more_values_than_its_buffer():
    """Over 65,536 raw values inside the band (all near the threshold's arctanh, NaN among
    them): each is transformed and compared, none is left out."""
    from hiddenscope.server.engine.onrule import is_on, is_on_raw

    rng = np.random.default_rng(8)
    x = np.float32(0.31)
    raw = np.nextafter(np.full(300_000, x), rng.choice([-np.inf, np.inf], 300_000)).astype(
        np.float32)
    raw[rng.integers(0, raw.size, 5_000)] = np.nan
    raw[::7] = x
    threshold = float(apply_transform(np.array([x]), "tanh")[0])
    values = apply_transform(raw, "tanh")
    got = is_on_raw(raw.reshape(600, 500), threshold, "tanh")
    np.testing.assert_array_equal(got, is_on(values, threshold).reshape(600, 500))
    assert 0 < got.sum() < raw.size


@pytest.mark.parametrize("cells, message", [
    ([2**63], "cells: 9223372036854775808 is out of range"),
    ([10**30, 1], "cells: 1000000000000000000000000000000 is out of range"),
    ([-2**70], "is negative"),
])
def test_huge_cell_ids_are_named_not_wrapped(cells, message):
    states, offsets = make_states(13, [20], 4)
    with pytest.raises(EngineError, match=message):
        SourceEngine(ArraySource(states, offsets)).match(MatchQuery(cells))
