"""Align: streamed Pearson against numpy.corrcoef, the match order, and the same-tokens check."""
from __future__ import annotations

import numpy as np
import pytest
from hiddenscope.server.engine import ArraySource, EngineError
from hiddenscope.server.engine import align as A


def _pair(T=3000, Da=9, Db=13, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((T, Da)) * 1.5 + 4).astype(np.float32)  # far from 0: tests the shift
    mix = rng.standard_normal((Da, Db))
    Y = (X @ mix * 0.3 + rng.standard_normal((T, Db))).astype(np.float32)
    return X, Y


@pytest.mark.parametrize("transforms", [("none", "none"), ("tanh", "none"), ("none", "tanh")])
@pytest.mark.parametrize("chunk_values", [A.CHUNK_VALUES, 1000])  # one chunk, many chunks
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_correlate_matches_numpy_corrcoef(monkeypatch, transforms, chunk_values, threads):
    monkeypatch.setattr(A, "CHUNK_VALUES", chunk_values)
    X, Y = _pair()
    a, b = ArraySource(X, transform=transforms[0]), ArraySource(Y, transform=transforms[1])
    cells = np.array([0, 4, 8])
    r = A.correlate(a, cells, b, threads=threads)
    fa = np.tanh if transforms[0] == "tanh" else (lambda v: v)
    fb = np.tanh if transforms[1] == "tanh" else (lambda v: v)
    ref = np.corrcoef(fa(X[:, cells].astype(np.float64)).T, fb(Y.astype(np.float64)).T)[:3, 3:]
    np.testing.assert_allclose(r, ref, atol=2e-6)


def test_same_source_is_read_once_and_a_cell_matches_itself_perfectly():
    X, _ = _pair()
    reads = []

    class Counting(ArraySource):
        def read_rows(self, start, stop):
            reads.append((start, stop))
            return super().read_rows(start, stop)

    src = Counting(X)
    r = A.correlate(src, np.array([2, 5]), src)
    # the corpus once, and its first chunk again for the shift
    assert sum(stop - start for start, stop in reads) == 2 * X.shape[0]  # one chunk: T < 6452
    np.testing.assert_allclose([r[0, 2], r[1, 5]], [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(r, np.corrcoef(X.T.astype(np.float64))[[2, 5]], atol=2e-6)


@pytest.mark.parametrize("chunk_values", [A.CHUNK_VALUES, 1000])  # the NaN in the 2nd part
def test_constant_and_non_finite_cells_have_no_correlation(monkeypatch, chunk_values):
    monkeypatch.setattr(A, "CHUNK_VALUES", chunk_values)
    X, Y = _pair(T=500)
    Y[:, 3] = 0.25
    Y[400, 7] = np.nan
    X[7, 1] = np.inf
    r = A.correlate(ArraySource(X), np.array([0, 1]), ArraySource(Y))
    assert np.isnan(r[:, 3]).all() and np.isnan(r[:, 7]).all() and np.isnan(r[1]).all()
    keep = [c for c in range(Y.shape[1]) if c not in (3, 7)]
    ref = np.corrcoef(X[:, 0].astype(np.float64), Y[:, keep].astype(np.float64).T)[0, 1:]
    np.testing.assert_allclose(r[0, keep], ref, atol=2e-6)


def test_best_matches_highest_first_without_nan_or_itself():
    r = np.array([[0.2, np.nan, 0.9, -0.95, 0.9], [1.0, 0.5, 0.1, 0.3, 0.4]])
    m = A.best_matches(r, np.array([0, 1]), 3)
    assert m[0].cells.tolist() == [2, 4, 0] and m[0].r.tolist() == [0.9, 0.9, 0.2]
    same = A.best_matches(r, np.array([0, 1]), 2, same_source=True)
    assert same[0].cells.tolist() == [2, 4]  # cell 0 is not its own match
    assert same[1].cells.tolist() == [0, 4]  # nor cell 1
    assert m[1].cell == 1


def test_different_lengths_are_refused():
    with pytest.raises(EngineError, match="to_source: it has 10 steps, the source 12"):
        A.correlate(ArraySource(np.zeros((12, 2), np.float32)), np.array([0]),
                    ArraySource(np.zeros((10, 2), np.float32)))


def test_token_difference_compares_strings_not_ids():
    va, vb = ["a", "b", "c"], ["c", "a", "b", "zz"]
    ta = np.array([0, 1, 2, 0, 1])
    assert A.token_difference(ta, va, np.array([1, 2, 0, 1, 2]), vb) is None
    assert A.token_difference(ta, va, np.array([1, 2, 0, 3, 2]), vb) == (
        "step 3 reads 'a' in one and 'zz' in the other")
    assert "one has 5 steps and the other 4 (the first 4 agree)" == A.token_difference(
        ta, va, np.array([1, 2, 0, 1]), vb)
