"""Corpus readers and meta-track annotators of the demo data sets, on small slices
(the code and english data sets themselves are too slow to build in the test suite)."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from hiddenscope.extract import ExtractError, corpora
from hiddenscope.extract.code_meta import (
    CodeAnnotator,
    DepthAnnotator,
    python_tracks,
    strip_comments,
    tokenizes,
)


def test_parens_digits_equal_the_depth_and_stay_within_the_bound():
    seqs, depths = corpora.parens_sequences(20, 150, max_depth=4, seed=3)
    assert all(len(s) == 150 for s in seqs)
    for tokens, depth in zip(seqs, depths, strict=False):
        annotated = DepthAnnotator(4).annotate([tokens])[0]["depth"]
        assert annotated.tolist() == depth
        assert max(depth) <= 4 and min(depth) >= 0
        for t, d in zip(tokens, depth, strict=False):
            if t.isdigit():
                assert int(t) == d
    again, _ = corpora.parens_sequences(20, 150, max_depth=4, seed=3)
    assert again == seqs  # fixed seed, same corpus


def test_python_tracks_use_the_tokenizer():
    text = 'def f(a="(x"):  # (\n    return [a,\n            1]\ny = 2\n'
    tracks = python_tracks(text)
    at = {c: i for i, c in reversed(list(enumerate(text)))}
    assert tracks["token_type"][0] == "KEYWORD" and tracks["token_type"][4] == "NAME"
    assert tracks["token_type"][text.index("#")] == "COMMENT"
    q = text.index('"(')
    assert tracks["in_string"][q : q + 4].all() and not tracks["in_string"][at["f"]]
    # the "(" inside the string and the one in the comment are not brackets
    assert tracks["bracket_depth"][q + 1] == 1 and tracks["bracket_depth"][text.index(":")] == 0
    assert tracks["bracket_depth"][text.index("1")] == 1  # inside [ ... ]
    assert tracks["bracket_depth"][text.index("]")] == 1  # the closing bracket is still inside
    assert tracks["indent"][text.index("return")] == 1
    assert tracks["indent"][text.index("1]")] == 1  # continuation line of the same statement
    assert tracks["indent"][text.index("y =")] == 0


def test_code_annotator_labels():
    (labels,) = CodeAnnotator().annotate([list("x = (1)\n")])
    assert labels["bracket_depth"][4] == "depth 1" and labels["indent"][0] == "level 0"
    assert labels["token_type"][:3] == ["NAME", "whitespace", "OP"]
    assert labels["in_string"].tolist() == [0] * 8
    assert labels["in_comment_or_string"].tolist() == [0] * 8
    (stripped,) = CodeAnnotator(comments=False).annotate([list("x = (1)\n")])
    assert "in_comment_or_string" not in stripped  # it would equal in_string
    assert [t.name for t in CodeAnnotator(comments=False).tracks] == list(stripped)
    assert {t.name for t in CodeAnnotator().tracks} == set(labels)


def test_comment_or_string_is_the_union_of_comments_and_strings():
    lines = ['x = "a#b"  # it\'s "quoted"', '"""doc', "# not a comment", '"""', "y = 1", ""]
    text = "\n".join(lines)
    (labels,) = CodeAnnotator().annotate([list(text)])
    union = labels["in_comment_or_string"].astype(bool)
    expected = np.zeros(len(text), dtype=bool)  # each span read off the text by hand
    s = text.index('"a#b"')
    expected[s : s + 5] = True  # the string literal with its quotes
    expected[text.index("# it") : text.index("\n")] = True  # the comment, up to the newline
    doc = text.index('"""doc')
    expected[doc : text.index('"""\ny') + 3] = True  # the docstring; its "#" line is inside
    assert union.tolist() == expected.tolist()
    assert (labels["in_string"].astype(bool) <= union).all()


def test_stdlib_subset_is_fixed_ascii_and_tokenizable():
    files = corpora.stdlib_files(max_chars=60_000, max_file_chars=8_000)
    assert files and sum(len(t) for _, t in files) <= 60_000
    paths = [p for p, _ in files]
    assert paths == sorted(paths)
    assert all(t.isascii() and tokenizes(t) and len(t) <= 8_000 for _, t in files)
    assert Path(sysconfig.get_paths()["stdlib"]) in paths[0].parents
    seqs, names = corpora.code_sequences(60_000, 8_000)
    assert len(seqs) == len(files) and set(c for s in seqs for c in s) <= set(corpora.CODE_VOCAB)


def _tokens(text: str, drop: set[int]) -> list[tuple[int, str]]:
    import io
    import tokenize

    toks = tokenize.generate_tokens(io.StringIO(text).readline)
    return [(t.type, t.string) for t in toks if t.type not in drop]


def test_strip_comments_keeps_every_other_token():
    text = (
        "#!/usr/bin/env python\n"
        '"""Doc # not a comment."""\n'
        "x = 1  # one\n"
        "    # an indented comment line\n"
        's = "a # b"   # tail\n'
        "def f(a,  # inside brackets\n"
        "      b):\n"
        "    return a\n"
    )
    assert strip_comments(text) == (
        '"""Doc # not a comment."""\n'
        "x = 1\n"
        's = "a # b"\n'
        "def f(a,\n"
        "      b):\n"
        "    return a\n"
    )
    assert strip_comments("x = 1\n") == "x = 1\n"
    # a form feed (old stdlib files have them) is no line break for tokenize
    feed = "x = 1\x0c  # a\ny = 2  # b\n# c\nz = 3\n"
    assert strip_comments(feed) == "x = 1\ny = 2\nz = 3\n"  # the feed is a blank before "#"
    kinds = python_tracks(feed)["token_type"]
    assert kinds[feed.index("# b")] == "COMMENT" and kinds[feed.index("z")] == "NAME"


def test_strip_comments_on_the_stdlib_subset_matches_the_tokenizer():
    import tokenize

    files = corpora.stdlib_files(max_chars=120_000, max_file_chars=20_000)
    layout = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    for path, text in files:
        stripped = strip_comments(text)
        assert tokenizes(stripped), path
        # the same tokens apart from comments and line layout, the same string characters
        assert _tokens(stripped, layout) == _tokens(text, layout), path
        assert "COMMENT" not in set(python_tracks(stripped)["token_type"]), path
        assert python_tracks(stripped)["in_string"].sum() == python_tracks(text)["in_string"].sum()
    stripped_files = corpora.stdlib_files(120_000, 20_000, strip_comments=True)
    for _, t in stripped_files:
        assert tokenizes(t) and "COMMENT" not in set(python_tracks(t)["token_type"])
    assert sum(len(t) for _, t in stripped_files) <= 120_000
    assert len(stripped_files) >= len(files)  # shorter texts: at least as many fit
    seqs, _ = corpora.code_sequences(120_000, 20_000, strip_comments=True)
    assert ["".join(s) for s in seqs] == [t for _, t in stripped_files]


KJV_SAMPLE = """
Genesis 1

  1 In the beginning God created the heaven and the earth.
  2 And the earth was without form, and void.

Genesis 2

  1 Thus the heavens and the earth were finished, and all the host of them.
"""


def test_kjv_chapters_are_sequences_of_words():
    chapters, titles = corpora.kjv_chapters(KJV_SAMPLE, max_tokens=1000)
    assert titles == ["Genesis 1", "Genesis 2"]
    assert chapters[0][:4] == ["In", "the", "beginning", "God"]
    assert chapters[0][-6:] == ["without", "form", ",", "and", "void", "."]
    first_only, _ = corpora.kjv_chapters(KJV_SAMPLE, max_tokens=25)  # 21 + 16 tokens
    assert len(first_only) == 1


@pytest.mark.skipif(shutil.which("bible") is None, reason="Debian's bible-kjv is not installed")
def test_kjv_from_debian_package():
    chapters, titles = corpora.kjv_chapters(corpora.kjv_text(), max_tokens=5_000)
    assert titles[0] == "Genesis 1" and chapters[0][:3] == ["In", "the", "beginning"]


def test_kjv_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(corpora.shutil, "which", lambda name: None)
    with pytest.raises(ExtractError, match="apt-get install bible-kjv"):
        corpora.kjv_text()


def test_vocabulary_and_unknown_words():
    seqs = [["a", "b", "a"], ["c", "a", "b"]]
    vocab = corpora.build_vocab(seqs, min_count=2)
    assert vocab == ["<unk>", "a", "b"]
    ids = corpora.to_ids(seqs, vocab, "<unk>")
    assert [i.tolist() for i in ids] == [[1, 2, 1], [0, 1, 2]]
    with pytest.raises(ExtractError, match=r"'c' \(sequence 1\) is not in the vocabulary"):
        corpora.to_ids(seqs, vocab, None)
    assert np.concatenate(ids).dtype == np.int64
