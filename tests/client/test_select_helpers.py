"""client/select.js in Chromium: the local select preview and on-counts follow DESIGN.md's rule."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.browser

RUN = """async (cases) => {
  const m = await import('/select.js');
  return cases.map(([ctx, s]) => ({
    select: m.localSelect(ctx, s), count: m.onCountOf(ctx, s.cells, s.threshold)}));
}"""


def reference_select(
    states: np.ndarray, seq_of: np.ndarray, a: int, b: int, thr: float, zl: int, zr: int
):
    """DESIGN.md's select over a whole (small) corpus: states float[D, T], seq_of int[T]."""
    on = states >= thr
    T = states.shape[1]
    out = []
    for c in range(states.shape[0]):
        ok = on[c, a : b + 1].all()
        for t in [*range(a - zl, a), *range(b + 1, b + zr + 1)]:
            if 0 <= t < T and seq_of[t] == seq_of[a] and on[c, t]:
                ok = False
        if ok:
            out.append(c)
    return out


def make_case(rng: np.random.Generator):
    D, T = 12, 60
    states = np.round(rng.normal(0, 0.6, size=(D, T)), 3)
    boundaries = sorted(rng.choice(np.arange(5, T), size=2, replace=False).tolist())
    seq_of = np.searchsorted(boundaries, np.arange(T), side="right")
    w0, w1 = 10, 49  # the window the client holds
    a = int(rng.integers(w0, w1 + 1))
    b = min(w1, a + int(rng.integers(0, 4)))
    s = {
        "source": "s",
        "start": a,
        "end": b,
        "threshold": float(rng.choice([0.0, 0.2, -0.3])),
        "pad_left": int(rng.integers(0, 6)),
        "pad_right": int(rng.integers(0, 6)),
        "cells": sorted(rng.choice(D, size=4, replace=False).tolist()),
    }
    ctx = {
        "source": "s",
        "start": w0,
        "end": w1,
        "tokens": ["x"] * (w1 - w0 + 1),
        "sequence_starts": [t for t in boundaries if w0 <= t <= w1],
        "cells": list(range(D)),
        "states": states[:, w0 : w1 + 1].tolist(),
    }
    return ctx, s, states, seq_of


def test_preview_matches_the_rule_or_abstains(module_page):
    rng = np.random.default_rng(3)
    cases = [make_case(rng) for _ in range(300)]
    results = module_page.evaluate(RUN, [[ctx, s] for ctx, s, _, _ in cases])
    answered = 0
    for (ctx, s, states, seq_of), r in zip(cases, results, strict=False):
        a, b = s["start"], s["end"]
        crosses = seq_of[a] != seq_of[b]
        if r["select"] is None:
            lo, hi = a - s["pad_left"], b + s["pad_right"]
            # abstaining is right only when the answer needs steps outside the window
            assert crosses or lo < ctx["start"] or hi > ctx["end"], (s, ctx["sequence_starts"])
            continue
        assert not crosses
        answered += 1
        want = reference_select(states, seq_of, a, b, s["threshold"], s["pad_left"], s["pad_right"])
        assert r["select"] == want, s
    assert answered > 100


def test_on_count_counts_the_given_cells(module_page):
    rng = np.random.default_rng(4)
    cases = [make_case(rng) for _ in range(20)]
    results = module_page.evaluate(RUN, [[ctx, s] for ctx, s, _, _ in cases])
    for (ctx, s, _, _), r in zip(cases, results, strict=False):
        window = np.array(ctx["states"])
        want = (window[s["cells"]] >= s["threshold"]).sum(0).tolist()
        assert r["count"] == want
