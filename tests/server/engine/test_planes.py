"""|S2| from the per-threshold on-bit planes (planes.py) against the brute-force oracle:
many cells (several 64-bit words), planes reused, shared and evicted across queries, and
large ties at the limit's cut forced on small data."""
from __future__ import annotations

import gc
import tempfile

import numpy as np
import pytest
from engine_helpers import PROPERTY, engines, make_states
from hiddenscope.server.engine import (
    ArraySource,
    MatchQuery,
    SourceEngine,
    apply_transform,
    planes,
)
from hiddenscope.server.engine.planes import Budget, PlaneCache, count_bits
from hypothesis import given
from hypothesis import strategies as st
from oracle import match as oracle_match
from oracle import on_matrix
from oracle import s2 as oracle_s2


def _ranges(rng, offsets, n, pad):
    T = int(offsets[-1])
    a = rng.integers(0, T, n)
    seq = np.searchsorted(offsets, a, side="right") - 1
    b = np.minimum(a + rng.integers(0, 12, n), offsets[seq + 1] - 1)
    lo = np.maximum(offsets[seq], a - rng.integers(0, pad + 1, n))
    hi = np.minimum(offsets[seq + 1] - 1, b + rng.integers(0, pad + 1, n))
    return a, b, lo, hi, seq


@PROPERTY
@given(st.integers(0, 2**31), st.lists(st.integers(1, 40), min_size=1, max_size=4),
       st.integers(1, 200), st.sampled_from(["tanh", "none"]), st.booleans(),
       st.sampled_from([0, 8 * 4 * 200, 1 << 30]))
def test_count_s2_equals_oracle(seed, lengths, D, transform, coarse, budget):
    states, offsets = make_states(seed, lengths, D, nan_rate=0.03, coarse=coarse)
    source = ArraySource(states, offsets, transform, fingerprint="planes")
    cache = PlaneCache(source, budget=Budget(budget))
    rng = np.random.default_rng(seed)
    values = apply_transform(states, transform)
    finite = values[np.isfinite(values)]
    thresholds = [0.25, -0.5, float(finite[0]) if finite.size else 0.0, 0.25]
    for threshold in thresholds:  # the last one finds its plane partly filled (or evicted)
        on = on_matrix(states, transform, threshold)
        a, b, lo, hi, seq = _ranges(rng, offsets, int(rng.integers(0, 60)), 3)
        got = cache.count_s2(threshold, a, b, lo, hi)
        want = [bin(oracle_s2(on, int(offsets[q]), int(offsets[q + 1]) - 1, int(x), int(y),
                              int(x - p), int(z - y))).count("1")
                for x, y, p, z, q in zip(a, b, lo, hi, seq, strict=True)]
        assert got.tolist() == want


def test_count_bits_words_and_padding():
    """A direct check of the kernel: every bit pattern of 3 words, cells past D never count."""
    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**63, size=(50, 3), dtype=np.int64).view(np.uint64) | np.uint64(1)
    words[:, 2] &= np.uint64((1 << 10) - 1)  # D = 138: bits 10.. of the last word are clear
    bits = np.unpackbits(words.view(np.uint8), axis=1, bitorder="little").astype(bool)
    a, b = np.array([0, 5, 10, 49, 20]), np.array([0, 5, 12, 49, 20])
    lo, hi = np.array([0, 3, 10, 40, 20]), np.array([0, 9, 14, 49, 20])
    want = [int((bits[x : y + 1].all(0) & ~bits[p:x].any(0) & ~bits[y + 1 : z + 1].any(0)).sum())
            for x, y, p, z in zip(a, b, lo, hi, strict=True)]
    assert count_bits(words, a, b, lo, hi).tolist() == want
    assert want[0] == int(bits[0].sum()) and want[0] > 64


def _tie_states(seed: int, T: int, D: int, period: int) -> tuple[np.ndarray, np.ndarray]:
    """The first 6 cells on except one step in ``period`` (different per cell), the rest
    noise: thousands of candidates with ``|I| = |S|`` tie at the top tier."""
    rng = np.random.default_rng(seed)
    states, offsets = make_states(seed, [T // 3, T // 3, T - 2 * (T // 3)], D)
    for c in range(6):
        states[:, c] = 2.0
        states[(np.arange(T) + c * 3) % period == 0, c] = -2.0
    states[rng.random((T, D)) < 0.01] = np.nan
    return states, offsets


def test_large_tie_equals_oracle():
    states, offsets = _tie_states(5, 660, 140, 7)
    cells = (0, 1, 2, 3, 4, 5)
    oracle = {}
    with tempfile.TemporaryDirectory() as folder:
        engs = engines(states, offsets, "tanh", folder)
        for pads in ((0, 0), (1, 1), (0, 2)):
            for threshold in (0.3, 0.0, 0.3):  # a plane filled, another, the first again
                if (pads, threshold) not in oracle:
                    oracle[pads, threshold] = oracle_match(states, offsets, "tanh", threshold,
                                                           cells, *pads, 1, 1, None, 10**9)
                everything, total = oracle[pads, threshold]
                tier = sum(1 for r in everything if r[3] == everything[0][3])
                assert pads != (0, 0) or tier > 60  # the tie is real
                for limit in (1, 7, 50):
                    query = MatchQuery(cells, threshold, *pads, limit=limit)
                    for engine in engs:
                        got = engine.match(query)
                        assert got.candidates == total
                        assert [(m.start, m.end, m.length, m.overlap, m.union, m.extra)
                                for m in got.matches] == everything[:limit]


def test_tie_with_no_cached_plane():
    """A budget too small for one plane: every query fills a plane of its own."""
    states, offsets = _tie_states(9, 600, 70, 5)
    source = ArraySource(states, offsets, "tanh", fingerprint="tie")
    engine = SourceEngine(source, chunk=11)
    engine.planes = PlaneCache(source, budget=Budget(0))
    for threshold in (0.3, 0.3):
        query = MatchQuery((0, 1, 2, 3, 4, 5), threshold, limit=9)
        everything, total = oracle_match(states, offsets, "tanh", threshold, query.cells,
                                         0, 0, 1, 1, None, 10**9)
        got = engine.match(query)
        assert got.candidates == total
        assert [(m.start, m.end, m.length, m.overlap, m.union, m.extra)
                for m in got.matches] == everything[:9]
        assert not engine.planes.planes


def test_engines_share_one_budget():
    """Two sources sharing a budget for one plane: each query evicts the other's plane,
    and every answer stays the oracle's."""
    states, offsets = make_states(4, [90, 110], 100)
    sources = [ArraySource(x, offsets, "tanh", fingerprint=f"s{i}")
               for i, x in enumerate((states, -states))]
    budget = Budget(200 * 2 * 8)  # one plane of T = 200 steps x 2 words
    caches = [PlaneCache(s, budget=budget) for s in sources]
    rng = np.random.default_rng(4)
    for turn in range(6):
        cache, x = caches[turn % 2], (states, -states)[turn % 2]
        threshold = (0.2, 0.2, 0.5, 0.5, 0.2, 0.2)[turn]
        a, b, lo, hi, seq = _ranges(rng, offsets, 40, 2)
        on = on_matrix(x, "tanh", threshold)
        want = [bin(oracle_s2(on, int(offsets[q]), int(offsets[q + 1]) - 1, int(u), int(v),
                              int(u - p), int(z - v))).count("1")
                for u, v, p, z, q in zip(a, b, lo, hi, seq, strict=True)]
        assert cache.count_s2(threshold, a, b, lo, hi).tolist() == want
        assert list(cache.planes) == [float(np.float32(threshold))]
        assert not caches[1 - turn % 2].planes  # evicted
        assert len(budget.kept) == 1
    del cache, caches[1]  # the engine holding the kept plane goes: its entry goes too
    gc.collect()
    assert not budget.kept


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fill_in_batches_and_threads(monkeypatch, threads):
    """Small read batches (dense and sparse), filled and counted by several threads, later
    queries finding most steps filled: the oracle's |S2|."""
    monkeypatch.setattr(planes, "_EVAL_CELLS", 7 * 70)  # 7 steps per batch at D = 70
    monkeypatch.setattr(planes, "_SPLIT", 16)  # count_bits on several threads from 32 ranges
    states, offsets = make_states(21, [150, 90, 160], 70, nan_rate=0.02)
    source = ArraySource(states, offsets, "tanh", fingerprint="batches")
    cache = PlaneCache(source, budget=Budget(1 << 30), threads=threads)
    rng = np.random.default_rng(21)
    for threshold, n in ((0.2, 300), (0.2, 40), (-0.3, 15), (-0.3, 400)):
        on = on_matrix(states, "tanh", threshold)
        a, b, lo, hi, seq = _ranges(rng, offsets, n, 2)
        want = [bin(oracle_s2(on, int(offsets[q]), int(offsets[q + 1]) - 1, int(u), int(v),
                              int(u - p), int(z - v))).count("1")
                for u, v, p, z, q in zip(a, b, lo, hi, seq, strict=True)]
        assert cache.count_s2(threshold, a, b, lo, hi).tolist() == want


@pytest.mark.parametrize("runs", [1, 127, 128, 129, 1000])
def test_scattered_reads_equal_read_steps(tmp_path, runs):
    """read_scattered splits many runs of steps into concurrent read_steps calls (the
    store's pread path); the rows come back complete and in order, from memory and from
    the store's file."""
    from hiddenscope.server.engine.scan import read_scattered
    from hiddenscope.server.store import open_dataset
    from hiddenscope.server.store.synthetic import ensure_dataset

    rng = np.random.default_rng(runs)
    T = 6000
    starts = np.sort(rng.choice(np.arange(0, T, 3), runs, replace=False))
    steps = np.unique(np.concatenate([starts, starts + rng.integers(0, 2, runs)]))
    states = rng.standard_normal((T, 5)).astype(np.float32)
    np.testing.assert_array_equal(read_scattered(ArraySource(states), steps), states[steps])
    folder = ensure_dataset(tmp_path / "d", T=T, D=6, layers=1, kinds=("cell",), sequences=3)
    ds = open_dataset(folder)
    source = next(iter(ds.sources.values()))
    np.testing.assert_array_equal(read_scattered(source, steps),
                                  np.asarray(source.read_rows(0, T))[steps])
    ds.close()


def test_filled_ranges_are_not_read_again():
    """A query whose ranges are all filled (more than 1/8 of the steps) is answered from
    the plane after one look at its count of filled steps: no read; a new range still is."""
    states, offsets = make_states(8, [120, 80], 30, nan_rate=0.02)
    source = ArraySource(states, offsets, "tanh", fingerprint="filled")
    cache = PlaneCache(source, budget=Budget(1 << 30))
    rng = np.random.default_rng(8)
    a, b, lo, hi, seq = _ranges(rng, offsets, 80, 2)
    first = cache.count_s2(0.1, a, b, lo, hi)
    reads = []
    source.read_rows = lambda *x: reads.append(x) or states[x[0] : x[1]]
    source.read_steps = lambda s: reads.append(s) or states[s]
    assert cache.count_s2(0.1, a, b, lo, hi).tolist() == first.tolist() and not reads
    on = on_matrix(states, "tanh", 0.1)
    x, y = int(offsets[1]), int(offsets[1]) + 3  # filled or not: the same |S2|
    want = bin(oracle_s2(on, int(offsets[1]), int(offsets[2]) - 1, x, y, 0, 0)).count("1")
    one = np.array([x]), np.array([y])
    assert cache.count_s2(0.1, *one, *one).tolist() == [want]
