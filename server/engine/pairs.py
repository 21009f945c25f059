"""Candidates by their start step, for ``|S| <= 64`` cells and no binding ``max_len``.

Each step's on-set of ``S`` is one ``uint64`` word ``w[t]`` (bit ``j`` = the ``j``-th cell of
``S``). For a range ``[a, b]`` inside one sequence let ``P = w[a] & ... & w[b]`` (the cells
on throughout), ``N_a`` the cells that start a run at ``a``, ``F_b`` those that end one at
``b`` (steps outside the sequence are off), ``G_a`` the cells of ``N_a`` with ``>= zl``
off steps before ``a`` and ``H_b`` those of ``F_b`` with ``>= zr`` off steps after ``b``.
DESIGN.md's ``I`` and maximality (one-step extensions decide it, see sweep.py) become:

* mode 0 (no padding): ``I = P``; a candidate iff ``N_a & P`` and ``F_b & P`` are non-empty
  (a left or right extension would keep ``I`` otherwise);
* mode 1 (``zl > 0`` only): ``I = G_a & P``; a candidate iff ``I`` and ``F_b & I`` are
  non-empty (a left extension loses all of ``I``);
* mode 2 (``zr > 0`` only): ``I = H_b & P``; a candidate iff ``N_a & I`` is non-empty;
* mode 3 (both): ``I = G_a & H_b & P``; a candidate iff ``I`` is non-empty.

So for each start step ``a`` with a non-empty start set ``X`` (``N_a`` or ``G_a``) the kernel
walks ``b = a, a+1, ...`` while ``X & P`` is non-empty: word operations and a popcount per
step of a run, no per-cell state, and each ``(a, b)`` is visited once. Work: the longest
run starting at each start step, summed (at most the on-steps of ``S``). The end words
``F_t`` and the list of start steps come from one pass first (:func:`ends_and_starts`): the
walk then loads one word per step and never visits a step where nothing starts (at 1M x
650, ``|S|`` = 20: about 20% less time).

Only the tiers that can reach the answer are written out (``|I| >= kmin``, raised by the
caller as tiers fill); candidates below ``kmin`` are only counted, in ``hist[0]`` (``|I|``
is never 0), so the total stays exact without enumerating them. Checked against the
brute-force oracle in tests/server/engine like every other path.
"""
from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

# cfg (int64[7]); GOOD_L/GOOD_R: rises/falls hold G/H (padding > 1), else N/F are
# taken from the words and ends (a padding of 1 is met by every rise/fall); STARTS: how
# many start steps ends_and_starts listed
MODE, MIN_LEN, MIN_OVERLAP, KMIN, GOOD_L, GOOD_R, STARTS = range(7)
# st (int64[3]): resume point (index into the start steps, end step, rows written)
NEXT, B, POS = range(3)

_JIT = {"cache": True, "nogil": True}


@intrinsic
def popcount(typingctx, x):
    """Set bits of a ``uint64`` (LLVM's ctpop: one instruction where the CPU has it)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.zext(builder.ctpop(args[0]), context.get_value_type(types.int64))

    return sig, codegen


@nb.njit(**_JIT)
def good_rises(words, offsets, zl, out):
    """``out[t]``: the cells that start a run at ``t`` after ``>= zl`` off steps (steps
    before their sequence count as off). One forward pass keeping each cell's last on-step."""
    last = np.empty(64, np.int64)
    for s in range(offsets.size - 1):
        qs, qe = offsets[s], offsets[s + 1] - 1
        last[:] = qs - zl - 1  # "never on" in this sequence: any gap is long enough
        prev = np.uint64(0)
        for t in range(qs, qe + 1):
            w = words[t]
            x = prev & ~w  # ended at t - 1
            while x:
                last[trailing_zeros(x)] = t - 1
                x &= x - np.uint64(1)
            good = np.uint64(0)
            x = w & ~prev
            while x:
                j = trailing_zeros(x)
                if t - last[j] - 1 >= zl:
                    good |= np.uint64(1) << np.uint64(j)
                x &= x - np.uint64(1)
            out[t] = good
            prev = w


@nb.njit(**_JIT)
def good_falls(words, offsets, zr, out):
    """``out[t]``: the cells that end a run at ``t`` followed by ``>= zr`` off steps (steps
    after their sequence count as off). The mirror image of :func:`good_rises`."""
    nxt = np.empty(64, np.int64)
    for s in range(offsets.size - 1):
        qs, qe = offsets[s], offsets[s + 1] - 1
        nxt[:] = qe + zr + 1
        after = np.uint64(0)
        for t in range(qe, qs - 1, -1):
            w = words[t]
            x = after & ~w  # start at t + 1
            while x:
                nxt[trailing_zeros(x)] = t + 1
                x &= x - np.uint64(1)
            good = np.uint64(0)
            x = w & ~after
            while x:
                j = trailing_zeros(x)
                if nxt[j] - t - 1 >= zr:
                    good |= np.uint64(1) << np.uint64(j)
                x &= x - np.uint64(1)
            out[t] = good
            after = w


@nb.njit(**_JIT)
def ends_and_starts(words, offsets, rises, good_l, ends, starts):
    """``ends[t]``: the cells that end a run at ``t`` (``F_t``; at a sequence's last step every
    cell on); ``starts[:n]``: the steps whose start set (``G_t`` from ``rises`` where
    ``good_l``, else ``N_t``) is non-empty, in order; returns ``n``. One pass, so the walk
    reads one word per step and never tests a step where nothing starts."""
    n = 0
    for s in range(offsets.size - 1):
        qs, qe = offsets[s], offsets[s + 1] - 1
        prev = np.uint64(0)  # steps before the sequence are off
        for t in range(qs, qe + 1):
            w = words[t]
            ends[t] = w & ~words[t + 1] if t < qe else w
            X = rises[t] if good_l else w & ~prev
            starts[n] = t
            n += X != 0  # branch-free: the slot is overwritten unless kept
            prev = w
    return n


@nb.njit(**_JIT)
def pair_sweep(words, ends, starts, rises, falls, cfg, st, pst, hist, out):
    """Walk the start steps ``starts[st[NEXT]:]`` from the resume point ``st``/``pst`` (see the
    module docstring; ``ends``/``starts`` from :func:`ends_and_starts`, ``rises``/``falls``
    from :func:`good_rises`/:func:`good_falls` where ``cfg`` says so, else unused). Writes
    candidates ``(a, b, |I|)`` with ``|I| >= cfg[KMIN]`` to ``out`` from ``st[POS]`` and
    counts the others in ``hist[0]``; returns True when all steps are done, False when
    ``out`` is full (drain it, call again).

    The four modes in one loop: with ``X`` the start set (``N_a`` or ``G_a``) and ``E`` the
    end set (``F_b`` or ``H_b``), ``I = P & (X if zl) & (E if zr)`` and ``[a, b]`` is a
    candidate iff ``I & X`` and ``I & E`` are non-empty, which is each mode's rule above.
    ``F_b`` ends every run at its sequence's last step, so a walk never crosses into the
    next sequence. Branch-free but for the rare candidate of a kept tier (the walk is bound
    by mispredicted branches)."""
    mode, min_len, min_ov, kmin = cfg[MODE], cfg[MIN_LEN], cfg[MIN_OVERLAP], cfg[KMIN]
    good_l, good_r = cfg[GOOD_L] != 0, cfg[GOOD_R] != 0
    nzl = np.uint64(0) if mode & 1 else ~np.uint64(0)  # no left padding: X does not cut I
    nzr = np.uint64(0) if mode & 2 else ~np.uint64(0)
    n = cfg[STARTS]
    i, b, pos = st[NEXT], st[B], st[POS]
    P = pst[0]
    cap = out.shape[0]
    below = 0
    while i < n:
        a = starts[i]
        if good_l:
            X = rises[a]
        else:  # on at a and not on at a - 1 of the same sequence (ends[a - 1] ends them all)
            X = words[a] & ~(words[a - 1] & ~ends[a - 1]) if a > 0 else words[a]
        if b < a:  # a fresh start step
            b, P = a, words[a]
        mx = X | nzl
        while True:  # P = the cells on throughout a .. b
            if min_ov <= 1 and popcount(P & mx) < kmin:
                # |I| <= |P & mx| < kmin from here to the walk's end: only count the
                # candidates. With |I| >= 1 implied, each mode's rule is one test:
                # I & X and I & E non-empty <=> P & E (& X unless mode 0) non-empty
                if mode == 0 and min_len <= 1:  # the common case, as tight as it gets
                    while True:
                        F = ends[b]
                        below += P & F != 0
                        P &= ~F
                        if X & P == 0:
                            break
                        b += 1
                elif mode and not good_r and min_len <= 1:
                    # E = F: the candidates to come are the distinct run ends of the cells of
                    # X still on, and once one is left its end is the last; most start steps
                    # of a padded match have one cell in X and need no walk at all
                    while popcount(P & X) > 1:
                        F = ends[b]
                        below += P & X & F != 0
                        P &= ~F
                        b += 1
                    below += P & X != 0
                else:
                    xm = X if mode else ~np.uint64(0)
                    while True:
                        F = ends[b]
                        E = falls[b] if good_r else F
                        below += (P & xm & E != 0) & (b - a + 1 >= min_len)
                        P &= ~F
                        if X & P == 0:
                            break
                        b += 1
                break
            F = ends[b]
            E = falls[b] if good_r else F
            ii = P & mx & (E | nzr)
            k = popcount(ii)
            ok = (ii & X != 0) & (ii & E != 0) & (b - a + 1 >= min_len) & (k >= min_ov)
            if ok & (k >= kmin):
                if pos == cap:  # resume at this b with this P
                    st[NEXT], st[B], st[POS] = i, b, pos
                    pst[0] = P
                    hist[0] += below
                    return False
                hist[k] += 1
                out[pos, 0], out[pos, 1], out[pos, 2] = a, b, k
                pos += 1
            else:  # below the tiers the answer can reach: counted only
                below += ok
            P &= ~F  # the cells still on at b + 1 (at the sequence's end: none)
            if X & P == 0:  # every run that started at a has ended: no more candidates
                break
            b += 1
        i += 1
        b = -1
    st[NEXT], st[B], st[POS] = i, b, pos
    hist[0] += below
    return True


@nb.njit(**_JIT)
def keep_rows(rows, n, kmin, base, dst, pos):
    """Copy the rows ``rows[:n]`` (``int64[., 3]`` of ``(a, b, |I|)``) with ``|I| >= kmin``
    to ``dst`` from row ``pos``, ``base`` added to ``a`` and ``b``; returns the next free row.
    ``dst`` may be ``rows`` with ``pos = 0`` (compaction in place: a row never moves up).
    No temporary arrays: numpy's mask-and-copy of each drained buffer cost more than the
    walk on a large tie (fresh pages for every copy)."""
    for i in range(n):
        if rows[i, 2] >= kmin:
            dst[pos, 0], dst[pos, 1], dst[pos, 2] = rows[i, 0] + base, rows[i, 1] + base, rows[i, 2]
            pos += 1
    return pos
