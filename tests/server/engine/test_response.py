"""Expected response (engine/response.py) against a direct loop over every step."""
from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import make_states
from hiddenscope.server.engine import ArraySource, apply_transform
from hiddenscope.server.engine.response import response_matrix, top_words


def direct(states, offsets, transform, tokens, word_ids, cells):
    """Sum and count of h[t] - h[t-1] per (word, cell), one step at a time."""
    h = apply_transform(states, transform).astype(np.float64)
    starts = set(int(o) for o in offsets[:-1])
    sums = np.zeros((len(word_ids), len(cells)))
    counts = np.zeros((len(word_ids), len(cells)), dtype=np.int64)
    row = {int(w): i for i, w in enumerate(word_ids)}
    for t in range(h.shape[0]):
        if int(tokens[t]) not in row:
            continue
        for j, c in enumerate(cells):
            before = 0.0 if t in starts else h[t - 1, c]
            d = h[t, c] - before
            if np.isfinite(d):
                sums[row[int(tokens[t])], j] += d
                counts[row[int(tokens[t])], j] += 1
    return sums, counts


@pytest.mark.parametrize("chunk", [1, 5, 64, None])
@pytest.mark.parametrize("transform", ["tanh", "none"])
def test_matches_a_direct_loop(chunk, transform):
    states, offsets = make_states(3, [17, 1, 40, 9], 6, nan_rate=0.05)
    states[5, 2] = np.inf  # an infinite value: its changes are left out under 'none'
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 7, states.shape[0]).astype(np.int32)
    word_ids = np.array([3, 0, 6, 5])  # not sorted, and 1, 2, 4 not asked for
    src = ArraySource(states, offsets, transform)
    got = response_matrix(src, tokens, offsets, word_ids, chunk=chunk)
    sums, counts = direct(states, offsets, transform, tokens, word_ids, range(6))
    np.testing.assert_allclose(got.sums, sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got.counts, counts)
    np.testing.assert_array_equal(got.occurrences, [(tokens == w).sum() for w in word_ids])
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(got.mean(), np.where(counts > 0, sums / counts, np.nan))


def test_a_subset_of_cells_and_an_absent_word():
    states, offsets = make_states(5, [30, 30], 8)
    tokens = (np.arange(60) % 4).astype(np.int32)
    src = ArraySource(states, offsets, "tanh")
    got = response_matrix(src, tokens, offsets, np.array([1, 9]), cells=np.array([7, 2]), chunk=8)
    sums, counts = direct(states, offsets, "tanh", tokens, [1, 9], [7, 2])
    np.testing.assert_allclose(got.sums, sums, rtol=1e-12)
    np.testing.assert_array_equal(got.counts, counts)
    assert got.occurrences.tolist() == [15, 0]
    assert np.isnan(got.mean()[1]).all()  # word 9 is never read


def test_the_first_step_of_a_sequence_starts_from_zero():
    states = np.array([[0.5], [0.7], [0.2], [0.9]], np.float32)
    offsets = np.array([0, 2, 4])
    tokens = np.array([1, 1, 1, 2], np.int32)
    got = response_matrix(ArraySource(states, offsets), tokens, offsets, np.array([1, 2]))
    # word 1: 0.5 - 0, 0.7 - 0.5, 0.2 - 0 (a new sequence); word 2: 0.9 - 0.2
    np.testing.assert_allclose(got.mean()[:, 0], [(0.5 + 0.2 + 0.2) / 3, 0.7], rtol=1e-6)


def test_top_words_orders_and_filters():
    mean = np.array([0.5, -0.2, 0.5, 0.1, -0.9, np.nan, 0.0, 2.0])
    occ = np.array([10, 10, 10, 10, 10, 10, 10, 2])
    ids = np.array([4, 1, 2, 3, 0, 5, 6, 7])
    pos, neg = top_words(mean, occ, ids, limit=2, min_count=5)
    assert pos == [(2, 0.5, 10), (4, 0.5, 10)]  # tie by word id; word 7 has only 2 reads
    assert neg == [(0, -0.9, 10), (1, -0.2, 10)]
