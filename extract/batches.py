"""Plan the work: corpus chunks of bounded size, length-sorted batches, time windows.

A *chunk* is a run of consecutive sequences whose tokens and annotations (spaCy works a
chunk at a time) fit the memory budget; a sequence longer than the budget is a chunk of
its own. Inside a chunk, sequences are sorted by length (descending) into batches of
``batch_size`` rows, so padding is small and the rows still running in a window are
always a prefix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .recurrent import ExtractError


@dataclass(frozen=True)
class Chunk:
    """Sequences ``first .. last-1``, steps ``start .. stop-1``."""

    first: int
    last: int
    start: int
    stop: int


def check_sequences(sequences: Sequence, vocab_size: int) -> np.ndarray:
    """Check every sequence once and return their lengths, ``int64[N]``.

    ``sequences`` needs ``len()`` and indexing (a list, or a lazy sequence over a large
    corpus): nothing is kept from this pass, and chunks are read again when extracted.
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ExtractError(
            "sequences must be a list of token-id sequences (e.g. [[3, 1, 4], [1, 5]]); "
            f"got {type(sequences).__name__}"
        )
    if len(sequences) == 0:
        raise ExtractError("sequences is empty; pass at least one non-empty sequence of token ids")
    lengths = np.empty(len(sequences), dtype=np.int64)
    for i in range(len(sequences)):
        lengths[i] = len(sequence_ids(sequences, i, vocab_size))
    return lengths


def sequence_ids(sequences: Sequence, i: int, vocab_size: int) -> np.ndarray:
    """Sequence ``i`` as ``int64[n]`` ids, checked: 1-D, non-empty, inside the vocabulary."""
    arr = np.asarray(sequences[i])
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ExtractError(
            f"sequence {i} must be a non-empty 1-D list of integer token ids; "
            f"got shape {arr.shape} dtype {arr.dtype} (drop empty sequences before extracting)"
        )
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise ExtractError(
            f"sequence {i} has token id {bad}, outside the vocabulary of {vocab_size} entries; "
            "map unknown tokens to an id of the vocabulary (e.g. '<unk>')"
        )
    return arr.astype(np.int64, copy=False)


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """``int64[N+1]`` offsets from ``int64[N]`` lengths."""
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def plan_chunks(offsets: np.ndarray, max_rows: int) -> Iterator[Chunk]:
    """Consecutive sequences grouped into chunks of at most ``max_rows`` steps."""
    N = len(offsets) - 1
    first = 0
    while first < N:
        last = first + 1
        while last < N and offsets[last + 1] - offsets[first] <= max_rows:
            last += 1
        start, stop = int(offsets[first]), int(offsets[last])
        yield Chunk(first, last, start, stop)
        first = last


def plan_batches(lengths: np.ndarray, batch_size: int, max_tokens: int | None) -> list[np.ndarray]:
    """Index arrays into ``lengths``: length-sorted batches (longest first within each).

    ``max_tokens`` (None: no limit) bounds ``rows x longest`` for models whose sequences
    cannot be split into windows (bidirectional); a batch always has at least one row.
    """
    order = np.argsort(-lengths, kind="stable")
    batches, i = [], 0
    while i < len(order):
        n = batch_size
        if max_tokens is not None:
            n = max(1, min(n, max_tokens // int(lengths[order[i]])))
        batches.append(order[i : i + n])
        i += n
    return batches


def pad_batch(seqs: list[np.ndarray], pad: int = 0) -> np.ndarray:
    """``int64[B, Lmax]`` right-padded with ``pad`` (padding never reaches stored rows)."""
    out = np.full((len(seqs), max(len(s) for s in seqs)), pad, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out
