"""Meta tracks of the demo corpora: nesting depth (parens) and Python source per character.

For Python source the tracks come from the standard ``tokenize`` module, so brackets and
quotes inside strings and comments are not miscounted:

- ``token_type``: the token a character belongs to (NAME, KEYWORD, OP, STRING, COMMENT,
  NUMBER, NEWLINE, ...), ``whitespace`` between tokens;
- ``bracket_depth``: open ``( [ {`` around the character (the bracket itself counts);
- ``in_string``: inside a string literal (f-string parts included);
- ``in_brackets``: inside at least one bracket pair (``bracket_depth`` > 0), the binary
  track Karpathy et al. (2015) found single cells for;
- ``in_comment_or_string``: inside a comment or a string literal: the text that reads as
  prose rather than code, like the cell "that turns on inside comments and quotes" Karpathy
  et al. found in a model of C code (character models of Python learn one too);
- ``indent``: the indentation level (``INDENT``s open) of the character's logical line.
"""

from __future__ import annotations

import io
import keyword
import tokenize

import numpy as np

from .recurrent import ExtractError
from .writer import Track

OPENING, CLOSING = "([{", ")]}"
STRING_TYPES = {"STRING", "FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"}


def tokenizes(text: str) -> bool:
    """Whether ``tokenize`` reads ``text`` without error."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            pass
    except (tokenize.TokenError, SyntaxError, ValueError):
        return False
    return True


def strip_comments(text: str) -> str:
    """``text`` without its comments: a line that holds only a comment is dropped, a
    comment after code is cut with the blanks before it. Strings (docstrings included) and
    everything else stay as they are, so the result tokenizes like ``text``.

    Why: in a character model of Python trained on source with comments, the strongest
    "prose" cell is on in comments and strings alike; without comments the prose the model
    reads is string literals only (the code recipe's ``corpus.strip_comments``).
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError) as e:  # those tokenizes() refuses
        raise ExtractError(f"tokenize failed on the code sequence: {e}; drop this file") from None
    cut = {tok.start[0]: tok.start[1] for tok in tokens if tok.type == tokenize.COMMENT}
    if not cut:
        return text
    out = []
    # rows as tokenize counts them: split at "\n" only (splitlines would also split at a
    # form feed and shift every later row)
    for row, line in enumerate(io.StringIO(text).readlines(), start=1):
        col = cut.get(row)
        if col is None:
            out.append(line)
        elif line[:col].strip():
            out.append(line[:col].rstrip() + line[len(line.rstrip("\r\n")) :])
    return "".join(out)


def _char_offsets(text: str) -> list[int]:
    """Offset of the first character of each line (1-based rows: index 0 is unused)."""
    starts = [0, 0]
    for line in io.StringIO(text).readlines():  # tokenize's rows (not splitlines': form feeds)
        starts.append(starts[-1] + len(line))
    return starts


def python_tracks(text: str) -> dict[str, np.ndarray]:
    """Per-character tracks of Python source ``text``: token_type (str), bracket_depth,
    indent (int64), in_string (bool), each of length ``len(text)``."""
    n = len(text)
    kind = np.full(n, "whitespace", dtype=object)
    delta = np.zeros(n + 1, dtype=np.int64)
    in_string = np.zeros(n, dtype=bool)
    row_level: dict[int, int] = {}
    level, rows = 0, _char_offsets(text)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as e:
        raise ExtractError(f"tokenize failed on the code sequence: {e}; drop this file") from None
    for tok in tokens:
        name = tokenize.tok_name[tok.type]
        if name in ("INDENT", "DEDENT"):
            level += 1 if name == "INDENT" else -1
            row_level[tok.start[0]] = level
            continue
        row_level.setdefault(tok.start[0], level)
        a = rows[tok.start[0]] + tok.start[1]
        b = rows[tok.end[0]] + tok.end[1] if tok.end[0] < len(rows) else n
        if name == "ENDMARKER" or a >= b:
            continue
        kind[a:b] = "KEYWORD" if name == "NAME" and keyword.iskeyword(tok.string) else name
        in_string[a:b] |= name in STRING_TYPES
        if name == "OP" and tok.string in OPENING:
            delta[a] += 1
        elif name == "OP" and tok.string in CLOSING:
            delta[a + 1] -= 1  # the closing bracket still counts as inside
    depth = np.cumsum(delta[:n])
    indent = _indent_per_char(text, rows, row_level)
    return {"token_type": kind, "bracket_depth": depth, "in_string": in_string, "indent": indent}


def _indent_per_char(text: str, rows: list[int], row_level: dict[int, int]) -> np.ndarray:
    """Forward-fill the level of each row (rows inside multi-line strings keep the last)."""
    out = np.zeros(len(text), dtype=np.int64)
    level = 0
    for row in range(1, len(rows) - 1):
        level = row_level.get(row, level)
        out[rows[row] : rows[row + 1]] = level
    return out


class CodeAnnotator:
    """Python tokenize tracks for character sequences (one file per sequence)."""

    def __init__(self, comments: bool = True) -> None:
        # without comments (corpus.strip_comments) in_comment_or_string would be in_string
        self.comments = comments
        binary = ["in_string", "in_brackets"] + ["in_comment_or_string"] * comments
        self.tracks = [
            Track("token_type", "categorical"),
            Track("bracket_depth", "categorical"),
            *(Track(name, "categorical", ["false", "true"]) for name in binary),
            Track("indent", "categorical"),
        ]

    def annotate(self, sequences: list[list[str]]) -> list[dict]:
        out = []
        for chars in sequences:
            tracks = python_tracks("".join(chars))
            labels = {
                "token_type": tracks["token_type"].tolist(),
                "bracket_depth": [f"depth {d}" for d in tracks["bracket_depth"]],
                "in_string": tracks["in_string"].astype(np.int32),
                "in_brackets": (tracks["bracket_depth"] > 0).astype(np.int32),
                "indent": [f"level {d}" for d in tracks["indent"]],
            }
            if self.comments:
                prose = tracks["in_string"] | (tracks["token_type"] == "COMMENT")
                labels["in_comment_or_string"] = prose.astype(np.int32)
            out.append(labels)
        return out


class DepthAnnotator:
    """Nesting depth of the parenthesis language: labels ``depth 0`` .. ``depth max``."""

    def __init__(self, max_depth: int) -> None:
        self.tracks = [Track("depth", "categorical", [f"depth {d}" for d in range(max_depth + 1)])]

    def annotate(self, sequences: list[list[str]]) -> list[dict]:
        out = []
        for tokens in sequences:
            step = np.array(
                [1 if t == "(" else -1 if t == ")" else 0 for t in tokens], dtype=np.int64
            )
            out.append({"depth": np.maximum(np.cumsum(step), 0).astype(np.int32)})
        return out
