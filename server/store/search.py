"""Phrase and regular-expression search over a data set's tokens. Snippets are plain text."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from .dataset import Dataset
from .patterns import SearchError, search_spans, vocabulary_matches

SNIPPET_CONTEXT = 6  # tokens shown either side of a hit (characters for char-level data)

__all__ = ["Hit", "SearchError", "TokenSearch", "vocabulary_matches"]


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    snippet: str
    snippet_start: int


class TokenSearch:
    """Word-level text joins tokens with spaces; char-level text does not."""

    def __init__(self, dataset: Dataset) -> None:
        self.ds = dataset
        self.sep = "" if dataset.char_level else " "
        self._ids_by_text: dict[str, np.ndarray] | None = None
        self._text: str | None = None
        self._char_starts: np.ndarray | None = None
        self._corpus: tuple[str, str, bytes, bytes] | None = None

    def phrase(self, q: str, limit: int) -> tuple[list[Hit], bool]:
        """Where the tokens of ``q`` follow each other (case-insensitive), inside one sequence."""
        parts = list(q) if self.ds.char_level else q.split()
        if self.ds.char_level and not self._ids_for(" ").size:
            # a vocabulary without a space token: spaces in q only separate the characters
            parts = [ch for ch in parts if not ch.isspace()]
        if not parts:
            raise SearchError(f"q {q!r} has no tokens; type a word or phrase")
        ids = [self._ids_for(p) for p in parts]
        if any(i.size == 0 for i in ids) or len(parts) > self.ds.length:
            return [], False
        tokens = self.ds.tokens
        n = len(parts)
        starts = np.flatnonzero(np.isin(tokens[: tokens.size - n + 1], ids[0]))
        for k in range(1, n):
            starts = starts[np.isin(tokens[starts + k], ids[k])]
        seq = np.searchsorted(self.ds.sequence_offsets, starts, side="right")
        starts = starts[starts + n <= self.ds.sequence_offsets[seq]]  # never across a sequence end
        hits = [self._hit(int(s), int(s) + n - 1) for s in starts[:limit]]
        return hits, starts.size > limit

    def regex(self, q: str, limit: int) -> tuple[list[Hit], bool]:
        """Matches of the pattern ``q`` in the joined token text, inside one sequence.

        The pattern is bounded, compiled and run in a worker process with a time and memory
        limit (patterns.py), so a hostile pattern is a :class:`SearchError`, never a stall."""
        spans, truncated = search_spans(self._worker_corpus(), q, limit)
        return [self._hit(a, b) for a, b in spans], truncated

    def _worker_corpus(self) -> tuple[str, str, bytes, bytes]:
        """What the regex worker searches: (key, text, int64 token starts, int64 offsets)."""
        if self._corpus is None:
            text, starts = self._joined()
            offsets = np.ascontiguousarray(self.ds.sequence_offsets, dtype=np.int64)
            key = f"{self.ds.id}-{uuid.uuid4().hex}"  # a reloaded data set is another corpus
            self._corpus = (key, text, starts.astype(np.int64).tobytes(), offsets.tobytes())
        return self._corpus

    def _ids_for(self, text: str) -> np.ndarray:
        if self._ids_by_text is None:
            table: dict[str, list[int]] = {}
            for i, label in enumerate(self.ds.vocab):
                if label is not None:
                    table.setdefault(label.lower(), []).append(i)
            self._ids_by_text = {k: np.array(v, dtype=np.int32) for k, v in table.items()}
        return self._ids_by_text.get(text.lower(), np.empty(0, dtype=np.int32))

    def _joined(self) -> tuple[str, np.ndarray]:
        """The whole token text and ``int64[T]``: where each step's token starts in it."""
        if self._text is None:
            pieces = self.ds.vocab_array[self.ds.tokens]
            lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=pieces.size)
            starts = np.zeros(pieces.size, dtype=np.int64)
            np.cumsum(lengths[:-1] + len(self.sep), out=starts[1:])
            self._text, self._char_starts = self.sep.join(pieces.tolist()), starts
        return self._text, self._char_starts

    def _hit(self, start: int, end: int) -> Hit:
        first, last = self.ds.sequence_bounds(start)
        a, b = max(first, start - SNIPPET_CONTEXT), min(last, end + SNIPPET_CONTEXT)
        return Hit(start, end, self.sep.join(self.ds.token_text(a, b)), a)
