"""Named results of the engine (no positional lists: STYLE.md)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Match:
    """One match: the range ``start .. end`` (inclusive) and its scores.

    ``overlap`` is ``|I| = |S ∩ S2|``, ``union`` is ``|S ∪ S2|`` and ``extra`` is
    ``|S2| - |I|``: cells on in the range (with its padding) that are not in ``S``.
    """

    start: int
    end: int
    length: int
    overlap: int
    union: int
    extra: int


@dataclass(frozen=True)
class MatchResult:
    """The first ``limit`` matches in rank order and the total number of candidates (all tiers)."""

    matches: list[Match]
    candidates: int


@dataclass(frozen=True)
class Candidates:
    """Every candidate of a match, sorted by start then end: ``int64[n]`` arrays."""

    start: np.ndarray = field(repr=False)
    end: np.ndarray = field(repr=False)
    overlap: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return int(self.start.size)


@dataclass(frozen=True)
class MatchWindow:
    """A returned match with its window ``window_start .. window_end`` (inclusive) and the
    on-count ``int32[window_end - window_start + 1]`` of the query's cells at each step."""

    match: Match
    window_start: int
    window_end: int
    on_count: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class CellStats:
    """Distribution of one cell's transformed values over the whole source.

    ``min``/``max``/``mean``/``median``/``percentiles`` ignore NaN (``nan_count`` says how
    many there are; all are NaN when every value is NaN). ``edges`` is ``float64[bins+1]``
    from min to max and ``counts`` ``int64[bins]`` (the last bin includes max).
    """

    cell: int
    min: float
    max: float
    mean: float
    median: float
    percentiles: dict[int, float]
    edges: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    nan_count: int = 0
