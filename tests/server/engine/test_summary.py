"""Match summary (engine/summary.py) over the brute-force oracle's full candidate list."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from engine_helpers import make_states
from hiddenscope.server.engine import summary as S
from oracle import match as oracle_match


def candidates(seed, threshold=0.3, zl=0, zr=0, min_len=1):
    states, offsets = make_states(seed, [40, 25, 33], 6, nan_rate=0.02)
    rows, total = oracle_match(states, offsets, "tanh", threshold, [0, 2, 5], zl, zr,
                               min_len=min_len, limit=None)
    assert len(rows) == total > 0
    starts = np.array([r[0] for r in rows], np.int64)
    ends = np.array([r[1] for r in rows], np.int64)
    return starts, ends, int(offsets[-1])


def brute_phrases(tokens, vocab, starts, ends, limit):
    texts = [" ".join(vocab[tokens[a : b + 1]].tolist()) for a, b in zip(starts, ends, strict=True)]
    first = {}
    for a, t in sorted(zip(starts.tolist(), texts, strict=True)):
        first.setdefault(t, a)
    counts = Counter(texts)
    ranked = sorted(counts, key=lambda t: (-counts[t], first[t], len(t.split())))[:limit]
    return [{"text": t, "count": counts[t]} for t in ranked]


@pytest.mark.parametrize("seed,zl,zr,min_len", [(1, 0, 0, 1), (2, 1, 1, 1), (3, 0, 2, 2)])
def test_against_the_oracle_candidates(seed, zl, zr, min_len):
    starts, ends, T = candidates(seed, zl=zl, zr=zr, min_len=min_len)
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 3, T).astype(np.int32)  # few words: many repeated phrases
    vocab = np.array(["(", "4", ")"], dtype=object)
    lens = Counter((ends - starts + 1).tolist())
    assert S.lengths(starts, ends) == [[k, lens[k]] for k in sorted(lens)]
    by_start = np.lexsort((ends, starts))  # the engine's order (another code path)
    for limit in (1, 5, 20):
        want = brute_phrases(tokens, vocab, starts, ends, limit)
        assert S.phrases(tokens, vocab, starts, ends, limit) == want
        assert S.phrases(tokens, vocab, starts[by_start], ends[by_start], limit) == want

    cover = S.coverage(T, starts, ends)
    want = [sum(a <= t <= b for a, b in zip(starts, ends, strict=True)) for t in range(T)]
    assert cover.tolist() == want

    ids = rng.integers(0, 4, T)
    ids[ids == 2] = 1  # label 2 absent from the source
    labels = ["a", "b", "c", "d"]
    rows = S.categorical_enrichment(ids, labels, cover)
    total = sum(want)
    for row in rows:
        i = labels.index(row["label"])
        inside = sum(w for t, w in enumerate(want) if ids[t] == i) / total
        overall = float(np.mean(ids == i))
        assert row["in_matches"] == pytest.approx(inside)
        assert row["overall"] == pytest.approx(overall)
        assert row["ratio"] == pytest.approx(inside / overall)
    assert "c" not in [r["label"] for r in rows]
    assert [r["in_matches"] for r in rows] == sorted((r["in_matches"] for r in rows), reverse=True)

    values = rng.standard_normal(T)
    values[::7] = np.nan
    (row,) = S.scalar_enrichment(values, cover)
    ok = ~np.isnan(values)
    inside = sum(values[t] * want[t] for t in range(T) if ok[t]) / sum(
        want[t] for t in range(T) if ok[t])
    assert row["in_matches"] == pytest.approx(inside)
    assert row["overall"] == pytest.approx(np.nanmean(values))


def test_hash_collisions_never_merge_phrases(monkeypatch):
    """With tiny primes nearly every range collides; the exact check still splits them."""
    monkeypatch.setattr(S, "_HASHES", ((3, 2), (5, 3)))
    monkeypatch.setattr(S, "_prefix_cache", {})
    starts, ends, T = candidates(4)
    tokens = np.random.default_rng(4).integers(0, 5, T).astype(np.int32)
    vocab = np.array(list("abcde"), dtype=object)
    assert S.phrases(tokens, vocab, starts, ends, 20) == brute_phrases(tokens, vocab, starts,
                                                                       ends, 20)


def test_no_candidates():
    empty = np.zeros(0, np.int64)
    assert S.lengths(empty, empty) == [] and S.phrases(np.zeros(3, np.int32), None, empty,
                                                       empty) == []
    cover = S.coverage(3, empty, empty)
    rows = S.categorical_enrichment(np.array([0, 1, 1]), ["x", "y"], cover)
    assert [(r["label"], r["in_matches"], r["overall"]) for r in rows] == [
        ("x", 0.0, 1 / 3), ("y", 0.0, 2 / 3)]
    assert S.scalar_enrichment(np.array([1.0, 2.0, 3.0]), cover)[0]["in_matches"] is None



@pytest.mark.parametrize("limit", [1, 7, 20])
def test_phrases_that_all_tie(limit):
    """Every range its own phrase (distinct tokens): count 1 each, ranked by earliest start,
    then the shorter, as the oracle ranks them."""
    starts, ends, T = candidates(5)
    tokens = np.arange(T, dtype=np.int32)
    vocab = np.array([f"w{i}" for i in range(T)], dtype=object)
    got = S.phrases(tokens, vocab, starts, ends, limit)
    assert got == brute_phrases(tokens, vocab, starts, ends, limit)
    assert {row["count"] for row in got} == {1}
