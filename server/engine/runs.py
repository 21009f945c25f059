"""Per-cell on-runs: maximal stretches of consecutive on steps inside one sequence.

A run is a pair ``(start, end)`` (inclusive). Runs never cross a sequence boundary:
the step before a sequence start counts as off (DESIGN.md), so a run that reaches a
sequence start is cut there. Run lists are ``int64`` arrays sorted by start.
"""
from __future__ import annotations

import numpy as np


def threshold32(threshold: float) -> np.float32:
    """The smallest float32 ``f`` with ``float64(f) >= threshold``.

    For a float32 value ``v``: ``float64(v) >= threshold  <=>  v >= f``, so the engine can
    compare float32 arrays without casting them to float64 and stay exact (NEP 50 would
    otherwise round a Python float threshold to float32, possibly downwards).
    """
    with np.errstate(over="ignore"):
        f = np.float32(threshold)
    if np.float64(f) < threshold:
        f = np.nextafter(f, np.float32(np.inf))
    return np.float32(f)


def is_on(values: np.ndarray, threshold: float) -> np.ndarray:
    """``bool`` array: ``float64(v) >= threshold`` for transformed float32 ``values``; NaN is off."""
    return np.asarray(values, dtype=np.float32) >= threshold32(threshold)


def runs_of_rows(on: np.ndarray, offset: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runs of each row of ``on: bool[m, n]`` (row = cell, column = step ``offset + i``).

    Rows are treated as continuous; split them at sequence starts with :func:`split_runs`.
    """
    m, n = on.shape
    edge = np.zeros((m, n + 2), dtype=np.int8)
    edge[:, 1:-1] = on
    d = np.diff(edge, axis=1)
    rs, cs = np.nonzero(d == 1)
    _, ce = np.nonzero(d == -1)
    bounds = np.searchsorted(rs, np.arange(m + 1))
    out = []
    for j in range(m):
        lo, hi = bounds[j], bounds[j + 1]
        out.append((cs[lo:hi].astype(np.int64) + offset, ce[lo:hi].astype(np.int64) + (offset - 1)))
    return out


def split_runs(starts: np.ndarray, ends: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut runs at the positions ``cuts`` (sorted): a run with ``start < p <= end`` becomes two."""
    if cuts.size == 0 or starts.size == 0:
        return starts, ends
    idx = np.searchsorted(starts, cuts, side="right") - 1
    ok = idx >= 0
    inside = cuts[ok][(starts[idx[ok]] < cuts[ok]) & (ends[idx[ok]] >= cuts[ok])]
    if inside.size == 0:
        return starts, ends
    return np.sort(np.concatenate([starts, inside])), np.sort(np.concatenate([ends, inside - 1]))


def remove_steps(starts: np.ndarray, ends: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn off the sorted unique ``steps`` (each inside some run) and return the new runs.

    Each step ``p`` splits its run into ``[s, p-1]`` and ``[p+1, e]``; the pieces stay in
    order, so sorting starts and ends separately pairs them up again. Empty pieces have
    ``start == end + 1`` and are dropped.
    """
    if steps.size == 0:
        return starts, ends
    s = np.sort(np.concatenate([starts, steps + 1]))
    e = np.sort(np.concatenate([ends, steps - 1]))
    keep = s <= e
    return s[keep], e[keep]


def join_runs(starts: np.ndarray, ends: np.ndarray, seq_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join runs that touch (``end + 1 == next start``) unless the next starts a sequence.

    Used to stitch runs found chunk by chunk into runs over the whole source.
    """
    if starts.size < 2:
        return starts, ends
    touch = (starts[1:] == ends[:-1] + 1) & ~np.isin(starts[1:], seq_offsets)
    if not touch.any():
        return starts, ends
    return starts[np.concatenate([[True], ~touch])], ends[np.concatenate([~touch, [True]])]


def gap_flags(
    starts: np.ndarray, ends: np.ndarray, seq_offsets: np.ndarray, pad_left: int, pad_right: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(left_ok, right_ok)``: whether at least ``pad_left`` off steps precede each run and
    ``pad_right`` follow it. Steps outside the run's sequence count as off.
    """
    n = starts.size
    seq = np.searchsorted(seq_offsets, starts, side="right") - 1
    same_prev = np.zeros(n, dtype=bool)
    same_prev[1:] = seq[1:] == seq[:-1]
    gap = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    gap[1:] = np.where(same_prev[1:], starts[1:] - ends[:-1] - 1, gap[1:])
    left_ok = gap >= pad_left
    right_gap = np.roll(gap, -1)
    right_gap[-1:] = np.iinfo(np.int64).max
    return left_ok, right_gap >= pad_right
