"""What a whole match set looks like: lengths, frequent phrases and meta enrichment over
ALL candidates of a match, not only the rows returned (``match?summary=true``).

Pure functions over the candidates' ``starts``/``ends`` (``int64[n]``, inclusive ranges)
and the data set's tokens and meta values; ``SourceEngine.candidates`` supplies them.

- ``lengths``: ``[[length, count], ...]`` by length ascending.
- ``phrases``: the ``PHRASES`` most frequent token strings of the candidate ranges (tokens
  joined by one space), ``[{text, count}]`` by count descending, then by the earliest
  candidate, then the shorter. Ranges are grouped by length and two polynomial hashes of
  their token ids (prefix hashes, so the cost is O(T) once per token array plus O(n) per
  match through a hash table, however long or overlapping the ranges); only the first
  groups in rank order are sorted, and the winning groups are checked token by token, so a
  hash collision can never merge two different phrases.
- meta: for a categorical track, ``[{label, in_matches, overall, ratio}]`` for each label
  that occurs in the source or the candidates: ``in_matches`` is the label's share among the
  steps of all candidate ranges, a step counted once for each range that contains it;
  ``overall`` its share over the whole source; ``ratio = in_matches / overall``. Ordered by
  ``in_matches`` descending, then label id. A scalar track gets one row with label
  ``"mean"``: the mean over the candidate steps (counted as above) and over the source, NaN
  left out; ``ratio`` their quotient (None when the source mean is 0).
"""
from __future__ import annotations

import threading
import weakref

import numba as nb
import numpy as np

from .lexorder import smallest

PHRASES = 20
_HASHES = ((1_000_003, 2_147_483_629), (911_382_323, 2_147_483_587))  # (base, prime < 2^31)


def lengths(starts: np.ndarray, ends: np.ndarray) -> list[list[int]]:
    """``[[length, count], ...]`` of the candidates, by length ascending."""
    length = np.asarray(ends) - np.asarray(starts) + 1
    if length.size and length.max() > 1 << 16:  # a long range: no counter as long as it
        values, counts = np.unique(length, return_counts=True)
    else:  # a count per length, no sort
        counts = np.bincount(length)
        values = np.flatnonzero(counts)
        counts = counts[values]
    return [[int(v), int(c)] for v, c in zip(values, counts, strict=True)]


@nb.njit(cache=True, nogil=True)
def _prefix_hash(tokens, base, prime):
    """``P uint64[T+1]`` (``P[i]`` = hash of tokens[:i]) and ``powers uint64[T+1]`` mod prime."""
    T = tokens.size
    P = np.zeros(T + 1, np.uint64)
    powers = np.ones(T + 1, np.uint64)
    for i in range(T):
        P[i + 1] = (P[i] * base + np.uint64(tokens[i] + 1)) % prime
        powers[i + 1] = (powers[i] * base) % prime
    return P, powers


_prefix_cache: dict[int, tuple] = {}
_prefix_lock = threading.Lock()


def _prefixes(tokens: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """The prefix hashes of ``tokens``, kept while that array lives (a data set's tokens)."""
    with _prefix_lock:
        entry = _prefix_cache.get(id(tokens))
        if entry is not None and entry[0]() is tokens:
            return entry[1]
        tok = np.ascontiguousarray(tokens, dtype=np.int64)
        tables = [(*_prefix_hash(tok, np.uint64(b), np.uint64(p)), p) for b, p in _HASHES]
        for key in [k for k, e in _prefix_cache.items() if e[0]() is None]:
            del _prefix_cache[key]
        try:
            _prefix_cache[id(tokens)] = (weakref.ref(tokens), tables)
        except TypeError:  # not weak-referenceable: no caching
            pass
        return tables


@nb.njit(cache=True, nogil=True)
def _pack_hashes(starts, ends, P1, W1, p1, P2, W2, p2):
    """``int64[n]``: the two range hashes of each ``[start, end]`` packed as ``h1 << 31 | h2``."""
    out = np.empty(starts.size, np.int64)
    for i in range(starts.size):
        a, b = starts[i], ends[i] + 1
        h1 = (P1[b] + p1 - (P1[a] * W1[b - a]) % p1) % p1
        h2 = (P2[b] + p2 - (P2[a] * W2[b - a]) % p2) % p2
        out[i] = (np.int64(h1) << 31) | np.int64(h2)
    return out


def _range_keys(tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(length, hash)`` ``int64[n]`` of each range: the two 31-bit polynomial hashes of
    its token ids packed into one 62-bit integer."""
    (P1, W1, p1), (P2, W2, p2) = _prefixes(tokens)
    packed = _pack_hashes(starts, ends, P1, W1, np.uint64(p1), P2, W2, np.uint64(p2))
    return ends - starts + 1, packed


@nb.njit(cache=True, nogil=True)
def _group(packed, length, starts):
    """Group the ranges by ``(length, packed hash)`` in one pass through an open-addressing
    table (no sort): ``gid int32[n]`` and per group its ``count``, earliest ``first`` start
    and ``length`` (``int64[groups]`` each)."""
    n = packed.size
    size = 2
    while size < 2 * n:
        size *= 2
    mask = size - 1
    slot_group = np.full(size, -1, np.int64)
    gid = np.empty(n, np.int32)
    count = np.zeros(n, np.int64)
    first = np.empty(n, np.int64)
    glen = np.empty(n, np.int64)
    gpack = np.empty(n, np.int64)
    groups = 0
    for i in range(n):
        p, ln = packed[i], length[i]
        h = (np.uint64(p) ^ (np.uint64(ln) * np.uint64(0x9E3779B97F4A7C15))) * np.uint64(
            0xBF58476D1CE4E5B9)
        k = np.int64(h >> np.uint64(33)) & mask
        while True:
            g = slot_group[k]
            if g < 0:
                g = groups
                groups += 1
                slot_group[k] = g
                first[g], glen[g], gpack[g] = starts[i], ln, p
                break
            if gpack[g] == p and glen[g] == ln:
                break
            k = (k + 1) & mask
        gid[i] = g
        count[g] += 1
        if starts[i] < first[g]:
            first[g] = starts[i]
    return gid, count[:groups], first[:groups], glen[:groups]


def phrases(tokens: np.ndarray, vocab: np.ndarray, starts: np.ndarray, ends: np.ndarray,
            limit: int = PHRASES) -> list[dict]:
    """The ``limit`` most frequent token strings of the ranges: ``[{text, count}]``.

    ``vocab``: object array of token strings indexed by id.
    """
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    if starts.size == 0:
        return []
    length, packed = _range_keys(tokens, starts, ends)
    gid, counts, first, glen = _group(packed, length, starts)
    # the groups by count, earliest start, shortest: only a prefix is needed (a longer one
    # when a hash collision splits groups and the prefix runs out before the top is sure)
    m = limit + 1
    while True:
        exact, sure = _top_groups(tokens, starts, gid, counts, first, glen, limit, m)
        if sure or m >= counts.size:
            break
        m *= 4
    out = []
    for count, _, _, members in exact[:limit]:
        a, b = int(starts[members[0]]), int(ends[members[0]])
        out.append({"text": " ".join(vocab[tokens[a : b + 1]].tolist()), "count": int(count)})
    return out


def _top_groups(tokens, starts, gid, counts, first, glen, limit: int, m: int):
    """``(exact, sure)``: the top groups among the first ``m`` in rank order, checked token
    by token (``(count, first start, length, members)``), and whether no later group can
    enter them."""
    order = smallest((-counts, first, glen), m)  # by count, earliest start, shortest
    exact: list[tuple[int, int, int, np.ndarray]] = []  # (count, first start, length, members)
    for g in order:
        if len(exact) >= limit:
            exact.sort(key=lambda e: (-e[0], e[1], e[2]))
            del exact[limit:]
            last = exact[-1]
            if (-counts[g], first[g], glen[g]) > (-last[0], last[1], last[2]):
                # later groups rank after this one, and a part of a split group ranks after
                # the group: none can enter
                return exact, True
        members = np.flatnonzero(gid == g)
        members = members[np.argsort(starts[members], kind="stable")]
        rows = _rows(tokens, starts[members], int(glen[g]))
        if (rows == rows[0]).all():
            exact.append((members.size, int(starts[members[0]]), int(glen[g]), members))
            continue
        # a hash collision: split the group by its exact token rows (never seen in practice)
        _, inv = np.unique(rows, axis=0, return_inverse=True)
        for u in np.unique(inv):
            part = members[inv.ravel() == u]
            exact.append((part.size, int(starts[part[0]]), int(glen[g]), part))
    exact.sort(key=lambda e: (-e[0], e[1], e[2]))
    return exact, order.size == counts.size


def _rows(tokens: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    return tokens[starts[:, None] + np.arange(length)]


def coverage(T: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``int64[T]``: how many of the ranges contain each step."""
    delta = np.bincount(np.asarray(starts, np.int64), minlength=T + 1) - np.bincount(
        np.asarray(ends, np.int64) + 1, minlength=T + 1)
    return np.cumsum(delta[:T])


def categorical_enrichment(ids: np.ndarray, labels: list[str], cover: np.ndarray) -> list[dict]:
    """``[{label, in_matches, overall, ratio}]`` of a categorical track ``ids: int64[T]``."""
    ids = np.asarray(ids, np.int64)
    size = max(len(labels), int(ids.max(initial=-1)) + 1)
    overall = np.bincount(ids, minlength=size) / max(ids.size, 1)
    weight = float(cover.sum())
    inside = np.bincount(ids, weights=cover, minlength=size) / weight if weight else \
        np.zeros(size)
    present = np.flatnonzero((overall > 0) | (inside > 0))
    present = present[np.lexsort((present, -inside[present]))]
    return [
        {"label": labels[i] if i < len(labels) else str(i), "in_matches": float(inside[i]),
         "overall": float(overall[i]),
         "ratio": float(inside[i] / overall[i]) if overall[i] > 0 else None}
        for i in present
    ]


def scalar_enrichment(values: np.ndarray, cover: np.ndarray) -> list[dict]:
    """One row ``{label: "mean", in_matches, overall, ratio}`` of a scalar track."""
    values = np.asarray(values, np.float64)
    ok = np.isfinite(values)
    weight = cover[ok].sum()
    inside = float((values[ok] * cover[ok]).sum() / weight) if weight else None
    overall = float(values[ok].mean()) if ok.any() else None
    ratio = inside / overall if inside is not None and overall else None
    return [{"label": "mean", "in_matches": inside, "overall": overall, "ratio": ratio}]
