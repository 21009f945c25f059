"""Enumerate every match candidate from the on-runs of the cells in ``S``.

The DESIGN.md definition (a range ``r`` is a candidate when ``|I(r)| >= min_overlap``,
its length is allowed and it is maximal) reduces to run lists as follows, with
``L = max_len`` (infinite when unset); tests/server/engine checks each case against
the brute-force oracle:

* ``pad_left = pad_right = 0``: ``S2`` shrinks as the range grows, so ``r = [a, b]`` is
  maximal iff ``len(r) == L`` or no one-step extension keeps ``I(r)``. For ``J = I(r)``,
  each cell's run ``[s_c, e_c]`` covers ``r``; maximal means ``a = max s_c`` and
  ``b = min e_c``. So for every run start ``a`` the candidates are the distinct ends
  ``b`` of the runs covering ``a`` with ``b <= `` the longest run starting at ``a``
  (``|I|`` = runs covering ``a`` that end at ``b`` or later), and length ``< L``; plus
  every window of length ``L`` covered by at least one run.
* ``pad_left > 0, pad_right = 0``: a cell of ``S2([a, b])`` has a run starting exactly at
  ``a`` with ``>= pad_left`` off steps before it, so any left extension loses all of
  ``I``; only right extensions count. Candidates: for each such start ``a``, the
  distinct ends of its runs (length ``< L``) and the window ``[a, a+L-1]``.
* ``pad_left = 0, pad_right > 0``: the mirror image (computed by reversing time).
* both ``> 0``: the runs with enough off steps on both sides, each distinct
  ``[start, end]`` once, ``|I|`` = how many cells have exactly that run.
"""
from __future__ import annotations

import numpy as np

from .runs import gap_flags

_BLOCK = 1 << 16  # starts per block in the general case: bounds memory to |S| x block


def enumerate_candidates(
    runs: list[tuple[np.ndarray, np.ndarray]],
    seq_offsets: np.ndarray,
    pad_left: int,
    pad_right: int,
    min_len: int,
    max_len: int | None,
    min_overlap: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return every candidate as ``(start int64[n], end int64[n], overlap int64[n])``.

    ``runs`` holds one ``(starts, ends)`` pair per cell of ``S``.
    """
    T = int(seq_offsets[-1])
    L = T + 1 if max_len is None else max_len
    flags = [gap_flags(s, e, seq_offsets, pad_left, pad_right) for s, e in runs]
    if pad_left and pad_right:
        keep = [lo & ro for lo, ro in flags]
        a, b, k = _exact_runs(runs, keep)
    elif pad_left:
        s, e = _concat(runs, [lo for lo, _ in flags])
        a, b, k = _anchored(s, e, L)
    elif pad_right:
        s, e = _concat(runs, [ro for _, ro in flags])
        ra, rb, k = _anchored(T - 1 - e, T - 1 - s, L)
        a, b = T - 1 - rb, T - 1 - ra
    else:
        a, b, k = _covering(runs, L)
        if max_len is not None:
            wa, wb, wk = _windows(runs, L, T)
            a, b, k = np.concatenate([a, wa]), np.concatenate([b, wb]), np.concatenate([k, wk])
    length = b - a + 1
    ok = (k >= min_overlap) & (length >= min_len) & (length <= L)
    return a[ok], b[ok], k[ok]


def _concat(runs, keeps) -> tuple[np.ndarray, np.ndarray]:
    s = np.concatenate([r[0][m] for r, m in zip(runs, keeps)])
    e = np.concatenate([r[1][m] for r, m in zip(runs, keeps)])
    return s, e


def _exact_runs(runs, keeps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``(start, end)`` pairs among the kept runs, with their multiplicity."""
    s, e = _concat(runs, keeps)
    pairs, counts = np.unique(np.stack([s, e], axis=1), axis=0, return_counts=True)
    if pairs.size == 0:
        return s[:0], e[:0], s[:0]
    return pairs[:, 0], pairs[:, 1], counts.astype(np.int64)


def _anchored(s: np.ndarray, e: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of runs anchored at their start (the left-padding case)."""
    order = np.lexsort((-e, s))
    s, e = s[order], e[order]
    n = s.size
    if n == 0:
        return s, e, s
    first = np.concatenate([[True], s[1:] != s[:-1]])
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.arange(n) - group_start + 1  # runs in the group ending at e or later
    last_of_end = np.concatenate([(s[1:] != s[:-1]) | (e[1:] != e[:-1]), [True]])
    pick = last_of_end & (e - s + 1 < L)
    a, b, k = s[pick], e[pick], rank[pick]
    long_enough = (e - s + 1 >= L).astype(np.int64)
    heads = np.flatnonzero(first)
    k_win = np.add.reduceat(long_enough, heads)
    has = k_win > 0
    wa = s[heads][has]
    return (np.concatenate([a, wa]), np.concatenate([b, wa + L - 1]),
            np.concatenate([k, k_win[has]]))


def _covering(runs, L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of length < L without padding: maximal intersections of runs."""
    all_s = np.concatenate([r[0] for r in runs])
    all_e = np.concatenate([r[1] for r in runs])
    starts = np.unique(all_s)
    longest = np.full(starts.size, -1, dtype=np.int64)
    np.maximum.at(longest, np.searchsorted(starts, all_s), all_e)
    out_a, out_b, out_k = [], [], []
    m = len(runs)
    for lo in range(0, starts.size, _BLOCK):
        A = starts[lo : lo + _BLOCK]
        ends = np.full((m, A.size), -1, dtype=np.int64)
        for j, (s, e) in enumerate(runs):
            idx = np.searchsorted(s, A, side="right") - 1
            ok = idx >= 0
            cover = np.zeros(A.size, dtype=bool)
            cover[ok] = e[idx[ok]] >= A[ok]
            ends[j, cover] = e[idx[cover]]
        ends = -np.sort(-ends, axis=0)  # each column descending
        distinct = np.ones_like(ends, dtype=bool)
        distinct[:-1] = ends[:-1] != ends[1:]
        rank = np.arange(1, m + 1)[:, None]
        pick = distinct & (ends >= A) & (ends <= longest[lo : lo + _BLOCK]) & (ends - A + 1 < L)
        rows, cols = np.nonzero(pick)
        out_a.append(A[cols])
        out_b.append(ends[rows, cols])
        out_k.append(rank[rows, 0])
    if not out_a:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_k).astype(np.int64)


def _windows(runs, L: int, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window of length ``L`` with at least one cell of ``S`` on throughout."""
    cover = np.zeros(T + 1, dtype=np.int64)
    for s, e in runs:
        long = e - s + 1 >= L
        np.add.at(cover, s[long], 1)
        np.add.at(cover, e[long] - L + 2, -1)
    count = np.cumsum(cover[:T])
    a = np.flatnonzero(count > 0)
    return a, a + L - 1, count[a]
