"""client/state.js in Chromium: parse(serialize(s)) == s for every field, and bad links say why."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROUND_TRIP = """async (states) => {
  const m = await import('/state.js');
  return states.map((patch) => {
    const s = m.makeState(patch);
    const q = m.serialize(s);
    const back = m.parse(q);
    return {ok: m.equal(back.state, s), errors: back.errors, query: q, back: back.state};
  });
}"""

PARSE = """async (query) => {
  const m = await import('/state.js');
  return m.parse(query);
}"""

NAMES = ["parens", "ptb word", "a&b=c", "üñí/çødé", "x+y", "50%", "#hash"]


def random_state(rng: random.Random) -> dict:
    """A valid state with every field drawn at random (None where a field may be unset)."""
    maybe = lambda v: v if rng.random() < 0.7 else None  # noqa: E731
    start = maybe(rng.randrange(0, 10**7))
    cells = sorted(rng.sample(range(5000), rng.randrange(0, 30)))
    threshold = rng.choice([0.3, 0, -0.5, -1e-7, 1e-7, 123.456, -2.0, rng.uniform(-5, 5)])
    return {
        "dataset": rng.choice(NAMES),
        "source": maybe(rng.choice(["layer0-cell", "layer1 hidden", "states::states2"])),
        "pos": rng.randrange(0, 10**8),
        "left": rng.randrange(0, 501),
        "right": rng.randrange(0, 501),
        "threshold": threshold,
        "start": start,
        "end": None if start is None else start + rng.randrange(0, 50),
        "pad_left": rng.randrange(0, 40),
        "pad_right": rng.randrange(0, 40),
        "cells": cells,
        "added": sorted(rng.sample(cells, min(len(cells), rng.randrange(0, 3)))),
        "removed": sorted(rng.sample(range(5000, 5100), rng.randrange(0, 3))),
        "meta": rng.sample(["depth", "position", "next", "pos tag", "ünï"], rng.randrange(0, 5)),
        "map": maybe(rng.choice(["count", "depth", "position"])),
        "match": rng.random() < 0.5,
        "min_overlap": rng.randrange(1, 20),
        "min_len": (mn := rng.randrange(1, 10)),
        "max_len": maybe(mn + rng.randrange(0, 100)),
        "limit": rng.randrange(1, 501),
        "zoom": rng.randrange(4, 81),
        "scale": rng.choice(["clip", "full", "symlog", "tanh"]),
        "mark": maybe([m := rng.randrange(0, 10**6), m + rng.randrange(0, 30)]),
        "panels": rng.sample(["a", "b-c", "d_e"], rng.randrange(0, 3)),
    }


def test_defaults_round_trip(module_page):
    [r] = module_page.evaluate(ROUND_TRIP, [{}])
    assert r["ok"] and r["errors"] == []
    assert (
        r["back"]["cells"] == [] and r["back"]["threshold"] is None and r["back"]["match"] is False
    )
    assert "threshold=" not in r["query"]  # derived from the data once the page sees it


@pytest.mark.parametrize(
    "patch",
    [
        {"dataset": "parens", "threshold": -0.25},
        {"dataset": "parens", "threshold": -3e-9, "cells": []},
        {"dataset": "parens", "cells": [], "added": [], "removed": [], "meta": []},
        {"dataset": "a&b=c", "source": "x y&z", "meta": ["m=1", "ü"], "map": "m=1"},
        {"dataset": "parens", "start": 0, "end": 0, "pad_left": 0, "pad_right": 7},
        {"dataset": "parens", "match": True, "max_len": 3, "min_len": 3, "limit": 500, "zoom": 4},
        # a brush whose select has not answered: no `cells=` in the URL, and back to null
        {"dataset": "parens", "start": 4, "end": 9, "cells": None, "added": [2]},
        {"dataset": "parens", "mark": [7, 7], "scale": "tanh", "panels": ["x", "y"]},
    ],
)
def test_edge_cases_round_trip(module_page, patch):
    [r] = module_page.evaluate(ROUND_TRIP, [patch])
    assert r["errors"] == [], r
    assert r["ok"], r
    for key, value in patch.items():
        assert r["back"][key] == value


def test_random_states_round_trip(module_page):
    rng = random.Random(5)
    states = [random_state(rng) for _ in range(400)]
    results = module_page.evaluate(ROUND_TRIP, states)
    failures = [(s, r) for s, r in zip(states, results, strict=False) if not r["ok"] or r["errors"]]
    assert not failures, failures[:3]
    # every field was written by at least one state with a non-default value
    assert all(f"{k}=" in " ".join(r["query"] for r in results) for k in states[0])


def test_every_field_is_in_the_url(module_page):
    names = module_page.evaluate("async () => (await import('/state.js')).FIELD_NAMES")
    assert set(names) == set(random_state(random.Random(0)))


@pytest.mark.parametrize(
    "query, message",
    [
        (
            "dataset=p&threshold=abc",
            "threshold 'abc' is not a number; using the default derived from the data",
        ),
        ("dataset=p&scale=log", "scale 'log' is not one of clip, full, symlog, tanh"),
        ("dataset=p&mark=9-4", "mark '9-4' is not a range of steps FIRST-LAST"),
        ("dataset=p&cells=3,x,5", "cells '3,x,5' has 'x', which is not a cell number"),
        ("dataset=p&pos=-4", "pos '-4' is below the minimum 0"),
        ("dataset=p&zoom=1000", "zoom '1000' is above the maximum 80"),
        ("dataset=p&match=maybe", "match 'maybe' is not on or off"),
        ("dataset=p&start=5", "brush start '5' / end 'null' is not a range"),
        ("dataset=p&start=9&end=4", "brush start '9' / end '4' is not a range"),
        ("dataset=p&min_len=5&max_len=2", "max_len 2 is below min_len 5"),
    ],
)
def test_bad_values_are_reported_and_replaced(module_page, query, message):
    r = module_page.evaluate(PARSE, query)
    assert any(message in e for e in r["errors"]), r["errors"]
    assert r["state"]["dataset"] == "p"  # the rest of the link still counts


def test_a_brush_without_cells_asks_for_the_select(module_page):
    r = module_page.evaluate(PARSE, "?dataset=p&start=139&end=143")
    assert r["errors"] == [] and r["state"]["cells"] is None
    r = module_page.evaluate(PARSE, "?dataset=p&start=139&end=143&cells=")
    assert r["state"]["cells"] == []  # an empty selection that the link states
    r = module_page.evaluate(PARSE, "?dataset=p&cells=")
    assert r["state"]["cells"] == []


def test_cells_are_normalised_and_unknown_keys_ignored(module_page):
    r = module_page.evaluate(PARSE, "?dataset=p&cells=5,3,5,1&utm_source=mail&threshold=-.5")
    assert r["errors"] == []
    assert r["state"]["cells"] == [1, 3, 5]
    assert r["state"]["threshold"] == -0.5


FIT = """async ([patch, dataset]) => {
  const m = await import('/state.js');
  const s = m.makeState(patch);
  const r = m.fitToDataset(s, dataset);
  return {state: r.state, errors: r.errors, same: r.state === s};
}"""

DATASET = {
    "id": "parens",
    "length": 3000,
    "sources": [
        {"id": "layer0-cell", "shape": [3000, 24]},
        {"id": "layer1-cell", "shape": [3000, 8]},
    ],
    "meta": [{"id": "depth"}, {"id": "next"}],
}


def test_a_state_that_fits_the_data_set_is_kept(module_page):
    patch = {
        "dataset": "parens",
        "source": "layer1-cell",
        "pos": 2999,
        "cells": [0, 7],
        "meta": ["next"],
        "map": "depth",
    }
    r = module_page.evaluate(FIT, [patch, DATASET])
    assert r["errors"] == [] and r["same"]


@pytest.mark.parametrize(
    "patch, field, value, message",
    [
        ({"source": None}, "source", "layer0-cell", None),
        (
            {"source": "layer9-cell"},
            "source",
            "layer0-cell",
            "source 'layer9-cell' is not in data set 'parens'",
        ),
        ({"pos": 3000}, "pos", 2999, "pos 3000 is past the end of 'parens' (0..2999)"),
        ({"start": 2990, "end": 3005}, "start", None, "brush 2990..3005 ends past the end"),
        ({"meta": ["depth", "pos"]}, "meta", ["depth"], "meta track 'pos' is not in 'parens'"),
        ({"map": "pos"}, "map", None, "map 'pos' is neither"),
        (
            {"source": "layer1-cell", "cells": [3, 8, 30]},
            "cells",
            [3],
            "cells 8, 30 are out of range; this source has 8",
        ),
    ],
)
def test_what_the_data_set_rules_out_is_replaced_and_named(
    module_page, patch, field, value, message
):
    r = module_page.evaluate(
        FIT, [{"dataset": "parens", "source": "layer0-cell", **patch}, DATASET]
    )
    assert r["state"][field] == value
    if message is None:
        assert r["errors"] == []
    else:
        assert any(message in e for e in r["errors"]), r["errors"]


def test_every_url_parameter_is_documented_in_the_readme(module_page):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Using the browser client") :]
    # the panels' own fields are registered when panels.js loads
    names = module_page.evaluate(
        "async () => { await import('/panels.js');"
        " return (await import('/state.js')).FIELD_NAMES; }"
    )
    missing = [n for n in names if f"`{n}`" not in section]
    assert not missing, f"README.md's client section does not document {missing}"
