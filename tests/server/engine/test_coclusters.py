"""Co-clusters: every cell and word in exactly one non-empty cluster, planted blocks found
whatever their sign, links against block means computed directly, word choice against a count."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hiddenscope.server.engine import EngineError
from hiddenscope.server.engine import coclusters as C
from hypothesis import given, settings
from hypothesis import strategies as st


def _planted(D=60, W=30, k=3, seed=0):
    """R with k blocks on the diagonal, alternating sign, plus weak noise."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(np.arange(D) % k)
    cols = rng.permutation(np.arange(W) % k)
    R = rng.normal(0, 0.01, (D, W))
    for b in range(k):
        R[np.ix_(rows == b, cols == b)] += (1 if b % 2 == 0 else -1) * rng.uniform(0.5, 1.0)
    return R, rows, cols


def _partition(clusters, n):
    flat = np.concatenate(clusters)
    return sorted(flat.tolist()) == list(range(n)) and all(c.size for c in clusters)


def test_frequent_words_against_a_counter():
    rng = np.random.default_rng(0)
    tokens = rng.zipf(1.6, 5000) % 97
    counts = Counter(tokens.tolist())
    ranked = sorted((w for w in counts if counts[w] >= 4), key=lambda w: (-counts[w], w))[:20]
    ids, got = C.frequent_words(tokens, 97, 20, 4)
    assert ids.tolist() == ranked
    assert got.tolist() == [counts[w] for w in ranked]
    assert C.frequent_words(tokens, 97, 20, 10**6)[0].size == 0


def test_planted_blocks_of_either_sign_are_found():
    R, rows, cols = _planted()
    cc = C.cocluster(R, 3, seed=0)
    assert len(cc.cell_clusters) == 3 and len(cc.word_clusters) == 3
    found_rows = {frozenset(c.tolist()) for c in cc.cell_clusters}
    assert found_rows == {frozenset(np.flatnonzero(rows == b).tolist()) for b in range(3)}
    found_cols = {frozenset(c.tolist()) for c in cc.word_clusters}
    assert found_cols == {frozenset(np.flatnonzero(cols == b).tolist()) for b in range(3)}


def test_links_are_block_means_heaviest_first():
    R, _, _ = _planted(seed=3)
    cc = C.cocluster(R, 3, seed=1)
    assert len(cc.links) == 9
    for i, j, strength, weight in cc.links:
        block = R[np.ix_(cc.cell_clusters[i], cc.word_clusters[j])]
        assert strength == pytest.approx(block.mean())
        assert weight == pytest.approx(np.abs(block).mean())
    weights = [link[3] for link in cc.links]
    assert weights == sorted(weights, reverse=True)
    # the heaviest links join the planted blocks, with their sign
    for _i, _j, strength, _w in cc.links[:3]:
        assert abs(strength) > 0.4


@settings(max_examples=40, deadline=None)
@given(D=st.integers(1, 30), W=st.integers(1, 30), k=st.integers(1, 8), seed=st.integers(0, 9),
       zeros=st.booleans())
def test_every_cell_and_word_in_exactly_one_cluster(D, W, k, seed, zeros):
    rng = np.random.default_rng(seed)
    R = rng.standard_normal((D, W))
    if zeros:  # whole rows and columns without response, and missing values
        R[rng.random(D) < 0.3] = 0
        R[:, rng.random(W) < 0.3] = np.nan
    if k > min(D, W):
        with pytest.raises(EngineError, match=f"k: {k} is more than"):
            C.cocluster(R, k, seed)
        return
    cc = C.cocluster(R, k, seed)
    assert _partition(cc.cell_clusters, D) and _partition(cc.word_clusters, W)
    assert len(cc.cell_clusters) <= k and len(cc.word_clusters) <= k
    assert len(cc.links) == len(cc.cell_clusters) * len(cc.word_clusters)


def test_a_cluster_left_empty_is_dropped(monkeypatch):
    import sklearn.cluster

    class LeavesOneEmpty:
        """SpectralCoclustering that uses labels 0 and 2 of 3 for rows, 0..2 for columns."""

        def __init__(self, n_clusters, **options):
            self.k = n_clusters

        def fit(self, A):
            self.row_labels_ = np.where(np.arange(A.shape[0]) % 2 == 0, 0, 2)
            self.column_labels_ = np.arange(A.shape[1]) % self.k

    monkeypatch.setattr(sklearn.cluster, "SpectralCoclustering", LeavesOneEmpty)
    cc = C.cocluster(np.ones((6, 5)), 3, 0)
    assert [c.tolist() for c in cc.cell_clusters] == [[0, 2, 4], [1, 3, 5]]
    assert [c.tolist() for c in cc.word_clusters] == [[0, 3], [1, 4], [2]]
    assert len(cc.links) == 6


def test_words_in_a_cluster_follow_the_given_order():
    R, _, cols = _planted(seed=4)
    order = np.arange(R.shape[1])[::-1]  # rank: the last column first
    cc = C.cocluster(R, 3, seed=0, order=order)
    for words in cc.word_clusters:
        assert words.tolist() == sorted(words.tolist(), reverse=True)


def test_affinity_is_nonnegative_with_a_floor():
    A = C.affinity(np.array([[-2.0, 0.0], [np.nan, 1.0]]))
    assert A.min() > 0 and A[0, 0] == pytest.approx(2.0) and A[1, 1] == pytest.approx(1.0)
    assert np.all(C.affinity(np.zeros((2, 3))) == 1.0)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("lengths", [[300], [40, 7, 120, 1, 90, 42]])
def test_expected_response_in_parts_equals_one_pass(threads, lengths):
    """Parts of whole sequences summed together give response.py's one-pass matrix."""
    from hiddenscope.server.engine import ArraySource
    from hiddenscope.server.engine.response import response_matrix

    rng = np.random.default_rng(len(lengths) + threads)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    T = int(offsets[-1])
    states = rng.standard_normal((T, 6)).astype(np.float32)
    states[rng.random((T, 6)) < 0.02] = np.nan
    tokens = rng.integers(0, 9, T).astype(np.int32)
    source = ArraySource(states, offsets, "tanh")
    ids = np.array([4, 0, 7, 2], dtype=np.int64)
    got = C.expected_response(source, tokens, offsets, ids, threads=threads)
    want = response_matrix(source, tokens, offsets, ids).mean().T
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got.flags.c_contiguous and got.shape == (6, 4)
