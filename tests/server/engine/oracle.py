"""Brute-force select and match, written straight from DESIGN.md ("Select and match: the
exact semantics"), for tiny inputs only. Every range of every sequence is enumerated.

on(t, c) := float64(h[t, c]) >= float64(threshold), h the float32 values after the
source's transform; NaN is off. Positions outside the sequence that contains the range
count as off. Cell sets are Python int bitmasks.
"""
from __future__ import annotations

import numpy as np
from hiddenscope.server.engine import apply_transform


def on_matrix(states: np.ndarray, transform: str, threshold: float) -> np.ndarray:
    """``bool[T, D]``."""
    values = apply_transform(states, transform).astype(np.float64)
    with np.errstate(invalid="ignore"):
        return values >= float(threshold)


def sequences(offsets) -> list[tuple[int, int]]:
    return [(int(a), int(b) - 1) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def s2(on: np.ndarray, first: int, last: int, a: int, b: int, zl: int, zr: int) -> int:
    """Bitmask of cells on at every t in [a, b] and off on the zl steps before and zr after
    (the steps of those that lie outside the sequence first..last count as off)."""
    core = on[a : b + 1].all(axis=0)
    before = on[max(first, a - zl) : a].any(axis=0)
    after = on[b + 1 : min(last, b + zr) + 1].any(axis=0)
    cells = np.flatnonzero(core & ~before & ~after)
    return sum(1 << int(c) for c in cells)


def select(states, offsets, transform, threshold, start, end, zl=0, zr=0) -> list[int]:
    on = on_matrix(states, transform, threshold)
    first, last = next(q for q in sequences(offsets) if q[0] <= start <= q[1])
    assert end <= last
    mask = s2(on, first, last, start, end, zl, zr)
    return [c for c in range(on.shape[1]) if mask >> c & 1]


def match(states, offsets, transform, threshold, cells, zl=0, zr=0, min_overlap=1, min_len=1,
          max_len=None, limit=50) -> tuple[list[tuple[int, ...]], int]:
    """Return ``([(start, end, length, overlap, union, extra), ...], candidates)``."""
    on = on_matrix(states, transform, threshold)
    S = 0
    for c in cells:
        S |= 1 << int(c)
    found = []
    for first, last in sequences(offsets):
        found += _match_in(on, first, last, S, zl, zr, min_overlap, min_len, max_len)
    found.sort(key=lambda r: (-r[3], r[4], -r[2], r[0]))
    return found[:limit], len(found)


def _match_in(on, first, last, S, zl, zr, min_overlap, min_len, max_len):
    n = last - first + 1
    L = n if max_len is None else max_len
    # inter[a, b] = I([a, b]) of allowed ranges, 0 elsewhere (Python ints beyond 62 cells)
    inter = np.zeros((n, n), dtype=np.int64 if on.shape[1] < 63 else object)
    S2 = {}
    for a in range(first, last + 1):
        for b in range(a, last + 1):
            if b - a + 1 <= L:
                S2[a, b] = s2(on, first, last, a, b, zl, zr)
                inter[a - first, b - first] = S & S2[a, b]
    out = []
    for (a, b), m2 in S2.items():
        i = S & m2
        k = bin(i).count("1")
        if k < min_overlap or not min_len <= b - a + 1 <= L:
            continue
        # every r' with a' <= a and b' >= b (r itself included)
        longer = inter[: a - first + 1, b - first :]
        if np.count_nonzero((longer & i) == i) > 1:
            continue  # a longer allowed range keeps all of I(r): not maximal
        s2n = bin(m2).count("1")
        out.append((a, b, b - a + 1, k, bin(S | m2).count("1"), s2n - k))
    return out
