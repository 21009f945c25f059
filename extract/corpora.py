"""The demo corpora: real or generated text available on every machine, no downloads.

- ``parens``: the nested-parenthesis language of the LSTMVis paper (§6.1), generated.
- ``python_stdlib``: the running Python's standard-library sources, a fixed sorted subset.
- ``kjv``: the King James Bible (1611, public domain) from Debian's ``bible-kjv`` package.

Each reader returns sequences of token strings; :func:`build_vocab` maps them to ids.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
from collections import Counter
from pathlib import Path

import numpy as np

from .recurrent import ExtractError

UNK_CHAR = "\ufffd"  # one character, so a character corpus still joins back into text
UNK_WORD = "<unk>"
PARENS_VOCAB = ["(", ")", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]


def parens_sequences(
    n: int, length: int, max_depth: int, seed: int
) -> tuple[list[list[str]], list[list[int]]]:
    """``n`` sequences of about ``length`` tokens and their nesting depth per token.

    A bracket opens or closes (staying within ``0..max_depth``); after each bracket come
    one to three digits equal to the depth reached (the LSTMVis paper's language).
    """
    if not 1 <= max_depth <= 9:
        raise ExtractError(
            f"parens max_depth={max_depth} must be between 1 and 9 (one digit per depth)"
        )
    rng = np.random.default_rng(seed)
    seqs, depths = [], []
    for _ in range(n):
        tokens, depth, d = [], [], 0
        while len(tokens) < length:
            opening = d == 0 or (d < max_depth and rng.random() < 0.5)
            d += 1 if opening else -1
            tokens.append("(" if opening else ")")
            depth.append(d)
            for _ in range(int(rng.integers(1, 4))):
                tokens.append(str(d))
                depth.append(d)
        seqs.append(tokens[:length])
        depths.append(depth[:length])
    return seqs, depths


def build_vocab(
    seqs: list[list[str]],
    *,
    fixed: list[str] | None = None,
    unk: str = UNK_WORD,
    min_count: int = 1,
    max_size: int | None = None,
) -> list[str]:
    """A vocabulary: ``fixed`` as given, or ``unk`` + tokens by falling count (ties by text)."""
    if fixed is not None:
        return list(fixed)
    counts = Counter(t for s in seqs for t in s)
    words = sorted(
        (w for w, c in counts.items() if c >= min_count and w != unk), key=lambda w: (-counts[w], w)
    )
    return [unk] + words[: None if max_size is None else max_size - 1]


def to_ids(seqs: list[list[str]], vocab: list[str], unk: str | None) -> list[np.ndarray]:
    """Token strings -> ``int64`` id arrays; tokens outside ``vocab`` become ``unk``."""
    index = {w: i for i, w in enumerate(vocab)}
    if unk is not None and unk not in index:
        raise ExtractError(
            f"the unknown-token entry {unk!r} is not in the vocabulary; name one of its entries"
        )
    fallback = index.get(unk, -1)
    out = []
    for i, s in enumerate(seqs):
        ids = np.array([index.get(t, fallback) for t in s], dtype=np.int64)
        if (ids < 0).any():
            bad = s[int(np.argmax(ids < 0))]
            raise ExtractError(
                f"token {bad!r} (sequence {i}) is not in the vocabulary; map unknown tokens to "
                "an entry of the vocabulary (e.g. --unk '<unk>')"
            )
        out.append(ids)
    return out


# --- Python standard library -------------------------------------------------------

CODE_VOCAB = [UNK_CHAR, "\t", "\n"] + [chr(c) for c in range(32, 127)]


def stdlib_files(
    max_chars: int, max_file_chars: int, root: str | None = None, strip_comments: bool = False
) -> list[tuple[Path, str]]:
    """A fixed subset of the standard library's ``.py`` files: sorted by path, ASCII only,
    tokenizable, at most ``max_file_chars`` each, until ``max_chars`` in total.

    Returns ``(path, text)`` with newlines normalised to ``\\n``; with ``strip_comments``
    the texts lose their comments first (code_meta.strip_comments), and the two limits
    count the stripped text, the one the model reads.
    """
    from .code_meta import strip_comments as strip
    from .code_meta import tokenizes

    base = Path(root or sysconfig.get_paths()["stdlib"])
    if not base.is_dir():
        raise ExtractError(f"the Python standard library was not found at {base}; pass stdlib_root")
    chosen, total = [], 0
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(base).parts
        if "site-packages" in rel or "dist-packages" in rel:
            continue
        try:
            text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        except (UnicodeDecodeError, OSError):
            continue
        if strip_comments and text.isascii():
            try:
                text = strip(text)  # tokenizes it on the way
            except ExtractError:  # it does not tokenize: left out
                continue
        if not text or len(text) > max_file_chars or not text.isascii() or not tokenizes(text):
            continue
        if total + len(text) > max_chars:
            break
        chosen.append((path, text))
        total += len(text)
    return chosen


def code_sequences(
    max_chars: int, max_file_chars: int, strip_comments: bool = False
) -> tuple[list[list[str]], list[str]]:
    """Character sequences, one per file, and the files' names relative to the stdlib."""
    base = Path(sysconfig.get_paths()["stdlib"])
    files = stdlib_files(max_chars, max_file_chars, strip_comments=strip_comments)
    known = set(CODE_VOCAB)
    seqs = [[c if c in known else UNK_CHAR for c in text] for _, text in files]
    return seqs, [str(p.relative_to(base)) for p, _ in files]


# --- King James Bible (Debian bible-kjv) -------------------------------------------

# The one word tokeniser: corpora at build time (here and extract/sentiment.py) and the live
# text at run time (extract/live.py) use this pattern, so a text splits the same way at both.
# ASCII words with one inner apostrophe, runs of digits of any script, any other mark alone.
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+|[^\sA-Za-z\d]")
VERSE = re.compile(r"^\s+\d+ (.*)$")


def kjv_text() -> str:
    """The whole KJV as printed by Debian's ``bible`` program (one verse per line)."""
    program = shutil.which("bible")
    if program is None:
        raise ExtractError(
            "the english recipe reads the King James Bible (public domain) from Debian's "
            "bible-kjv package, which is not installed: apt-get install bible-kjv"
        )
    done = subprocess.run(
        [program, "-l0", "Gen1:1-Rev22:21"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=120,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise ExtractError(
            f"'bible -l0 Gen1:1-Rev22:21' failed ({done.returncode}): {done.stderr.strip()[:200]}"
        )
    return done.stdout


def kjv_chapters(text: str, max_tokens: int) -> tuple[list[list[str]], list[str]]:
    """Word-tokenised chapters (one sequence each), the leading ones up to ``max_tokens``
    in all (at least one), and their titles."""
    chapters: list[list[str]] = []
    titles: list[str] = []
    for line in text.splitlines():
        verse = VERSE.match(line)
        if verse and chapters:
            chapters[-1].extend(WORD.findall(verse.group(1)))
        elif line.strip():
            chapters.append([])
            titles.append(line.strip())
    keep = [i for i, c in enumerate(chapters) if c]
    total = np.cumsum([len(chapters[i]) for i in keep])
    n = max(1, int(np.searchsorted(total, max_tokens, side="right")))
    return [chapters[i] for i in keep[:n]], [titles[i] for i in keep[:n]]
