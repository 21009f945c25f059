"""Drive the numba sweeps over blocks of on-bits and keep the top tiers.

:class:`PairSweep` (pairs.py: a walk from each start step) answers ``|S| <= 64`` with no
binding ``max_len``; :class:`CandidateSweep` (sweep.py: one pass over run events) answers
everything. Every candidate is counted by ``|I|`` (its tier); only the candidates in the
tiers needed to fill ``limit`` are kept, so memory follows the answer, not the candidate
pool (PairSweep counts the tiers below the cut in ``hist[0]`` without their ``|I|``).
"""
from __future__ import annotations

import threading

import numpy as np

from . import pairs, sweep


class CandidateSweep:
    """Candidates of one match, fed with ``uint64[W, n]`` on-bit blocks in time order."""

    def __init__(self, m: int, seq_offsets: np.ndarray, pad_left: int, pad_right: int,
                 min_len: int, max_len: int | None, min_overlap: int, limit: int) -> None:
        self.offsets = np.asarray(seq_offsets, dtype=np.int64)
        self.T = int(self.offsets[-1])
        L = self.T + 1 if max_len is None else max_len
        mode = (1 if pad_left else 0) + (2 if pad_right else 0)
        self.cfg = np.array([mode, pad_right, L, min_len, min_overlap, pad_left, m], dtype=np.int64)
        self.limit, self.min_overlap = limit, min_overlap
        W = (m + 63) // 64
        longest = int(np.diff(self.offsets).max())
        ring = min(pad_right, longest) + 1 if mode >= 2 else 1
        self.state = sweep.new_state(m, W, ring)
        self.hist = np.zeros(m + 1, np.int64)
        self.out = np.zeros((max(1 << 14, 64 * (6 * m + 16)), 3), np.int64)
        self.kept: list[np.ndarray] = []

    def cut(self) -> int:
        """The lowest tier that can still reach the top ``limit`` (all tiers if fewer)."""
        reach = np.cumsum(self.hist[::-1])[::-1]  # reach[k] = candidates with |I| >= k
        full = np.flatnonzero(reach >= self.limit)
        return int(full[-1]) if full.size else self.min_overlap

    def feed(self, lo: int, masks: np.ndarray) -> None:
        """Steps ``lo .. lo + len(masks) - 1``."""
        s = self.state
        done, n = 0, masks.shape[1]
        while done < n:
            done += sweep.sweep_block(masks[:, done:], lo + done, self.offsets, self.cfg, s["st"],
                                      s["prev"], s["ended"], s["cs"], s["gs"], s["ring"], s["tmp"],
                                      self.hist, self.out)
            self._drain()

    def _drain(self) -> None:
        st = self.state["st"]
        k = self.cut()
        rows = self.out[: st[sweep.POS]]
        if rows.size:
            self.kept.append(rows[rows[:, 2] >= k].copy())
        st[sweep.POS] = 0
        st[sweep.KMIN] = k

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows int64[n, 3] of (start, end, overlap), hist int64[m+1])`` after the last step."""
        s = self.state
        sweep.finish(self.T, self.offsets, self.cfg, s["st"], s["prev"], s["cs"], s["gs"],
                     s["ring"], s["tmp"], self.hist, self.out)
        self._drain()
        rows = np.concatenate(self.kept) if self.kept else np.zeros((0, 3), np.int64)
        return rows[rows[:, 2] >= self.cut()], self.hist


class PairSweep:
    """The same answer as :class:`CandidateSweep` by pairs.py's walk from each start step,
    for ``m <= 64`` cells and a ``max_len`` that never binds: the segment's words are kept
    as they are fed (8 bytes per step) and walked at :meth:`finish` (with 12 bytes per step
    more for the end words and start steps, and 8 each for ``G``/``H`` of a padding > 1;
    all of them buffers reused from query to query). The engine runs one PairSweep per
    range of whole sequences on its threads and merges them with :func:`top_tiers`."""

    def __init__(self, m: int, seq_offsets: np.ndarray, pad_left: int, pad_right: int,
                 min_len: int, max_len: int | None, min_overlap: int, limit: int) -> None:
        if not fits_pairs(m, seq_offsets, max_len):
            raise ValueError("PairSweep needs m <= 64 and max_len None or >= every sequence")
        offsets = np.asarray(seq_offsets, dtype=np.int64)
        self.base = int(offsets[0])
        self.offsets = offsets - self.base  # the kernels index the segment's own words
        self.words = take_words(int(self.offsets[-1]))  # every step is fed
        self.fed = 0
        self.zl, self.zr = pad_left, pad_right
        mode = (1 if pad_left else 0) + (2 if pad_right else 0)
        self.cfg = np.array([mode, min_len, min_overlap, min_overlap, pad_left > 1, pad_right > 1,
                             0], np.int64)
        self.limit, self.min_overlap = limit, min_overlap
        self.hist = np.zeros(m + 1, np.int64)
        self.out = np.zeros((1 << 14, 3), np.int64)
        self.kept = np.empty((1 << 14, 3), np.int64)  # rows[:n_kept] in the tiers kept so far
        self.n_kept = 0

    cut = CandidateSweep.cut

    def feed(self, lo: int, masks: np.ndarray) -> None:
        """Steps ``lo .. lo + masks.shape[1] - 1`` (``masks: uint64[1, n]``)."""
        self.words[lo - self.base : lo - self.base + masks.shape[1]] = masks[0]
        self.fed += masks.shape[1]

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows int64[n, 3] of (start, end, overlap), hist int64[m+1])``; ``hist[0]``
        counts the candidates below the tiers kept (their ``|I|`` was not needed)."""
        if self.fed != self.words.size:  # the buffer is reused: nothing may be left over
            raise RuntimeError(f"PairSweep fed {self.fed} of {self.words.size} steps")
        rises = falls = self.words[:0]
        if self.zl > 1:
            rises = take_words(self.words.size)
            pairs.good_rises(self.words, self.offsets, self.zl, rises)
        if self.zr > 1:
            falls = take_words(self.words.size)
            pairs.good_falls(self.words, self.offsets, self.zr, falls)
        # the end words and the start steps (int32: a segment is far below 2**31 steps)
        ends, spare = take_words(self.words.size), take_words(self.words.size // 2 + 1)
        starts = spare.view(np.int32)[: self.words.size]
        self.cfg[pairs.STARTS] = pairs.ends_and_starts(self.words, self.offsets, rises,
                                                       self.zl > 1, ends, starts)
        st = np.array([0, -1, 0], np.int64)
        pst = np.zeros(1, np.uint64)
        while True:
            st[pairs.POS] = 0
            done = pairs.pair_sweep(self.words, ends, starts, rises, falls, self.cfg, st, pst,
                                    self.hist, self.out)
            k = self.cut()
            self._keep(st[pairs.POS], k)
            self.cfg[pairs.KMIN] = k
            if done:
                break
        for buf in (self.words, ends, spare, rises, falls):
            if buf.size:
                give_words(buf)
        self.words = self.words[:0]
        n = pairs.keep_rows(self.kept, self.n_kept, self.cut(), 0, self.kept, 0)
        return self.kept[:n], self.hist

    def _keep(self, n: int, k: int) -> None:
        """Append the rows ``out[:n]`` of tiers ``>= k`` to ``kept`` (in step numbers of the
        whole source); when they do not fit, first drop the kept rows below ``k``, then grow."""
        if self.n_kept + n > self.kept.shape[0]:
            self.n_kept = pairs.keep_rows(self.kept, self.n_kept, k, 0, self.kept, 0)
            if self.n_kept + n > self.kept.shape[0]:
                grown = np.empty((2 * (self.n_kept + n), 3), np.int64)
                grown[: self.n_kept] = self.kept[: self.n_kept]
                self.kept = grown
        self.n_kept = pairs.keep_rows(self.out, n, k, self.base, self.kept, self.n_kept)


_SPARE: list[np.ndarray] = []  # word buffers of finished sweeps: no fresh pages per query
_SPARE_LOCK = threading.Lock()
_SPARE_BYTES = 1 << 28  # up to 4.5 words per step: 5M steps in two segments fit


def take_words(n: int) -> np.ndarray:
    """``uint64[n]`` (contents undefined), from the smallest finished sweep's buffer that
    fits (fresh pages cost more than the walk: about 1 ms per 2 MB faulted in)."""
    with _SPARE_LOCK:
        fits = [i for i, buf in enumerate(_SPARE) if buf.size >= n]
        if fits:
            return _SPARE.pop(min(fits, key=lambda i: _SPARE[i].size))[:n]
    return np.empty(n, np.uint64)


def give_words(words: np.ndarray) -> None:
    """Keep a finished sweep's buffer for the next one (within ``_SPARE_BYTES``)."""
    buf = words if words.base is None else words.base
    with _SPARE_LOCK:
        if buf.nbytes + sum(b.nbytes for b in _SPARE) <= _SPARE_BYTES:
            _SPARE.append(buf)


def fits_pairs(m: int, seq_offsets: np.ndarray, max_len: int | None) -> bool:
    """Whether :class:`PairSweep` answers: one word per step, and no range of a sequence
    is longer than ``max_len`` (so it never cuts a candidate)."""
    return m <= 64 and (max_len is None or max_len >= int(np.diff(seq_offsets).max()))


def new_sweep(m: int, seq_offsets: np.ndarray, pad_left: int, pad_right: int, min_len: int,
              max_len: int | None, min_overlap: int, limit: int):
    """:class:`PairSweep` where it fits (faster), else :class:`CandidateSweep`."""
    kind = PairSweep if fits_pairs(m, seq_offsets, max_len) else CandidateSweep
    return kind(m, seq_offsets, pad_left, pad_right, min_len, max_len, min_overlap, limit)


def top_tiers(parts: list[tuple[np.ndarray, np.ndarray]], limit: int, min_overlap: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Merge the sweeps of independent segments: ``(start, end, overlap)`` of the tiers
    needed for ``limit``, and the total number of candidates."""
    hist = np.sum([h for _, h in parts], axis=0)
    reach = np.cumsum(hist[::-1])[::-1]
    full = np.flatnonzero(reach >= limit)
    cut = int(full[-1]) if full.size else min_overlap
    rows = np.concatenate([r for r, _ in parts])
    rows = rows[rows[:, 2] >= cut]
    return rows[:, 0], rows[:, 1], rows[:, 2], int(hist.sum())
