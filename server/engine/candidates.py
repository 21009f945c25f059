"""Drive the numba sweep (sweep.py) over blocks of on-bits and keep the top tiers.

Every candidate is counted by ``|I|`` (its tier); only the candidates in the tiers
needed to fill ``limit`` are kept, so memory follows the answer, not the candidate pool.
"""
from __future__ import annotations

import numpy as np

from . import sweep


class CandidateSweep:
    """Candidates of one match, fed with ``uint64[n, W]`` on-bit blocks in time order."""

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
        self.state = [
            np.zeros(4, np.int64),  # st
            np.zeros(W, np.uint64),  # prev
            np.zeros(W, np.uint64),  # ended
            np.zeros(m, np.int64),  # active
            np.zeros(m, np.int64),  # start
            np.zeros(m, np.uint8),  # lgood
            np.full(m, sweep.NEG, np.int64),  # last_end
            np.zeros(m, np.int64),  # pend_e
            np.zeros(m, np.uint8),  # pend_flag
            np.zeros((ring, W), np.uint64),  # ring
            np.zeros(m, np.int64),  # tmp
        ]
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
        st, prev, ended, *rest = self.state
        done, n = 0, masks.shape[0]
        while done < n:
            done += sweep.sweep_block(masks[done:], lo + done, self.offsets, self.cfg, st, prev,
                                      ended, *rest, self.hist, self.out)
            self._drain()

    def _drain(self) -> None:
        st = self.state[0]
        k = self.cut()
        rows = self.out[: st[sweep.POS]]
        if rows.size:
            self.kept.append(rows[rows[:, 2] >= k].copy())
        st[sweep.POS] = 0
        st[sweep.KMIN] = k

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """``(start, end, overlap)`` of the top tiers and the total number of candidates."""
        st, prev, ended, *rest = self.state
        sweep.finish(self.T, self.offsets, self.cfg, st, prev, *rest, self.hist, self.out)
        self._drain()
        rows = np.concatenate(self.kept) if self.kept else np.zeros((0, 3), np.int64)
        rows = rows[rows[:, 2] >= self.cut()]
        return rows[:, 0], rows[:, 1], rows[:, 2], int(self.hist.sum())
