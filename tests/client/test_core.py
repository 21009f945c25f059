"""The client's core modules in Chromium, each against a direct implementation: loaders.js
(keyed loads, abort, debounce, progress), session.js (the history rule), scales.js (default
threshold and value axes against numpy and math), analysis.js (the window filling the plot,
index progress) and exports.js (CSV)."""

from __future__ import annotations

import csv
import io
import math
import random

import numpy as np
import pytest

pytestmark = pytest.mark.browser

LOADERS = """async () => {
  const { createLoaders } = await import('/loaders.js');
  const seen = [];
  const onChange = (l) => seen.push(l.map((x) => `${x.name}:${x.detail ?? ''}`).join('|'));
  const loaders = createLoaders({ onChange });
  const calls = [];
  const later = (value, ms) => ({ signal, progress }) => new Promise((resolve, reject) => {
    calls.push(value);
    progress(`working on ${value}`);
    const t = setTimeout(() => resolve(value), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('x', 'AbortError'));
    });
  });
  const out = {};
  // the same key twice: one call, one promise
  const a1 = loaders.load('ctx', later('a', 30), { key: 'a' });
  const a2 = loaders.load('ctx', later('a', 30), { key: 'a' });
  out.samePromise = a1 === a2;
  // another key aborts the older load
  const b = loaders.load('ctx', later('b', 30), { key: 'b' });
  out.a = await a1.then((v) => v, (e) => e.name);
  out.b = await b;
  // debounced: only the last of a burst is called
  const burst = [1, 2, 3].map((i) =>
    loaders.load('sel', later(`s${i}`, 5), { key: `s${i}`, debounce: 40 }));
  out.pendingDuringDebounce = loaders.pending('sel');
  out.burst = await Promise.all(burst.map((p) => p.then((v) => v, (e) => e.name)));
  out.calls = calls;
  out.pendingAfter = loaders.pending('ctx') || loaders.pending('sel');
  out.seen = seen;
  // a failure is the caller's to see
  const boom = async () => { throw new Error('boom'); };
  out.failure = await loaders.load('x', boom).then(() => 'ok', (e) => e.message);
  return out;
}"""


def test_loaders_dedupe_abort_debounce_and_report(module_page):
    r = module_page.evaluate(LOADERS)
    assert r["samePromise"]
    assert (r["a"], r["b"]) == ("AbortError", "b")
    assert r["pendingDuringDebounce"]
    assert r["burst"] == ["AbortError", "AbortError", "s3"]
    assert r["calls"] == ["a", "b", "s3"]  # a debounced load that was replaced never ran
    assert not r["pendingAfter"]
    assert "ctx:working on a" in r["seen"] and "ctx:working on b" in r["seen"]
    assert r["seen"][-1] == ""  # nothing in flight at the end
    assert r["failure"] == "boom"


SESSION = """async () => {
  const { createSession } = await import('/session.js');
  const entries = ['?dataset=p'];
  const fake = {
    pushState: (s, t, url) => entries.push(url),
    replaceState: (s, t, url) => { entries[entries.length - 1] = url; },
  };
  const location = { get search() { return entries[entries.length - 1]; } };
  const session = createSession({ history: fake, location });
  const heard = [];
  session.subscribe((c) => heard.push([...c.state].sort().join(',')));
  session.restore();
  await Promise.resolve();
  session.setState({ pos: 5 }, 'push');
  session.setState({ pos: 5 }, 'push'); // the same URL: not an entry of its own
  session.setState({ threshold: 0.5 }, 'replace');
  session.setState({ threshold: 0.6 }, 'replace');
  const pendingBeforeTimer = session.urlPending;
  const urlBeforeTimer = location.search;
  session.setState({ pos: 9 }, 'push'); // the entry left keeps its last tweak
  await new Promise((r) => setTimeout(r, 200));
  return { entries, heard, pendingBeforeTimer, urlBeforeTimer };
}"""


def test_session_pushes_deliberate_steps_once_and_throttles_tweaks(module_page):
    r = module_page.evaluate(SESSION)
    e = r["entries"]
    assert len(e) == 3, e  # the page, pos=5 (once), pos=9
    assert (
        "pos=5" in e[1] and "threshold=0.6" in e[1]
    )  # the tweak landed in the entry it was made in
    assert "pos=9" in e[2] and "threshold=0.6" in e[2]
    assert r["pendingBeforeTimer"] and "threshold" not in r["urlBeforeTimer"]
    # one notice per task, naming what changed: the restore, then the five changes above
    assert r["heard"] == [r["heard"][0], "pos,threshold"]


SCALES = """async ([values, kind, threshold, probes]) => {
  const s = await import('/scales.js');
  const v = Float32Array.from(values);
  const src = { transform: 'none', unsigned: false };
  const y = s.valueScale(kind, src, v, threshold, [196, 4]);
  return { th: s.defaultThreshold(src, v), thTanh: s.defaultThreshold({ transform: 'tanh' }, v),
           domain: y.domain(), px: probes.map((p) => y(p)), back: probes.map((p) => y.invert(y(p))),
           ticks: y.ticks(5) };
}"""


def nearest_rank(sorted_values, q):
    return float(sorted_values[min(len(sorted_values) - 1, math.floor(q * len(sorted_values)))])


@pytest.mark.parametrize("kind", ["clip", "full", "symlog", "tanh"])
def test_value_scales_against_math(module_page, kind):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(0, 5, 3000), [400.0, -380.0]]).astype(np.float32)
    probes = [-300.0, -7.5, -0.2, 0.0, 0.3, 12.0, 350.0]
    r = module_page.evaluate(SCALES, [values.tolist(), kind, 2.0, probes])
    s = np.sort(values)
    assert r["th"] == float(f"{nearest_rank(s, 0.95):.2g}")
    assert r["thTanh"] == 0.3  # a squashed source keeps the API's default
    absv = np.sort(np.abs(values))
    if kind == "clip":
        m = max(1, 2.0, abs(nearest_rank(s, 0.01)), abs(nearest_rank(s, 0.99)))
        want = [min(196, max(4, 196 - (p + m) / (2 * m) * 192)) for p in probes]  # clamped
    elif kind == "full":
        assert r["domain"][0] <= -400 and r["domain"][1] >= 400
        m = r["domain"][1]
        want = [196 - (p + m) / (2 * m) * 192 for p in probes]
    elif kind == "symlog":
        c = min(1, max(1e-3, nearest_rank(absv, 0.5)))
        f = lambda x: math.copysign(math.log1p(abs(x) / c), x)  # noqa: E731 (d3's symlog)
        m = r["domain"][1]
        want = [196 - (f(p) + f(m)) / (2 * f(m)) * 192 for p in probes]
    else:
        c = nearest_rank(absv, 0.9)
        want = [196 - (math.tanh(p / c) + 1) / 2 * 192 for p in probes]
    assert r["px"] == pytest.approx(want, abs=1e-3)
    inside = [p for p, w in zip(probes, want, strict=True) if 4 < w < 196]
    back = [b for p, b, w in zip(probes, r["back"], want, strict=True) if 4 < w < 196]
    assert back == pytest.approx(inside, rel=1e-3, abs=1e-3)  # invert undoes the scale
    assert len(r["ticks"]) >= 3


def test_bounded_values_keep_the_steady_axis_and_default(module_page):
    values = np.linspace(-0.9, 0.95, 500).tolist()
    r = module_page.evaluate(SCALES, [values, "clip", 0.3, [-1, 1]])
    assert r["th"] == 0.3 and r["domain"] == [-1, 1]


WINDOW = """async (cases) => {
  const { windowOf } = await import('/analysis.js');
  return cases.map(([s, length, minSteps]) => windowOf(s, length, minSteps));
}"""


def test_the_window_fills_the_plot_against_a_direct_rule(module_page):
    rng = random.Random(1)
    cases = []
    for _ in range(300):
        length = rng.randrange(1, 5000)
        s = {
            "pos": rng.randrange(0, length),
            "left": rng.randrange(0, 30),
            "right": rng.randrange(0, 500),
        }
        cases.append([s, length, rng.randrange(1, 800)])
    got = module_page.evaluate(WINDOW, cases)
    for (s, length, min_steps), w in zip(cases, got, strict=True):
        left = min(s["left"], s["pos"])
        steps = max(s["left"] + s["right"] + 1, min_steps)  # what the plot should show
        right = min(steps - left - 1, 500, length - 1 - s["pos"])  # bounded by the API and the end
        assert w == {"pos": s["pos"], "left": left, "right": max(0, right)}


INDEX = """async (summaries) => {
  const { matchProgress } = await import('/analysis.js');
  return summaries.map((s) => matchProgress(s, 'a'));
}"""


def test_a_long_match_says_what_the_index_allows(module_page):
    def summary(index):
        return {
            "length": 5_000_000,
            "sources": [{"id": "a", **({"index": index} if index else {})}],
        }

    got = module_page.evaluate(
        INDEX,
        [
            summary({"state": "building", "percent": 41.6}),
            summary({"state": "missing", "percent": 0}),
            summary({"state": "stale", "percent": 0}),
            summary({"state": "fresh", "percent": 100}),
            summary(None),
        ],
    )
    assert got == [
        "scanning 5,000,000 steps (match index being built: 42%)",
        "scanning 5,000,000 steps (no match index yet)",
        "scanning 5,000,000 steps (no fresh match index yet)",
        "using the match index",
        "scanning 5,000,000 steps",
    ]


CSV = """async (result) => (await import('/exports.js')).matchCSV(result)"""


def test_match_csv_quotes_what_needs_quoting(module_page):
    match = {
        "start": 12,
        "end": 14,
        "window_start": 10,
        "length": 3,
        "overlap": 2,
        "union": 3,
        "extra": 1,
        "tokens": ["a", "b", "x,y", 'say "hi"', "\n", "c"],
    }
    text = module_page.evaluate(CSV, {"matches": [match]})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["start", "end", "length", "overlap", "union", "extra", "matched_tokens"]
    assert rows[1] == ["12", "14", "3", "2", "3", "1", 'x,y say "hi" \n']
