"""The engine's queries: frozen dataclasses with the spec's parameter names, checked once.

A query is built where the request arrives (the handler, the CLI, a benchmark), checked in
``__post_init__`` (each rule once, one message each, naming the parameter, the value and
the fix), and passed down whole; the engine adds only the checks that need the data
(:meth:`SelectQuery.check_source`, :meth:`MatchQuery.check_source`). Defaults are the
spec's (openapi.yaml).

The threshold must be a finite number: NaN and +-inf are refused everywhere (the on-rule
``v >= threshold`` is defined for them, but a threshold of -inf or +inf is never what a
user means, and one rule for the API and the engine is simpler than two).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from .errors import EngineError, check_cells, check_int, check_step

DEFAULT_THRESHOLD = 0.3
DEFAULT_LIMIT = 50


def check_threshold(value) -> float:
    """The threshold as a float64; non-numbers, NaN and +-inf are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise EngineError("threshold", f"threshold: {value!r} is not a number; pass e.g. 0.3")
    value = float(value)
    if not math.isfinite(value):
        raise EngineError("threshold", f"threshold: {value} is not a finite number; "
                          "pass a number such as 0.3")
    return value


def _set(obj, **values) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def _sequence(offsets: np.ndarray, t: int) -> tuple[int, int]:
    i = int(np.searchsorted(offsets, t, side="right")) - 1
    return int(offsets[i]), int(offsets[i + 1]) - 1


@dataclass(frozen=True)
class SelectQuery:
    """Cells on over ``start .. end`` (inclusive) and off on the padding around it."""

    start: int
    end: int
    threshold: float = DEFAULT_THRESHOLD
    pad_left: int = 0
    pad_right: int = 0

    def __post_init__(self) -> None:
        start, end = check_int("start", self.start, 0), check_int("end", self.end, 0)
        if end < start:
            raise EngineError("end", f"end: {end} is before start {start}; "
                              "pass end >= start (both inclusive)")
        _set(self, start=start, end=end, threshold=check_threshold(self.threshold),
             pad_left=check_int("pad_left", self.pad_left, 0),
             pad_right=check_int("pad_right", self.pad_right, 0))

    def check_source(self, T: int, offsets: np.ndarray) -> tuple[int, int]:
        """Check the range against the source; return its sequence's ``(first, last)`` step."""
        check_step("start", self.start, T)
        check_step("end", self.end, T)
        first, last = _sequence(offsets, self.start)
        if self.end > last:
            other = _sequence(offsets, self.end)
            raise EngineError(
                "end", f"end: the range {self.start}..{self.end} crosses a sequence boundary: "
                f"step {self.start} is in the sequence {first}..{last} and step {self.end} in "
                f"{other[0]}..{other[1]}; choose a range inside one sequence, so pass "
                f"end <= {last}")
        return first, last


@dataclass(frozen=True)
class MatchQuery:
    """Ranges whose on-cells overlap the cell set ``cells`` (DESIGN.md, match).

    ``cells`` is stored sorted and unique (a tuple); ``max_len`` None means unbounded.
    """

    cells: tuple[int, ...]
    threshold: float = DEFAULT_THRESHOLD
    pad_left: int = 0
    pad_right: int = 0
    min_overlap: int = 1
    min_len: int = 1
    max_len: int | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        cells = check_cells(self.cells)
        min_len = check_int("min_len", self.min_len, 1)
        max_len = self.max_len
        if max_len is not None:
            max_len = check_int("max_len", max_len, 1)
            if min_len > max_len:
                raise EngineError("max_len", f"max_len: {max_len} is below min_len {min_len}; "
                                  "pass max_len >= min_len")
        _set(self, cells=tuple(cells.tolist()), threshold=check_threshold(self.threshold),
             pad_left=check_int("pad_left", self.pad_left, 0),
             pad_right=check_int("pad_right", self.pad_right, 0),
             min_overlap=check_int("min_overlap", self.min_overlap, 1),
             min_len=min_len, max_len=max_len, limit=check_int("limit", self.limit, 1))

    @property
    def cell_ids(self) -> np.ndarray:
        """``int64[|S|]`` sorted cell ids."""
        return np.asarray(self.cells, dtype=np.int64)

    def check_source(self, D: int) -> None:
        check_cells(self.cells, D)
