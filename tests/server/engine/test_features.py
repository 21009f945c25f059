"""Correlation statistics (engine/features.py) against scipy.stats and a direct MI count."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from engine_helpers import make_states
from hiddenscope.server.engine import ArraySource, apply_transform
from hiddenscope.server.engine import features as F
from scipy import stats as sps


def data(seed=1, nan_rate=0.03, transform="tanh"):
    """Random states with NaN, a constant cell (3) and a cell that is NaN except once (4)."""
    states, offsets = make_states(seed, [50, 70, 37], 7, nan_rate=nan_rate, coarse=True)
    states[:, 3] = 0.25
    states[:, 4] = np.nan
    states[10, 4] = 1.0
    return ArraySource(states, offsets, transform), apply_transform(states, transform)


def features(T, seed=2):
    rng = np.random.default_rng(seed)
    scalar = np.round(rng.standard_normal(T), 1)
    scalar[rng.random(T) < 0.05] = np.nan  # steps left out for every cell
    indicator = (rng.random(T) < 0.3).astype(np.float64)
    return {"scalar": scalar, "indicator": indicator, "depth": rng.integers(0, 6, T) * 1.0}


def used(h, f, c):
    keep = np.isfinite(f) & np.isfinite(h[:, c].astype(np.float64))
    return h[keep, c].astype(np.float64), f[keep]


@pytest.mark.parametrize("block", [10_000, 4 * 157, 100], ids=["one", "two-blocks", "spilled"])
@pytest.mark.parametrize("name", ["scalar", "indicator", "depth"])
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_against_scipy(method, name, block, monkeypatch):
    monkeypatch.setattr(F, "CHUNK_VALUES", 7 * 13)  # many small chunks
    monkeypatch.setattr(F, "BLOCK_VALUES", block)  # all 7 cells, blocks of 4, or spilled
    spilled = []
    real = F.tempfile.TemporaryDirectory
    monkeypatch.setattr(F.tempfile, "TemporaryDirectory",
                        lambda **kw: spilled.append(1) or real(**kw))
    src, h = data()
    f = features(h.shape[0])[name]
    got = F.correlate(src, f, method)
    assert got.steps == int(np.isfinite(f).sum())
    for c in range(h.shape[1]):
        x, y = used(h, f, c)
        assert got.n[c] == x.size
        if c in (3, 4):  # constant, or a single finite value: no variance
            assert math.isnan(got.scores[c]) and math.isnan(got.p[c])
            continue
        want = (sps.pearsonr if method == "pearson" else sps.spearmanr)(x, y)
        assert got.scores[c] == pytest.approx(want.statistic, abs=1e-9)
        assert got.p[c] == pytest.approx(want.pvalue, rel=1e-6, abs=1e-12)
    order = got.ranking()
    assert set(order[-2:].tolist()) == {3, 4}  # no-variance cells come last
    assert bool(spilled) == (method != "pearson" and block == 100)
    finite = [c for c in order if not math.isnan(got.scores[c])]
    assert [abs(got.scores[c]) for c in finite] == sorted((abs(got.scores[c]) for c in finite),
                                                          reverse=True)


def direct_mi_bits(x, y_labels):
    """MI in bits from the definition: bins by the sorted values, then counting pairs."""
    s = sorted(x)
    n = len(x)
    edges = [s[max((k * n) // 16 - 1, 0)] for k in range(1, 16)]
    bins = [sum(1 for e in edges if e < v) for v in x]
    pair, pa, pb = Counter(zip(bins, y_labels, strict=False)), Counter(bins), Counter(y_labels)
    return sum(c / n * math.log2((c / n) / (pa[a] / n * pb[b] / n)) for (a, b), c in pair.items())


@pytest.mark.parametrize("name", ["scalar", "indicator", "depth"])
def test_mi_against_a_direct_count(name, monkeypatch):
    monkeypatch.setattr(F, "BLOCK_VALUES", 2 * 150)
    src, h = data(seed=4)
    f = features(h.shape[0], seed=5)[name]
    got = F.correlate(src, f, "mi")
    finite_f = np.isfinite(f)
    # a scalar feature is binned once, over every step where it is finite
    binned = np.full(f.shape, np.nan)
    binned[finite_f] = F.equal_frequency_bins(f[finite_f])
    for c in range(h.shape[1]):
        x, y = used(h, f, c)
        yb = used(h, binned, c)[1]
        if c in (3, 4):
            assert math.isnan(got.scores[c])
            continue
        distinct = sorted(set(y.tolist()))
        if len(distinct) <= 16:
            labels = [distinct.index(v) for v in y.tolist()]
        else:  # the scalar feature is binned like the cells
            labels = yb.tolist()
        assert got.scores[c] == pytest.approx(direct_mi_bits(x.tolist(), labels), abs=1e-12)
        assert math.isnan(got.p[c])


def test_mi_of_a_categorical_feature_uses_its_ids():
    src, h = data(seed=6, nan_rate=0)
    ids = (np.arange(h.shape[0]) % 40).astype(np.float64)  # 40 categories, not binned
    got = F.correlate(src, ids, "mi", categorical=True)
    assert got.scores[0] == pytest.approx(direct_mi_bits(h[:, 0].tolist(), ids.tolist()))


def test_equal_frequency_bins_keep_ties_together():
    x = np.array([0.0] * 10 + [1.0] * 6)
    bins = F.equal_frequency_bins(x)
    assert set(bins[:10].tolist()) == {0} and set(bins[10:].tolist()) == {10}
    assert np.bincount(F.equal_frequency_bins(np.arange(32.0))).tolist() == [2] * 16
    assert np.bincount(F.equal_frequency_bins(np.arange(40.0))).sum() == 40
    assert F.equal_frequency_bins(np.array([3.0, 1.0, 2.0])).tolist() == [15, 0, 10]  # n < 16


@pytest.mark.parametrize("method", F.METHODS)
def test_a_label_absent_from_the_data_gives_no_scores(method):
    src, h = data()
    got = F.correlate(src, np.zeros(h.shape[0]), method)
    assert np.isnan(got.scores).all() and np.isnan(got.p).all()


def test_a_perfect_correlation_and_a_large_shift():
    """One-pass sums are shifted: a cell of values near 1e4 still correlates exactly."""
    T = 500
    t = np.arange(T, dtype=np.float64)
    states = np.stack([1e4 + t * 1e-2, -t, np.sin(t)], 1).astype(np.float32)
    got = F.correlate(ArraySource(states), t, "pearson")
    want = sps.pearsonr(states[:, 0].astype(np.float64), t).statistic
    assert got.scores[0] == pytest.approx(want, abs=1e-9)
    assert got.scores[1] == pytest.approx(-1.0) and got.p[1] == 0.0
    assert got.ranking()[0] in (0, 1)


def test_the_cache_keeps_the_newest():
    cache = F.ScoreCache(size=2)
    a = F.CellScores("mi", np.zeros(1), np.zeros(1), np.zeros(1, np.int64), 1)
    cache.put(("x",), a)
    cache.put(("y",), a)
    assert cache.get(("x",)) is a  # x is now the newest
    cache.put(("z",), a)
    assert cache.get(("y",)) is None and cache.get(("x",)) is a


def test_radix_order_and_rank_sums_against_numpy():
    from hiddenscope.server.engine.ranks import binned_joint, radix_order, rank_sums

    rng = np.random.default_rng(9)
    x = np.concatenate([rng.standard_normal(500), [np.inf, -np.inf, 0.0, 1e-40, -1e-40, 3.5, 3.5],
                        np.round(rng.standard_normal(300), 1)]).astype(np.float32)
    order = radix_order(x)
    assert np.array_equal(x[order], np.sort(x))
    rf = sps.rankdata(rng.random(x.size)) - (x.size + 1) / 2
    rx = sps.rankdata(x) - (x.size + 1) / 2  # average ranks, ties included
    cov, var = rank_sums(x, rf)
    assert cov == pytest.approx(float(rx @ rf), rel=1e-12)
    assert var == pytest.approx(float(rx @ rx), rel=1e-12)
    edges = np.array([-1.0, 0.0, 0.0, 3.5], np.float32)
    cats = rng.integers(0, 3, x.size)
    want = np.zeros((5, 3), np.int64)
    for v, c in zip(x, cats, strict=True):
        want[int((edges < v).sum()), c] += 1
    assert np.array_equal(binned_joint(x, edges, cats, 3), want)
