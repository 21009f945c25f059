"""One pass over time that finds every match candidate (numba; see candidates below).

Input: for each step, the on-set of the cells of ``S`` as bit words (``uint64[n, W]``,
bit ``j`` = the ``j``-th cell of ``S``), fed in blocks of consecutive steps. The sweep
keeps the cells that are on, sorted by the start of their current run, and acts where a
run ends. With ``L = max_len`` (no limit: ``T + 1``), ``a``/``b`` a range's first/last
step and ``I`` the cells of ``S`` in ``S2``; each case is checked against the
brute-force oracle in tests/server/engine:

* mode 0, no padding: ``S2`` shrinks as a range grows, so ``[a, b]`` is maximal iff its
  length is ``L`` or no one-step extension keeps ``I``: ``a`` is the latest start and
  ``b`` the earliest end among the runs of ``I``. At each ``b`` where some run ends, the
  candidates are the distinct starts ``a`` of the runs on at ``b`` that are not before
  the earliest start of a run ending at ``b``; ``|I|`` = runs on at ``b`` starting at
  ``a`` or earlier. Length ``< L`` here; every window of length ``L`` with a run over
  it is a candidate too.
* mode 1, ``pad_left > 0`` only: a cell of ``S2([a, b])`` has a run starting exactly at
  ``a`` after ``>= pad_left`` off steps, so a left extension loses all of ``I``:
  candidates are ``(a, b)`` with ``b`` the end of one of those runs (``|I|`` = those
  runs still on at ``b``), plus the window ``[a, a+L-1]``.
* mode 2, ``pad_right > 0`` only: the mirror image. A run that ends at ``b`` is
  confirmed ``pad_right`` steps later (or at its sequence's end) if the cell stayed
  off; the confirmed runs ending at ``b`` give the candidates ``(a, b)`` for each
  distinct start ``a`` (``|I|`` = runs starting at ``a`` or earlier), plus the window.
* mode 3, both: ``I`` = the cells whose run is exactly ``[a, b]`` with enough off steps
  on both sides; each distinct such run is a candidate.

Steps outside a sequence count as off, so runs end at a sequence's last step.
Every candidate passing ``min_overlap``/``min_len``/``max_len`` is counted in
``hist[|I|]``; only those with ``|I| >= kmin`` are written out (the caller raises
``kmin`` as the tiers needed for ``limit`` fill).
"""
from __future__ import annotations

import numba as nb
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

NEG = -(1 << 62)  # "no previous run end" for the left-gap test
# istate slots
SEQ, NA, POS, KMIN = 0, 1, 2, 3
_JIT = {"cache": True, "nogil": True}


@nb.njit(**_JIT)
def _emit(a, b, k, cfg, hist, out, st):
    """Count the candidate ``[a, b]`` with ``|I| = k``; write it out if ``k >= kmin``."""
    length = b - a + 1
    if k < cfg[4] or length < cfg[3] or length > cfg[2]:
        return
    hist[k] += 1
    if k >= st[KMIN]:
        p = st[POS]
        out[p, 0] = a
        out[p, 1] = b
        out[p, 2] = k
        st[POS] = p + 1


@nb.njit(**_JIT)
def _end_event(b, ended, cfg, st, active, start, lgood, pend_e, pend_flag, ring, hist, out):
    """Runs of the cells in ``ended`` (bit words) end at step ``b``."""
    mode, zr, L = cfg[0], cfg[1], cfg[2]
    na = st[NA]
    if mode == 0:
        amin = 1 << 62
        for i in range(na):
            j = active[i]
            if ended[j >> 6] >> np.uint64(j & 63) & np.uint64(1):
                amin = min(amin, start[j])
        for i in range(na - 1, -1, -1):
            a = start[active[i]]
            if a < amin:
                break
            if i == na - 1 or start[active[i + 1]] != a:
                if b - a + 1 < L:
                    _emit(a, b, i + 1, cfg, hist, out, st)
    elif mode == 1:
        i = 0
        while i < na:
            a = start[active[i]]
            good, hit = 0, False
            while i < na and start[active[i]] == a:
                j = active[i]
                if lgood[j]:
                    good += 1
                    if ended[j >> 6] >> np.uint64(j & 63) & np.uint64(1):
                        hit = True
                i += 1
            if hit and b - a + 1 < L:
                _emit(a, b, good, cfg, hist, out, st)
    else:
        slot = b % ring.shape[0]
        for w in range(ended.size):
            ring[slot, w] |= ended[w]
            x = ended[w]
            while x:
                j = w * 64 + np.int64(trailing_zeros(x))
                pend_e[j] = b
                pend_flag[j] = 1
                x &= x - np.uint64(1)


@nb.njit(**_JIT)
def _confirm(e, cfg, st, start, lgood, pend_e, pend_flag, ring, tmp, hist, out):
    """Runs ending at ``e`` whose cells stayed off for ``pad_right`` steps: emit their candidates."""
    mode, L = cfg[0], cfg[2]
    slot = e % ring.shape[0]
    g = 0
    for w in range(ring.shape[1]):
        x = ring[slot, w]
        ring[slot, w] = 0
        while x:
            j = w * 64 + np.int64(trailing_zeros(x))
            x &= x - np.uint64(1)
            if pend_flag[j] and pend_e[j] == e:
                pend_flag[j] = 0
                if mode == 2 or lgood[j]:
                    tmp[g] = start[j]
                    g += 1
    if g == 0:
        return
    for i in range(1, g):  # insertion sort: groups hold at most |S| runs
        v = tmp[i]
        p = i - 1
        while p >= 0 and tmp[p] > v:
            tmp[p + 1] = tmp[p]
            p -= 1
        tmp[p + 1] = v
    s = tmp
    first = 0
    for i in range(g):
        if i == g - 1 or s[i + 1] != s[i]:
            if mode == 3:
                _emit(s[i], e, i - first + 1, cfg, hist, out, st)
            elif e - s[i] + 1 < L:
                _emit(s[i], e, i + 1, cfg, hist, out, st)
            first = i + 1
    if mode == 2 and L <= e + 1:
        aw = e - L + 1
        kw = 0
        while kw < g and s[kw] <= aw:
            kw += 1
        if kw:
            _emit(aw, e, kw, cfg, hist, out, st)


@nb.njit(**_JIT)
def _close_sequence(qs, qe, cfg, st, prev, active, start, lgood, last_end, pend_e, pend_flag,
                    ring, tmp, hist, out):
    """Everything on ends at the sequence's last step ``qe``; steps after it are off."""
    if st[NA]:
        _end_event(qe, prev, cfg, st, active, start, lgood, pend_e, pend_flag, ring, hist, out)
    if cfg[0] >= 2:
        for e in range(max(qs, qe - cfg[1] + 1), qe + 1):
            _confirm(e, cfg, st, start, lgood, pend_e, pend_flag, ring, tmp, hist, out)
    st[NA] = 0
    prev[:] = 0
    last_end[:] = NEG
    pend_flag[:] = 0


@nb.njit(**_JIT)
def sweep_block(masks, lo, offsets, cfg, st, prev, ended, active, start, lgood, last_end, pend_e,
                pend_flag, ring, tmp, hist, out):
    """Feed steps ``lo .. lo+len(masks)-1``; return how many were consumed.

    Stops early when ``out`` might not hold the next step's candidates (the caller
    drains it and calls again with the rest). ``cfg`` = (mode, pad_right, L, min_len,
    min_overlap, pad_left, m).
    """
    n, W = masks.shape
    zl, zr, L, m = cfg[5], cfg[1], cfg[2], cfg[6]
    room = 6 * m + 16  # the most one step (with a sequence end) can emit
    for i in range(n):
        if out.shape[0] - st[POS] < room:
            return i
        t = lo + i
        if t == offsets[st[SEQ] + 1]:
            _close_sequence(offsets[st[SEQ]], t - 1, cfg, st, prev, active, start, lgood, last_end,
                            pend_e, pend_flag, ring, tmp, hist, out)
            st[SEQ] += 1
        qs = offsets[st[SEQ]]
        cur = masks[i]
        any_end, any_start = False, False
        for w in range(W):
            if prev[w] & ~cur[w]:
                any_end = True
            if cur[w] & ~prev[w]:
                any_start = True
        if any_end:
            for w in range(W):
                ended[w] = prev[w] & ~cur[w]
            _end_event(t - 1, ended, cfg, st, active, start, lgood, pend_e, pend_flag, ring, hist, out)
            k = 0
            for r in range(st[NA]):
                j = active[r]
                if ended[j >> 6] >> np.uint64(j & 63) & np.uint64(1):
                    last_end[j] = t - 1
                else:
                    active[k] = j
                    k += 1
            st[NA] = k
        if any_start:
            for w in range(W):
                x = cur[w] & ~prev[w]
                while x:
                    j = w * 64 + np.int64(trailing_zeros(x))
                    x &= x - np.uint64(1)
                    start[j] = t
                    lgood[j] = 1 if t - last_end[j] - 1 >= zl else 0
                    pend_flag[j] = 0
                    active[st[NA]] = j
                    st[NA] += 1
        prev[:] = cur
        if cfg[0] <= 1 and t - L + 1 >= qs:
            _window(t, cfg, st, active, start, lgood, hist, out)
        elif cfg[0] >= 2 and t - zr >= qs:
            _confirm(t - zr, cfg, st, start, lgood, pend_e, pend_flag, ring, tmp, hist, out)
    return n


@nb.njit(**_JIT)
def _window(t, cfg, st, active, start, lgood, hist, out):
    """The window of length ``L`` ending at ``t`` (modes 0 and 1)."""
    aw = t - cfg[2] + 1
    k = 0
    for i in range(st[NA]):
        j = active[i]
        if start[j] > aw:
            break
        if cfg[0] == 0 or (start[j] == aw and lgood[j]):
            k += 1
    if k:
        _emit(aw, t, k, cfg, hist, out, st)


@nb.njit(**_JIT)
def finish(T, offsets, cfg, st, prev, active, start, lgood, last_end, pend_e, pend_flag, ring,
           tmp, hist, out):
    """Close the last sequence (call when all ``T`` steps were fed)."""
    _close_sequence(offsets[st[SEQ]], T - 1, cfg, st, prev, active, start, lgood, last_end,
                    pend_e, pend_flag, ring, tmp, hist, out)


@nb.njit(**_JIT)
def code_masks(codes, ks, ambiguous, masks, amb_steps, amb_cells):
    """Bit words of ``codes: uint16[m, n]`` (cell-major) against per-cell threshold codes.

    A cell is on where ``code > k``; where ``ambiguous[j]`` and ``code == k`` it is set on
    and the position recorded in ``amb_steps``/``amb_cells`` for the exact check. Returns
    the number of ambiguous entries (may exceed the buffers; then call again with larger).
    """
    m, n = codes.shape
    masks[:] = 0
    na = 0
    cap = amb_steps.size
    for j in range(m):
        w = j >> 6
        bit = np.uint64(1) << np.uint64(j & 63)
        k = ks[j]
        row = codes[j]
        if ambiguous[j]:
            for i in range(n):
                c = row[i]
                if c >= k:
                    masks[i, w] |= bit
                    if c == k:
                        if na < cap:
                            amb_steps[na] = i
                            amb_cells[na] = j
                        na += 1
        else:
            for i in range(n):
                if row[i] > k:
                    masks[i, w] |= bit
    return na


@nb.njit(**_JIT)
def clear_bits(masks, steps, cells):
    """Turn off cell ``cells[i]`` at block step ``steps[i]``."""
    for i in range(steps.size):
        j = cells[i]
        masks[steps[i], j >> 6] &= ~(np.uint64(1) << np.uint64(j & 63))
