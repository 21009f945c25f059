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
run starting at each start step, summed (at most the on-steps of ``S``).

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

# cfg (int64[6]); GOOD_L/GOOD_R: rises/falls hold G/H (padding > 1), else N/F are
# computed from the words as the walk goes (a padding of 1 is met by every rise/fall)
MODE, MIN_LEN, MIN_OVERLAP, KMIN, GOOD_L, GOOD_R = range(6)
# st (int64[4]): resume point
SEQ, A, B, POS = range(4)

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
def pair_sweep(words, rises, falls, offsets, cfg, st, pst, hist, out):
    """Walk the start steps from the resume point ``st``/``pst`` (see the module docstring;
    ``rises``/``falls`` from :func:`good_rises`/:func:`good_falls` where ``cfg`` says so,
    else unused). Writes candidates ``(a, b, |I|)`` with
    ``|I| >= cfg[KMIN]`` to ``out`` from ``st[POS]`` and counts the others in ``hist[0]``;
    returns True when all steps are done, False when ``out`` is full (drain it, call again).

    The four modes in one loop: with ``X`` the start set (``N_a`` or ``G_a``) and ``E`` the
    end set (``F_b`` or ``H_b``), ``I = P & (X if zl) & (E if zr)`` and ``[a, b]`` is a
    candidate iff ``I & X`` and ``I & E`` are non-empty, which is each mode's rule above.
    Branch-free but for the rare candidate of a kept tier (the walk is bound by mispredicted
    branches)."""
    mode, min_len, min_ov, kmin = cfg[MODE], cfg[MIN_LEN], cfg[MIN_OVERLAP], cfg[KMIN]
    good_l, good_r = cfg[GOOD_L] != 0, cfg[GOOD_R] != 0
    nzl = np.uint64(0) if mode & 1 else ~np.uint64(0)  # no left padding: X does not cut I
    nzr = np.uint64(0) if mode & 2 else ~np.uint64(0)
    seq, a, b, pos = st[SEQ], st[A], st[B], st[POS]
    P = pst[0]
    cap = out.shape[0]
    below = 0
    while seq < offsets.size - 1:
        qs, qe = offsets[seq], offsets[seq + 1] - 1
        while a <= qe:
            if good_l:
                X = rises[a]
            else:
                X = words[a] & ~words[a - 1] if a > qs else words[a]
            if b < a:  # a fresh start step
                if X == 0:
                    a += 1
                    continue
                b, P = a, words[a]
            mx = X | nzl
            while True:  # P = the cells on throughout a .. b
                if min_ov <= 1 and popcount(P & mx) < kmin:
                    # |I| <= |P & mx| < kmin from here to the walk's end: only count the
                    # candidates. With |I| >= 1 implied, each mode's rule is one test:
                    # I & X and I & E non-empty <=> P & E (& X unless mode 0) non-empty
                    if mode == 0 and min_len <= 1:  # the common case, as tight as it gets
                        while True:
                            F = words[b] & ~words[b + 1] if b < qe else words[b]
                            below += P & F != 0
                            P &= ~F
                            if X & P == 0:
                                break
                            b += 1
                    else:
                        xm = X if mode else ~np.uint64(0)
                        while True:
                            F = words[b] & ~words[b + 1] if b < qe else words[b]
                            E = falls[b] if good_r else F
                            below += (P & xm & E != 0) & (b - a + 1 >= min_len)
                            P &= ~F
                            if X & P == 0:
                                break
                            b += 1
                    break
                F = words[b] & ~words[b + 1] if b < qe else words[b]
                E = falls[b] if good_r else F
                ii = P & mx & (E | nzr)
                k = popcount(ii)
                ok = (ii & X != 0) & (ii & E != 0) & (b - a + 1 >= min_len) & (k >= min_ov)
                if ok & (k >= kmin):
                    if pos == cap:  # resume at this b with this P
                        st[SEQ], st[A], st[B], st[POS] = seq, a, b, pos
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
            a += 1
            b = a - 1
        seq += 1
    st[SEQ], st[A], st[B], st[POS] = seq, a, b, pos
    hist[0] += below
    return True
