"""One pass over time that finds every match candidate (numba kernels).

Input: for each step, the on-set of the cells of ``S`` as bit words (``uint64[W, n]``,
bit ``j`` = the ``j``-th cell of ``S``), fed in blocks of consecutive steps. The sweep
keeps the cells that are on grouped by the start of their current run (a linked list of
groups in start order) and acts where runs end. With ``L = max_len`` (no limit:
``T + 1``), ``[a, b]`` a range and ``I`` the cells of ``S`` in ``S2``, each case below is
checked against the brute-force oracle in tests/server/engine:

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
``kmin`` as the tiers needed for ``limit`` fill). Work is O(steps + runs + candidates).
"""
from __future__ import annotations

import numba as nb
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

NEG = -(1 << 62)  # "no previous run end" for the left-gap test
NIL = -1
# st (int64[8]) slots
SEQ, NA, POS, KMIN, HEAD, TAIL, NFREE = range(7)
# cs (int64[6, m]): per cell of S
START, LAST_END, PEND_E, CSLOT, LGOOD, PEND = range(6)
# gs (int64[7, m]): per group of cells that started at the same step; FREE is a slot stack
G_START, G_COUNT, G_GOOD, G_PREV, G_NEXT, G_MARK, FREE = range(7)
# cfg (int64[7])
MODE, ZR, LMAX, MIN_LEN, MIN_OVERLAP, ZL, M = range(7)

_JIT = {"cache": True, "nogil": True}
# Helpers are inlined into the kernel: a call with array arguments costs reference
# counting on every array, which dominated the sweep otherwise.
_INLINE = {"cache": True, "nogil": True, "inline": "always"}


def new_state(m: int, W: int, ring: int) -> dict[str, np.ndarray]:
    """Fresh sweep state for ``m`` cells in ``W`` words with a ``ring``-step confirmation buffer."""
    st = np.zeros(8, np.int64)
    st[HEAD] = st[TAIL] = NIL
    st[NFREE] = m
    cs = np.zeros((6, m), np.int64)
    cs[LAST_END] = NEG
    gs = np.zeros((7, m), np.int64)
    gs[FREE] = np.arange(m)
    return {"st": st, "prev": np.zeros(W, np.uint64), "ended": np.zeros(W, np.uint64), "cs": cs,
            "gs": gs, "ring": np.zeros((ring, W), np.uint64), "tmp": np.zeros(m, np.int64)}


@nb.njit(**_INLINE)
def _emit(a, b, k, cfg, hist, out, pos, kmin):
    """Count the candidate ``[a, b]`` with ``|I| = k``; write it if ``k >= kmin``. Returns pos."""
    length = b - a + 1
    if k < cfg[MIN_OVERLAP] or length < cfg[MIN_LEN] or length > cfg[LMAX]:
        return pos
    hist[k] += 1
    if k >= kmin:
        out[pos, 0] = a
        out[pos, 1] = b
        out[pos, 2] = k
        pos += 1
    return pos


@nb.njit(**_INLINE)
def _end_event(b, ended, cfg, na, tail, cv, gv, ring, hist, out, pos, kmin):
    """Runs of the cells in ``ended`` (bit words) end at step ``b`` (before they leave).

    Returns pos."""
    mode, L = cfg[MODE], cfg[LMAX]
    c_start, c_last, c_pende, c_slot, c_good, c_pend = cv
    g_start, g_count, g_good, g_prev, g_next, g_mark, free = gv
    if mode == 0:
        amin, gmin = 1 << 62, NIL
        for w in range(ended.size):
            x = ended[w]
            while x:
                j = w * 64 + np.int64(trailing_zeros(x))
                x &= x - np.uint64(1)
                if c_start[j] < amin:
                    amin, gmin = c_start[j], c_slot[j]
        after = 0
        g = tail
        while True:  # groups from the latest start back to the earliest ending one
            a = g_start[g]
            if b - a + 1 >= L:
                break
            pos = _emit(a, b, na - after, cfg, hist, out, pos, kmin)
            after += g_count[g]
            if g == gmin:
                break
            g = g_prev[g]
    elif mode == 1:
        for w in range(ended.size):
            x = ended[w]
            while x:
                j = w * 64 + np.int64(trailing_zeros(x))
                x &= x - np.uint64(1)
                g = c_slot[j]
                if c_good[j] and g_mark[g] != b:
                    g_mark[g] = b
                    if b - g_start[g] + 1 < L:
                        pos = _emit(g_start[g], b, g_good[g], cfg, hist, out, pos, kmin)
    else:
        slot = b % ring.shape[0]
        for w in range(ended.size):
            ring[slot, w] |= ended[w]
            x = ended[w]
            while x:
                j = w * 64 + np.int64(trailing_zeros(x))
                x &= x - np.uint64(1)
                c_pende[j] = b
                c_pend[j] = 1
    return pos


@nb.njit(**_INLINE)
def _confirm(e, cfg, cv, ring, tmp, hist, out, pos, kmin):
    """Runs ending at ``e`` whose cells stayed off ``pad_right`` steps: emit their candidates."""
    mode, L = cfg[MODE], cfg[LMAX]
    c_start, c_last, c_pende, c_slot, c_good, c_pend = cv
    slot = e % ring.shape[0]
    g = 0
    for w in range(ring.shape[1]):
        x = ring[slot, w]
        ring[slot, w] = 0
        while x:
            j = w * 64 + np.int64(trailing_zeros(x))
            x &= x - np.uint64(1)
            if c_pend[j] and c_pende[j] == e:
                c_pend[j] = 0
                if mode == 2 or c_good[j]:
                    tmp[g] = c_start[j]
                    g += 1
    for i in range(1, g):  # insertion sort: a group holds at most |S| runs
        v = tmp[i]
        p = i - 1
        while p >= 0 and tmp[p] > v:
            tmp[p + 1] = tmp[p]
            p -= 1
        tmp[p + 1] = v
    first = 0
    for i in range(g):
        if i == g - 1 or tmp[i + 1] != tmp[i]:
            if mode == 3:
                pos = _emit(tmp[i], e, i - first + 1, cfg, hist, out, pos, kmin)
            elif e - tmp[i] + 1 < L:
                pos = _emit(tmp[i], e, i + 1, cfg, hist, out, pos, kmin)
            first = i + 1
    if mode == 2 and g and L <= e + 1:
        pos = _window_right(e, g, tmp, cfg, hist, out, pos, kmin)
    return pos


@nb.njit(**_INLINE)
def _window_right(e, g, tmp, cfg, hist, out, pos, kmin):
    """Mode 2: the window of length ``L`` ending at ``e`` over the ``g`` confirmed starts."""
    aw = e - cfg[LMAX] + 1
    kw = 0
    while kw < g and tmp[kw] <= aw:
        kw += 1
    if kw:
        pos = _emit(aw, e, kw, cfg, hist, out, pos, kmin)
    return pos


@nb.njit(**_INLINE)
def _window(t, cfg, head, gv, hist, out, pos, kmin):
    """The window of length ``L`` ending at ``t`` (modes 0 and 1). Returns pos."""
    g_start, g_count, g_good, g_prev, g_next, g_mark, free = gv
    aw = t - cfg[LMAX] + 1
    g, k = head, 0
    while g != NIL and g_start[g] < aw:
        if cfg[MODE] == 0:
            k += g_count[g]
        g = g_next[g]
    if g != NIL and g_start[g] == aw:
        k += g_count[g] if cfg[MODE] == 0 else g_good[g]
    if k:
        pos = _emit(aw, t, k, cfg, hist, out, pos, kmin)
    return pos


@nb.njit(**_INLINE)
def _close_sequence(qs, qe, cfg, na, tail, prev, cv, gv, ring, tmp, hist, out, pos, kmin):
    """Everything on ends at the sequence's last step ``qe``; steps after it are off.

    Returns pos; the caller resets its group list (every group is empty now).
    """
    if na:
        pos = _end_event(qe, prev, cfg, na, tail, cv, gv, ring, hist, out, pos, kmin)
    if cfg[MODE] >= 2:
        for e in range(max(qs, qe - cfg[ZR] + 1), qe + 1):
            pos = _confirm(e, cfg, cv, ring, tmp, hist, out, pos, kmin)
    c_last, c_pend, free = cv[1], cv[5], gv[6]
    for j in range(cfg[M]):
        free[j] = j
        c_last[j] = NEG
        c_pend[j] = 0
    prev[:] = 0
    return pos


@nb.njit(**_JIT)
def sweep_block(masks, lo, offsets, cfg, st, prev, ended, cs, gs, ring, tmp, hist, out):
    """Feed steps ``lo ..`` (``masks: uint64[W, n]``); return how many were consumed.

    Stops early when ``out`` might not hold the next step's candidates (the caller
    drains it and calls again with the rest). The per-step work is written out here
    rather than in the helpers above: numba's inlining of helpers with array arguments
    made this loop 3-4x slower (measured), so the helpers only serve the rare sequence
    end. Hot state lives in locals and is written back to ``st`` at the end.
    """
    W, n = masks.shape
    mode, zl, zr, L, m = cfg[MODE], cfg[ZL], cfg[ZR], cfg[LMAX], cfg[M]
    min_len, min_ov = cfg[MIN_LEN], cfg[MIN_OVERLAP]
    room = 6 * m + 16  # the most one step (with a sequence end) can emit
    seq = st[SEQ]
    nxt, qs = offsets[seq + 1], offsets[seq]
    na, pos, kmin = st[NA], st[POS], st[KMIN]
    head, tail, nfree = st[HEAD], st[TAIL], st[NFREE]
    cap, R = out.shape[0], ring.shape[0]
    cv = (cs[START], cs[LAST_END], cs[PEND_E], cs[CSLOT], cs[LGOOD], cs[PEND])
    gv = (gs[G_START], gs[G_COUNT], gs[G_GOOD], gs[G_PREV], gs[G_NEXT], gs[G_MARK], gs[FREE])
    c_start, c_last, c_pende, c_slot, c_good, c_pend = cv
    g_start, g_count, g_good, g_prev, g_next, g_mark, free = gv
    consumed = n
    for i in range(n):
        if cap - pos < room:
            consumed = i
            break
        t = lo + i
        if t == nxt:
            pos = _close_sequence(qs, t - 1, cfg, na, tail, prev, cv, gv, ring, tmp, hist, out,
                                  pos, kmin)
            na, head, tail, nfree = 0, NIL, NIL, m
            seq += 1
            qs, nxt = t, offsets[seq + 1]
        any_end, any_start = False, False
        for w in range(W):
            c, p = masks[w, i], prev[w]
            any_end |= (p & ~c) != 0
            any_start |= (c & ~p) != 0
        if any_end:
            b = t - 1
            for w in range(W):
                ended[w] = prev[w] & ~masks[w, i]
            if mode == 0:  # see _end_event
                amin, gmin = 1 << 62, NIL
                for w in range(W):
                    x = ended[w]
                    while x:
                        j = w * 64 + np.int64(trailing_zeros(x))
                        x &= x - np.uint64(1)
                        if c_start[j] < amin:
                            amin, gmin = c_start[j], c_slot[j]
                after = 0
                g = tail
                while True:
                    a = g_start[g]
                    length = b - a + 1
                    if length >= L:
                        break
                    k = na - after
                    if k >= min_ov and length >= min_len:
                        hist[k] += 1
                        if k >= kmin:
                            out[pos, 0], out[pos, 1], out[pos, 2] = a, b, k
                            pos += 1
                    after += g_count[g]
                    if g == gmin:
                        break
                    g = g_prev[g]
            for w in range(W):
                x = ended[w]
                if mode >= 2:
                    ring[b % R, w] |= x
                while x:
                    j = w * 64 + np.int64(trailing_zeros(x))
                    x &= x - np.uint64(1)
                    c_last[j] = b
                    na -= 1
                    if mode >= 2:
                        c_pende[j] = b
                        c_pend[j] = 1
                        continue
                    g = c_slot[j]
                    if mode == 1 and c_good[j] and g_mark[g] != b:  # see _end_event
                        g_mark[g] = b
                        a = g_start[g]
                        if b - a + 1 < L and g_good[g] >= min_ov and b - a + 1 >= min_len:
                            hist[g_good[g]] += 1
                            if g_good[g] >= kmin:
                                out[pos, 0], out[pos, 1], out[pos, 2] = a, b, g_good[g]
                                pos += 1
                    left = g_count[g] - 1  # leave the group; unlink it when empty
                    g_count[g] = left
                    g_good[g] -= c_good[j]
                    if left == 0:
                        gp, gn = g_prev[g], g_next[g]
                        if gp != NIL:
                            g_next[gp] = gn
                        else:
                            head = gn
                        if gn != NIL:
                            g_prev[gn] = gp
                        else:
                            tail = gp
                        free[nfree] = g
                        nfree += 1
        if any_start:
            g = NIL
            if mode <= 1:  # a new group at the tail
                nfree -= 1
                g = free[nfree]
                g_start[g], g_count[g], g_good[g], g_mark[g] = t, 0, 0, NEG
                g_prev[g], g_next[g] = tail, NIL
                if tail != NIL:
                    g_next[tail] = g
                else:
                    head = g
                tail = g
            for w in range(W):
                x = masks[w, i] & ~prev[w]
                while x:
                    j = w * 64 + np.int64(trailing_zeros(x))
                    x &= x - np.uint64(1)
                    good = 1 if t - c_last[j] - 1 >= zl else 0
                    c_start[j], c_good[j], c_pend[j], c_slot[j] = t, good, 0, g
                    na += 1
                    if mode <= 1:
                        g_count[g] += 1
                        g_good[g] += good
        if any_end or any_start:
            for w in range(W):
                prev[w] = masks[w, i]
        if mode <= 1:
            if t - L + 1 >= qs:
                pos = _window(t, cfg, head, gv, hist, out, pos, kmin)
        elif t - zr >= qs:
            e = t - zr
            slot = e % R
            busy = False
            for w in range(W):
                busy |= ring[slot, w] != 0
            if busy:  # see _confirm
                cnt = 0
                for w in range(W):
                    x = ring[slot, w]
                    ring[slot, w] = 0
                    while x:
                        j = w * 64 + np.int64(trailing_zeros(x))
                        x &= x - np.uint64(1)
                        if c_pend[j] and c_pende[j] == e:
                            c_pend[j] = 0
                            if mode == 2 or c_good[j]:
                                v = c_start[j]
                                p = cnt - 1
                                while p >= 0 and tmp[p] > v:  # insertion sort by start
                                    tmp[p + 1] = tmp[p]
                                    p -= 1
                                tmp[p + 1] = v
                                cnt += 1
                first = 0
                for r in range(cnt):
                    if r == cnt - 1 or tmp[r + 1] != tmp[r]:
                        a = tmp[r]
                        k = r - first + 1 if mode == 3 else r + 1
                        length = e - a + 1
                        if (mode == 3 or length < L) and k >= min_ov and min_len <= length <= L:
                            hist[k] += 1
                            if k >= kmin:
                                out[pos, 0], out[pos, 1], out[pos, 2] = a, e, k
                                pos += 1
                        first = r + 1
                if mode == 2 and cnt and L <= e + 1:
                    pos = _window_right(e, cnt, tmp, cfg, hist, out, pos, kmin)
    st[SEQ], st[NA], st[POS] = seq, na, pos
    st[HEAD], st[TAIL], st[NFREE] = head, tail, nfree
    return consumed


@nb.njit(**_JIT)
def finish(T, offsets, cfg, st, prev, cs, gs, ring, tmp, hist, out):
    """Close the last sequence (call when all ``T`` steps were fed)."""
    cv = (cs[START], cs[LAST_END], cs[PEND_E], cs[CSLOT], cs[LGOOD], cs[PEND])
    gv = (gs[G_START], gs[G_COUNT], gs[G_GOOD], gs[G_PREV], gs[G_NEXT], gs[G_MARK], gs[FREE])
    st[POS] = _close_sequence(offsets[st[SEQ]], T - 1, cfg, st[NA], st[TAIL], prev, cv, gv, ring,
                              tmp, hist, out, st[POS], st[KMIN])
    st[NA], st[HEAD], st[TAIL], st[NFREE] = 0, NIL, NIL, cfg[M]


@nb.njit(**_JIT)
def clear_bits(masks, steps, cells):
    """Turn off cell ``cells[i]`` at block step ``steps[i]`` in ``masks: uint64[W, n]``."""
    for i in range(steps.size):
        j = cells[i]
        masks[j >> 6, steps[i]] &= ~(np.uint64(1) << np.uint64(j & 63))
