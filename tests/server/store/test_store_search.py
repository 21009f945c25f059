"""Phrase and regex search, word- and character-level, inside sequences, plain-text snippets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hiddenscope.server.store import SearchError, TokenSearch, open_dataset
from hiddenscope.server.store.synthetic import write_dataset


@pytest.fixture(scope="module")
def chars(synthetic_root):
    ds = open_dataset(synthetic_root / "parens")
    yield ds
    ds.close()


@pytest.fixture
def words(lstmvis_folder):
    ds = open_dataset(lstmvis_folder)
    yield ds
    ds.close()


def brute_force(tokens: np.ndarray, offsets: np.ndarray, phrase: list[int]) -> list[int]:
    n = len(phrase)
    return [
        t
        for t in range(len(tokens) - n + 1)
        if tokens[t : t + n].tolist() == phrase
        and np.searchsorted(offsets, t, "right") == np.searchsorted(offsets, t + n - 1, "right")
    ]


def test_char_level_phrase_matches_brute_force(chars):
    hits, truncated = TokenSearch(chars).phrase("(1", limit=10_000)
    expected = brute_force(chars.tokens, chars.sequence_offsets, [0, 3])
    assert [h.start for h in hits] == expected and not truncated
    assert all(h.end == h.start + 1 for h in hits)


def test_char_level_phrase_ignores_spaces_when_the_vocabulary_has_none(chars):
    spaced, _ = TokenSearch(chars).phrase("( 1", limit=10_000)
    plain, _ = TokenSearch(chars).phrase("(1", limit=10_000)
    assert plain and [h.start for h in spaced] == [h.start for h in plain]


def test_word_level_phrase_is_case_insensitive(words):
    first = words.token_text(10, 11)
    hits, _ = TokenSearch(words).phrase(" ".join(first).upper(), limit=500)
    assert 10 in [h.start for h in hits]
    assert all(words.token_text(h.start, h.end) == first for h in hits)


def test_snippet_is_plain_text_around_the_hit(words):
    hit = TokenSearch(words).phrase(" ".join(words.token_text(50, 52)), limit=500)[0][0]
    assert hit.snippet == " ".join(
        words.token_text(hit.snippet_start, hit.snippet_start + hit.snippet.count(" "))
    )
    assert hit.snippet_start <= hit.start


def test_limit_and_truncation(chars):
    hits, truncated = TokenSearch(chars).phrase("(", limit=3)
    assert len(hits) == 3 and truncated


def test_unknown_word_gives_no_hits(words):
    assert TokenSearch(words).phrase("zebra", 50) == ([], False)


def test_hits_never_cross_a_sequence_boundary(tmp_path):
    folder = write_dataset(tmp_path / "s", T=400, D=4, layers=1, sequences=40)
    ds = open_dataset(folder)
    hits, _ = TokenSearch(ds).regex(r"[()0-4]{5}", limit=500)
    for h in hits:
        assert ds.sequence_bounds(h.start) == ds.sequence_bounds(h.end)
    ds.close()


def test_regex_over_word_text_maps_back_to_steps(words):
    hits, _ = TokenSearch(words).regex(r"\bcat sat\b", limit=500)
    assert hits and all(words.token_text(h.start, h.end) == ["cat", "sat"] for h in hits)


def test_regex_errors_name_the_pattern(chars):
    with pytest.raises(SearchError, match=r"q '\(' is not a valid regular expression"):
        TokenSearch(chars).regex("(", 10)


def test_regex_is_bounded_in_time(tmp_path):
    folder = write_dataset(tmp_path / "slow", T=20, D=2, layers=1, sequences=1)
    (folder / "vocab.json").write_text(json.dumps(["a"] * 7))
    ds = open_dataset(folder)
    search = TokenSearch(ds)
    search._text, search._char_starts = "a" * 5000, np.arange(20)
    with pytest.raises(SearchError, match="took longer than"):
        search.regex(r"(a+)+b", 10)
    ds.close()
