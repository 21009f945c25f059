"""Users' regular expressions: bounds checked before compiling, a worker with time and memory
limits, and results equal to running the `regex` module directly on small inputs."""

from __future__ import annotations

import time

import numpy as np
import pytest
import regex
from hiddenscope.server.store import TokenSearch, open_dataset
from hiddenscope.server.store.patterns import (
    MAX_DEPTH,
    MAX_EXPANSION,
    MAX_REPEAT,
    check_pattern,
    pool,
)
from hiddenscope.server.store.search import SearchError, vocabulary_matches
from hiddenscope.server.store.synthetic import write_dataset

VOCAB = ["the", "The", None, "cat", "a{2}", "aa", "", "Ünïcode", "x\ny", "12"]


@pytest.mark.parametrize(
    "pattern",
    ["^t", "(?i)^the$", "a", "a{2}", r"\d+", "^$", r"\p{Lu}", "[^a-z]", r"x\ny", "(a|b){1,3}$"],
)
def test_vocabulary_matches_equal_regex_search(pattern):
    expected = [v is not None and regex.search(pattern, v) is not None for v in VOCAB]
    got = vocabulary_matches(VOCAB, pattern)
    assert got.dtype == np.bool_ and got.shape == (len(VOCAB),)
    assert got.tolist() == expected


@pytest.mark.parametrize(
    "pattern, words",
    [
        ("a{1000000000}", f"counts past {MAX_REPEAT}"),
        ("(?:x{65535}){65535}", f"counts past {MAX_REPEAT}"),
        ("(?:(?:x{100}){100}){100}", f"over the bound of {MAX_EXPANSION:,}"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH} deep"),
        ("a" * 501, "at most 500"),
    ],
)
def test_hostile_patterns_are_refused_before_compiling(pattern, words):
    began = time.perf_counter()
    with pytest.raises(SearchError, match=regex.escape(words)):
        check_pattern(pattern)
    with pytest.raises(SearchError, match=regex.escape(words)):
        vocabulary_matches(["x"], pattern)
    assert time.perf_counter() - began < 0.5


@pytest.mark.parametrize(
    "pattern",
    [
        r"\p{L}{3}",
        r"[{]{2}",
        r"a\{99999\}",
        "x{,5}",
        r"[a-z]{2,1000}",
        r"\x{41}",
        "(?:(?:a{10}){10}){10}",
    ],
)
def test_ordinary_patterns_pass_the_bounds(pattern):
    check_pattern(pattern)


def test_a_slow_pattern_is_cut_off_and_the_worker_keeps_serving():
    began = time.perf_counter()
    with pytest.raises(SearchError, match="took longer than"):
        vocabulary_matches(["a" * 30 + "!"] * 4, r"^(a|a)+$")
    assert time.perf_counter() - began < 3  # about 1 s; generous on a loaded machine
    assert vocabulary_matches(["ab", "b"], "a").tolist() == [True, False]


def test_a_killed_worker_is_replaced():
    assert vocabulary_matches(["a"], "a").tolist() == [True]
    for worker in list(pool()._all):
        worker.proc.kill()
        worker.proc.wait()
    # the first request after the kill may meet a dead worker: it is answered, never hangs
    for _ in range(3):
        try:
            assert vocabulary_matches(["b", "a"], "a").tolist() == [False, True]
        except SearchError:
            continue
    assert vocabulary_matches(["b", "a"], "a").tolist() == [False, True]


def test_regex_hits_equal_a_direct_run(tmp_path):
    """The worker's step ranges against finditer over the joined text, run here directly."""
    folder = write_dataset(tmp_path / "s", T=600, D=4, layers=1, sequences=7)
    ds = open_dataset(folder)
    search = TokenSearch(ds)
    text, starts = search._joined()
    for pattern in [r"\(\d", r"[()]{4,}", r"0", r"\)+"]:
        expected = []
        for m in regex.finditer(pattern, text):
            if m.end() == m.start():
                continue
            a = int(np.searchsorted(starts, m.start(), side="right")) - 1
            b = int(np.searchsorted(starts, m.end() - 1, side="right")) - 1
            if ds.sequence_bounds(a) == ds.sequence_bounds(b):
                expected.append((a, b))
        hits, truncated = search.regex(pattern, limit=10_000)
        assert [(h.start, h.end) for h in hits] == expected and not truncated
        few, more = search.regex(pattern, limit=3)
        assert [(h.start, h.end) for h in few] == expected[:3] and more == (len(expected) > 3)
    ds.close()


@pytest.mark.parametrize("pattern", ["a{1000000000}", "(?:x{65535}){65535}"])
def test_without_the_bounds_the_worker_limits_still_hold(monkeypatch, pattern):
    """The second line of defence: a pattern past the bounds costs the worker, not the server."""
    from hiddenscope.server.store import patterns

    monkeypatch.setattr(patterns, "MAX_REPEAT", 10**12)
    monkeypatch.setattr(patterns, "MAX_EXPANSION", 10**30)
    began = time.perf_counter()
    with pytest.raises(SearchError, match="longer than 0.8 s|too much memory"):
        vocabulary_matches(["a"], pattern)
    assert time.perf_counter() - began < 3  # about 1 s; generous on a loaded machine
    assert vocabulary_matches(["a"], "a").tolist() == [True]
