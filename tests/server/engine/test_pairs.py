"""PairSweep (engine/pairs.py: candidates walked from each start step, |S| <= 64) against
the brute-force oracle and the event sweep, including resumes of a full output buffer and
the tiers below the cut that are only counted (hist[0])."""
from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import PROPERTY, make_states
from hiddenscope.server.engine import apply_transform
from hiddenscope.server.engine.candidates import (
    CandidateSweep,
    PairSweep,
    fits_pairs,
    new_sweep,
    top_tiers,
)
from hiddenscope.server.engine.onrule import is_on, pack_on
from hypothesis import given
from hypothesis import strategies as st
from oracle import match as oracle_match


def run(kind, on, offsets, zl, zr, min_len, max_len, min_ov, limit, cap=None, block=13):
    """Feed ``on: bool[T, m]`` in blocks of ``block`` steps; ``cap`` shrinks the output
    buffer (forces drains, resumes and a rising cut) and PairSweep's buffer of kept rows
    (forces its compaction in place and its growth)."""
    sweep = kind(on.shape[1], offsets, zl, zr, min_len, max_len, min_ov, limit)
    shrink(sweep, cap)
    for lo in range(0, on.shape[0], block):
        sweep.feed(lo, pack_on(on[lo : lo + block]))
    return sweep.finish()


def shrink(sweep, cap):
    if cap is not None:
        sweep.out = np.zeros((cap, 3), np.int64)
        if isinstance(sweep, PairSweep):
            sweep.kept = np.empty((cap, 3), np.int64)


def expected(states, offsets, transform, threshold, cells, zl, zr, min_ov, min_len, max_len,
             limit):
    """The oracle's candidates of the tiers ``top_tiers`` keeps, sorted, and the total."""
    every, total = oracle_match(states, offsets, transform, threshold, cells, zl, zr, min_ov,
                                min_len, max_len, 10**9)
    hist = np.bincount([r[3] for r in every], minlength=len(cells) + 1)
    reach = np.cumsum(hist[::-1])[::-1]
    full = np.flatnonzero(reach >= limit)
    cut = int(full[-1]) if full.size else min_ov
    return sorted((r[0], r[1], r[3]) for r in every if r[3] >= cut), total


def got(part, limit, min_ov):
    a, b, k, total = top_tiers([part], limit, min_ov)
    return sorted(zip(a.tolist(), b.tolist(), k.tolist(), strict=True)), total


@st.composite
def scenarios(draw):
    lengths = draw(st.lists(st.integers(1, 50), min_size=1, max_size=4)
                   .filter(lambda x: sum(x) <= 160))
    D = draw(st.integers(1, 70))
    states, offsets = make_states(draw(st.integers(0, 2**31)), lengths, D,
                                  nan_rate=draw(st.sampled_from([0.0, 0.05])),
                                  coarse=draw(st.booleans()))
    transform = draw(st.sampled_from(["tanh", "none"]))
    threshold = draw(st.floats(-1.0, 1.0, allow_nan=False))
    m = draw(st.integers(1, min(D, 64)))
    cells = sorted(draw(st.lists(st.integers(0, D - 1), min_size=m, max_size=m, unique=True)))
    return states, offsets, transform, threshold, cells


@PROPERTY
@given(scenarios(), st.data())
def test_pairs_equal_the_oracle(scenario, data):
    states, offsets, transform, threshold, cells = scenario
    zl, zr = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
    min_len, min_ov = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    longest = int(np.diff(offsets).max())
    max_len = data.draw(st.sampled_from([None, longest, longest + 5]))
    limit = data.draw(st.sampled_from([1, 3, 10, 10**6]))
    cap = data.draw(st.sampled_from([None, 1, 2, 5]))
    on = is_on(apply_transform(states[:, cells], transform), threshold)
    want = expected(states, offsets, transform, threshold, cells, zl, zr, min_ov, min_len,
                    max_len, limit)
    part = run(PairSweep, on, offsets, zl, zr, min_len, max_len, min_ov, limit, cap)
    assert got(part, limit, min_ov) == want
    # the event sweep gives the same tiers and total
    other = run(CandidateSweep, on, offsets, zl, zr, min_len, max_len, min_ov, limit)
    assert got(other, limit, min_ov) == want


@pytest.mark.parametrize("zl, zr", [(0, 0), (1, 0), (0, 1), (1, 1), (2, 3), (5, 4)])
def test_long_runs_and_a_tiny_buffer(zl, zr):
    """64 cells with long, shared and nested runs over several sequences, an output buffer
    of one row: every resume and every raise of the cut, against the event sweep."""
    rng = np.random.default_rng(zl * 10 + zr)
    T = 3000
    base = np.repeat(rng.random((T // 50 + 1, 64)) < 0.5, 50, axis=0)[:T]  # runs of 50
    on = base & (rng.random((T, 64)) < 0.97)  # broken up here and there
    on[:, 5] = True  # a cell on everywhere
    on[:, 6] = on[:, 7]  # two cells with identical runs
    offsets = np.array([0, 700, 701, 1900, T])
    for limit in (1, 50, 10**9):
        for cap in (1, 7, None):
            part = run(PairSweep, on, offsets, zl, zr, 1, None, 1, limit, cap, block=257)
            other = run(CandidateSweep, on, offsets, zl, zr, 1, None, 1, limit)
            assert got(part, limit, 1) == got(other, limit, 1)


def test_counted_tiers_keep_the_total():
    """With a one-row buffer the cut rises above min_overlap: the candidates below it are
    only counted (hist[0]), and the total still equals the event sweep's."""
    rng = np.random.default_rng(3)
    on = rng.random((2000, 30)) < 0.5
    offsets = np.array([0, 2000])
    rows, hist = run(PairSweep, on, offsets, 0, 0, 1, None, 1, 5, cap=1)
    _, want = run(CandidateSweep, on, offsets, 0, 0, 1, None, 1, 5)
    assert hist[0] > 0
    assert hist.sum() == want.sum()
    assert (rows[:, 2] >= np.flatnonzero(np.cumsum(want[::-1])[::-1] >= 5)[-1]).all()


def test_which_sweep_answers():
    offsets = np.array([0, 10, 30])
    assert fits_pairs(64, offsets, None) and fits_pairs(1, offsets, 20)
    assert not fits_pairs(65, offsets, None) and not fits_pairs(3, offsets, 19)
    assert isinstance(new_sweep(64, offsets, 0, 0, 1, None, 1, 5), PairSweep)
    assert isinstance(new_sweep(3, offsets, 0, 0, 1, 19, 1, 5), CandidateSweep)
    assert isinstance(new_sweep(65, offsets, 0, 0, 1, None, 1, 5), CandidateSweep)
    with pytest.raises(ValueError, match="m <= 64"):
        PairSweep(65, offsets, 0, 0, 1, None, 1, 5)


def test_word_buffers_are_reused_and_must_be_fed_whole():
    """A finished sweep's word buffer serves the next (its old bits never leak into an
    answer: each sweep equals the event sweep), and a sweep fed only part of its steps
    refuses to answer."""
    rng = np.random.default_rng(5)
    offsets = np.array([0, 900, 2000])
    for p in (0.9, 0.1, 0.5):  # dense, then sparse words in the same buffers
        on = rng.random((2000, 12)) < p
        part = run(PairSweep, on, offsets, 0, 0, 1, None, 1, 10)
        assert got(part, 10, 1) == got(run(CandidateSweep, on, offsets, 0, 0, 1, None, 1, 10),
                                       10, 1)
    sweep = PairSweep(12, offsets, 0, 0, 1, None, 1, 10)
    sweep.feed(0, pack_on(rng.random((1999, 12)) < 0.5))
    with pytest.raises(RuntimeError, match="fed 1999 of 2000 steps"):
        sweep.finish()


def run_split(on, offsets, cut, zl, zr, min_len, min_ov, limit, caps):
    """What the engine does on two threads: one PairSweep per half of the sequences (split at
    sequence ``cut``, each with its own output buffer of ``caps[h]`` rows, cut and counts),
    merged by ``top_tiers``."""
    parts = []
    for h, bounds in enumerate((offsets[: cut + 1], offsets[cut:])):
        lo, hi = int(bounds[0]), int(bounds[-1])
        parts.append(run_at(PairSweep, on, bounds, lo, hi, zl, zr, min_len, min_ov, limit,
                            caps[h]))
    return parts


def run_at(kind, on, bounds, lo, hi, zl, zr, min_len, min_ov, limit, cap):
    """A sweep of the steps ``lo .. hi - 1`` only (fed in global step numbers, as the
    engine's segments are)."""
    sweep = kind(on.shape[1], bounds, zl, zr, min_len, None, min_ov, limit)
    shrink(sweep, cap)
    for a in range(lo, hi, 11):
        sweep.feed(a, pack_on(on[a : min(hi, a + 11)]))
    return sweep.finish()


@PROPERTY
@given(scenarios(), st.data())
def test_two_halves_merged_equal_the_oracle(scenario, data):
    """Two halves of the sequences, each walked on its own (its own cut rises with its own
    buffer), merged: the oracle's tiers and total, also when one half has no candidate at
    all (its steps all off) and with sequences of length 1."""
    states, offsets, transform, threshold, cells = scenario
    if offsets.size < 3:  # one sequence: add a second (of length 1 or more) to split at
        extra = data.draw(st.integers(1, 20))
        states = np.concatenate([states, states[np.arange(extra) % states.shape[0]]])
        offsets = np.append(offsets, offsets[-1] + extra)
    cut = data.draw(st.integers(1, offsets.size - 2))
    blank = data.draw(st.sampled_from([None, 0, 1]))  # a half with every cell off
    if blank is not None:
        half = slice(0, offsets[cut]) if blank == 0 else slice(offsets[cut], None)
        states = states.copy()
        states[half] = np.nan  # never on, whatever the threshold and transform
    zl, zr = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
    min_len, min_ov = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    limit = data.draw(st.sampled_from([1, 2, 5, 10**6]))
    caps = (data.draw(st.sampled_from([None, 1, 3])), data.draw(st.sampled_from([None, 1, 3])))
    on = is_on(apply_transform(states[:, cells], transform), threshold)
    want = expected(states, offsets, transform, threshold, cells, zl, zr, min_ov, min_len,
                    None, limit)
    parts = run_split(on, offsets, cut, zl, zr, min_len, min_ov, limit, caps)
    assert merged(parts, limit, min_ov) == want
    if blank is not None:
        assert parts[blank][0].shape[0] == 0 and parts[blank][1].sum() == 0


@pytest.mark.parametrize("zl, zr", [(0, 0), (1, 0), (0, 1), (1, 1), (3, 2)])
def test_halves_of_long_runs_with_one_row_buffers(zl, zr):
    """Long shared runs cut at several sequence boundaries, halves with one-row buffers
    (their cuts rise apart), limits below and above the candidates: the merged answer
    equals one sweep over everything."""
    rng = np.random.default_rng(7 + zl + zr)
    T = 2400
    on = np.repeat(rng.random((T // 40 + 1, 40)) < 0.5, 40, axis=0)[:T] & (
        rng.random((T, 40)) < 0.95)
    offsets = np.array([0, 1, 600, 601, 1500, 2399, T])  # sequences of length 1 too
    for cut in (1, 3, 5):
        for limit in (1, 40, 10**9):
            whole = run_at(PairSweep, on, offsets, 0, T, zl, zr, 1, 1, limit, None)
            parts = run_split(on, offsets, cut, zl, zr, 1, 1, limit, (1, 1))
            assert merged(parts, limit, 1) == merged([whole], limit, 1)


def merged(parts, limit, min_ov):
    a, b, k, total = top_tiers(parts, limit, min_ov)
    return sorted(zip(a.tolist(), b.tolist(), k.tolist(), strict=True)), total
