"""A cell's top-activating contexts over the whole source (as neuron viewers show them).

Greedy: take the step with the highest value, then the highest step not within
``[pos - left, pos + right]`` of an already chosen step ``pos`` of the same sequence, and so
on until ``limit`` steps are chosen or none is left. Ties go to the earlier step; NaN is
never chosen (±inf values of ``transform: none`` are ordinary values). Each window is
``[pos - left, pos + right]`` clipped to the sequence of ``pos``.

Why only the top ``limit * (left + right + 1)`` values are looked at: each chosen step rules
out at most ``left + right + 1`` steps (itself included), so when the ``j``-th step is chosen at
most ``(j - 1)(left + right + 1)`` steps are ruled out, and the highest remaining one is
among the top ``(j - 1)(left + right + 1) + 1`` in the order (value descending, step
ascending). All steps tied with the last of those are kept too, so ties stay exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """A chosen step ``pos`` with its ``value`` and its window ``start .. end`` (inclusive)."""

    pos: int
    value: float
    start: int
    end: int


def top_windows(column: np.ndarray, offsets: np.ndarray, limit: int, left: int,
                right: int) -> list[Window]:
    """The greedy top windows of one cell: ``column: float32[T]`` values after the
    transform, ``offsets: int64[N+1]`` the sequence offsets."""
    if limit < 1:
        return []
    column = np.asarray(column)
    steps = _leading_steps(column, limit * (left + right + 1))
    return _greedy(steps, column[steps], offsets, limit, left, right)


def top_windows_from_codes(codes: np.ndarray, exact, offsets: np.ndarray, limit: int,
                           left: int, right: int, max_reads: int = 1 << 16
                           ) -> list[Window] | None:
    """:func:`top_windows` from a cell's index codes (``uint16[T]``, monotone in the value,
    0 = NaN) and ``exact(steps) -> float32[len(steps)]``, the values at sorted steps.

    Every step whose code is at least the code of the ``limit * (left + right + 1)``-th
    highest is read exactly: a lower code means a lower value, so those steps hold the top
    ones with all their ties. None when that is more than ``max_reads`` steps (a cell flat
    over much of the data): then read the whole column instead.
    """
    if limit < 1:
        return []
    m = limit * (left + right + 1)
    counts = np.bincount(codes, minlength=1 << 16).astype(np.int64)
    counts[0] = 0  # NaN is never chosen
    at_least = np.cumsum(counts[::-1])[::-1]  # at_least[k]: steps with code >= k
    reach = np.flatnonzero(at_least >= m)
    k = int(reach[-1]) if reach.size else 1
    if at_least[k] > max_reads:
        return None
    steps = np.flatnonzero(codes >= k)
    values = np.asarray(exact(steps))
    order = np.lexsort((steps, -values.astype(np.float64)))
    keep = order[~np.isnan(values[order])]
    return _greedy(steps[keep], values[keep], offsets, limit, left, right)


def _greedy(steps: np.ndarray, values: np.ndarray, offsets: np.ndarray, limit: int, left: int,
            right: int) -> list[Window]:
    """Choose from ``steps`` (in rank order, with their ``values``) as the module says."""
    offsets = np.asarray(offsets, np.int64)
    seq_of = np.searchsorted(offsets, steps, side="right") - 1
    blocked: set[int] = set()
    chosen: list[Window] = []
    for s, v, q in zip(steps.tolist(), values.tolist(), seq_of.tolist(), strict=True):
        if s in blocked:
            continue
        first, last = int(offsets[q]), int(offsets[q + 1]) - 1
        a, b = max(first, s - left), min(last, s + right)
        chosen.append(Window(pos=s, value=float(v), start=a, end=b))
        if len(chosen) == limit:
            break
        blocked.update(range(a, b + 1))  # the zone [s - left, s + right] within the sequence
    return chosen


def _leading_steps(column: np.ndarray, m: int) -> np.ndarray:
    """``int64[k]`` the ``m`` first steps in the order (value descending, step ascending),
    plus every step tied with the ``m``-th; NaN left out."""
    valid = np.flatnonzero(~np.isnan(column))
    values = column[valid]
    if valid.size > m:
        # the m-th largest value, then every step at least that high (ties included)
        cut = np.partition(values, values.size - m)[values.size - m]
        keep = values >= cut
        valid, values = valid[keep], values[keep]
    order = np.lexsort((valid, -values.astype(np.float64)))
    return valid[order]
