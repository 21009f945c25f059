"""Drive the numba sweep (sweep.py) over blocks of on-bits and keep the top tiers.

Every candidate is counted by ``|I|`` (its tier); only the candidates in the tiers
needed to fill ``limit`` are kept, so memory follows the answer, not the candidate pool.
"""
from __future__ import annotations

import numpy as np

from . import sweep


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
