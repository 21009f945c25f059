"""Sequence-level tracks and the model summary in Chromium against the real `hiddenscope
serve`: the projection offers each sequence-level track as a colour and paints every point by
its sequence's value (checked against the API's values, which the API tests check against
the HDF5 tables); a data set without a model says so in the "your text" panel and hides the
projection's text box, and one with a model fills the checkpoint menu before any run."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest
from test_app import TIMEOUT_MS, open_view
from test_your_text import SOURCE as TEXT_SOURCE
from test_your_text import sentiment_server  # noqa: F401  (the fixture: a quick sentiment build)

pytestmark = pytest.mark.browser


def api(server, path: str, **params):
    with urlopen(f"{server.url}/api/v1{path}?{urlencode(params)}", timeout=120) as r:
        return json.load(r)


@pytest.mark.parametrize("track", ["gold", "predicted"])
def test_projection_coloured_by_a_sequence_level_track(page, sentiment_server, track):  # noqa: F811
    srv = sentiment_server
    query = urlencode({"dataset": "sentiment", "source": TEXT_SOURCE, "panels": "projection",
                       "proj_n": 120, "proj_color": f"seq:{track}"})  # fmt: skip
    page.goto(f"{srv.url}/client/view.html?{query}")
    panel = page.locator("section.panel[data-panel=projection]")
    page.wait_for_function(
        "() => document.querySelectorAll('section.panel[data-panel=projection] circle.dot')"
        ".length === 120", timeout=TIMEOUT_MS)  # fmt: skip
    options = panel.locator("select[name=color] option")
    offered = dict(zip(options.evaluate_all("os => os.map(o => o.value)"),
                       options.all_inner_texts(), strict=True))  # fmt: skip
    summary = api(srv, "/datasets/sentiment")
    for t in summary["sequence_meta"]:
        assert offered[f"seq:{t['id']}"] == f"{t['id']} (per sequence)"
    assert panel.locator("select[name=color]").input_value() == f"seq:{track}"

    answer = api(srv, "/datasets/sentiment/projection", source=TEXT_SOURCE, n=120)
    values = answer["sequence_meta"][track]["values"]
    labels = answer["sequence_meta"][track]["labels"]
    legend = [t.strip() for t in panel.locator(".legend-item").all_inner_texts()]
    assert legend == [labels[v] for v in sorted(set(values))]
    fills = panel.locator("circle.dot").evaluate_all("ds => ds.map(d => d.getAttribute('fill'))")
    want = page.evaluate(
        "async (vs) => { const c = await import('/client/colors.js');"
        " return vs.map((v) => c.categoryColor(v)); }", values)  # fmt: skip
    assert fills == want and len(set(fills)) == len(set(values))
    assert page.errors == []


def test_confidence_colours_points_on_a_scale(page, sentiment_server):  # noqa: F811
    srv = sentiment_server
    params = {"proj_n": 60, "proj_points": "steps", "proj_color": "seq:confidence"}
    query = urlencode({"dataset": "sentiment", "source": TEXT_SOURCE, "panels": "projection",
                       **params})  # fmt: skip
    page.goto(f"{srv.url}/client/view.html?{query}")
    panel = page.locator("section.panel[data-panel=projection]")
    page.wait_for_function(
        "() => document.querySelectorAll('section.panel[data-panel=projection] circle.dot')"
        ".length === 60", timeout=TIMEOUT_MS)  # fmt: skip
    answer = api(srv, "/datasets/sentiment/projection", source=TEXT_SOURCE, n=60, points="steps")
    conf = answer["sequence_meta"]["confidence"]
    assert [t.strip() for t in panel.locator(".legend-item").all_inner_texts()] == [
        f"{conf['range'][0]}".removesuffix(".0"),
        f"{conf['range'][1]}".removesuffix(".0"),
    ]
    fills = panel.locator("circle.dot").evaluate_all("ds => ds.map(d => d.getAttribute('fill'))")
    # the same confidence gets the same colour, and points of unequal confidence differ
    by_value: dict[float, set] = {}
    for v, f in zip(conf["values"], fills, strict=True):
        by_value.setdefault(v, set()).add(f)
    assert all(len(fs) == 1 for fs in by_value.values()) and len(set(fills)) > 1
    assert page.errors == []


def test_a_data_set_without_a_model_offers_no_text_box(page, server):
    assert api(server, "/datasets/parens")["model"] is None
    open_view(page, server, panels="text,projection", proj_text="a sentence")
    text = page.locator("section.panel[data-panel=text]")
    note = text.locator(".yt-no-model")
    note.wait_for(timeout=TIMEOUT_MS)
    assert "carries no model" in note.inner_text()
    assert not text.locator("input[name=text]").is_visible()
    proj = page.locator("section.panel[data-panel=projection]")
    page.wait_for_function(
        "() => document.querySelectorAll('section.panel[data-panel=projection] circle.dot')"
        ".length > 0", timeout=TIMEOUT_MS)  # fmt: skip
    assert not proj.locator("input[name=text]").is_visible()
    assert "carries no model" in proj.locator(".projection-note").inner_text()
    assert page.errors == []


def test_a_data_set_with_a_model_fills_the_checkpoint_menu_before_a_run(page, sentiment_server):  # noqa: F811
    srv = sentiment_server
    query = urlencode({"dataset": "sentiment", "source": TEXT_SOURCE, "panels": "text,projection"})
    page.goto(f"{srv.url}/client/view.html?{query}")
    text = page.locator("section.panel[data-panel=text]")
    text.locator("input[name=text]").wait_for(timeout=TIMEOUT_MS)
    model = api(srv, "/datasets/sentiment")["model"]
    menu = text.locator("select[name=checkpoint]")
    page.wait_for_function(
        f"() => document.querySelectorAll('section.panel[data-panel=text] "
        f"select[name=checkpoint] option').length === {len(model['checkpoints'])}",
        timeout=TIMEOUT_MS)  # fmt: skip
    assert menu.evaluate("s => [...s.options].map(o => o.value)") == [
        c["id"] for c in model["checkpoints"]
    ]
    assert menu.input_value() == model["extracted"] and menu.is_enabled()
    assert page.locator("section.panel[data-panel=projection] input[name=text]").is_visible()
    assert page.errors == []


def test_hovering_a_word_names_its_sequences_labels(page, sentiment_server):  # noqa: F811
    srv = sentiment_server
    page.goto(f"{srv.url}/client/view.html?"
              + urlencode({"dataset": "sentiment", "source": TEXT_SOURCE, "pos": 30}))
    page.wait_for_function("() => !!(window.hiddenscope && window.hiddenscope.context)",
                           timeout=TIMEOUT_MS)  # fmt: skip
    ctx = page.evaluate("() => window.hiddenscope.context")
    assert len(ctx["sequence_starts"]) >= 2  # the window spans several sentences
    sm = ctx["sequence_meta"]
    boxes = page.locator("svg.word-row g.word").evaluate_all(
        "gs => gs.map(g => { const r = g.getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })")  # fmt: skip
    width = page.viewport_size["width"]
    seen = {}  # one visible word (clear of the sticky row labels) per sequence of the window
    for i, (x, y) in enumerate(boxes):
        # the sequence holding the step, counted directly from the offsets the API sent
        j = sum(1 for s in ctx["sequence_starts"] if ctx["start"] < s <= ctx["start"] + i)
        if 200 < x < width - 20:
            seen.setdefault(j, (x, y))
    assert len(seen) >= 2
    for j, (x, y) in seen.items():
        page.mouse.move(x, y)  # the brush lies over the words: a pointer move, not a hover
        text = page.locator(".select-view .hover-info").inner_text()
        gold = sm["values"]["gold"]
        assert f"sequence {sm['sequences'][j]}: " in text
        assert f"gold {gold['labels'][gold['values'][j]]}" in text
        conf = sm["values"]["confidence"]["values"][j]
        assert f"confidence {float(f'{conf:.3g}'):g}" in text
    assert page.errors == []
