"""The views one by one in Chromium: each is mounted with data and callbacks (no server, no
URL), then looked at and clicked. A view only reports intent through its callbacks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# Mount views/<file>.js's <factory>(callbacks) into the page and call update(data).
# Every callback records its arguments in window.calls[name].
MOUNT = """async ([file, factory, names, data, opts]) => {
  const m = await import(`/views/${file}.js`);
  window.calls = {};
  const cb = {};
  for (const n of names) cb[n] = (...args) => { (window.calls[n] ||= []).push(args); };
  const view = m[factory]({ ...cb, ...(opts || {}) });
  document.body.replaceChildren(view.node);
  if (data) view.update(data);
  window.view = view;
}"""


def mount(page, file, factory, names, data=None, opts=None):
    page.evaluate(MOUNT, [file, factory, names, data, opts])


def calls(page, name):
    return page.evaluate(f"() => window.calls[{name!r}] || []")


def test_word_row_snaps_the_brush_to_tokens_and_reports_absolute_steps(module_page):
    page = module_page
    data = {
        "tokens": list("abcdefghij"),
        "start": 100,
        "zoom": 20,
        "brush": None,
        "pad": [0, 0],
        "sequenceStarts": [105],
        "hovered": None,
    }
    mount(page, "wordRow", "wordRow", ["onBrush", "onPadding", "onHover"], data)
    assert page.locator("g.word").count() == 10
    assert page.locator("g.sequence-starts line").count() == 1
    box = page.locator("svg.word-row").bounding_box()
    page.mouse.move(box["x"] + 47, box["y"] + 10)  # inside token 2
    page.mouse.down()
    page.mouse.move(box["x"] + 75, box["y"] + 10, steps=3)
    page.mouse.move(box["x"] + 93, box["y"] + 10, steps=3)  # near the end of token 4
    page.mouse.up()
    assert calls(page, "onBrush") == [[102, 104]]
    page.mouse.move(box["x"] + 130, box["y"] + 10)  # hover token 6
    assert calls(page, "onHover")[-1] == [106]
    # restored state moves the brush without reporting it back
    page.evaluate("(d) => window.view.update(d)", {**data, "brush": [101, 101], "pad": [2, 1]})
    assert calls(page, "onBrush") == [[102, 104]]
    sel = page.locator(".brush .selection")
    assert (sel.get_attribute("x"), sel.get_attribute("width")) == ("20", "20")
    assert page.locator("g.pad_left text").text_content() == "2 off"
    page.locator("g.pad.pad_right").focus()
    page.keyboard.press("ArrowRight")
    assert calls(page, "onPadding") == [[2, 2, True]]


def test_meta_track_draws_top_k_rows_with_probabilities(module_page):
    page = module_page
    values = {
        "kind": "topk",
        "ids": [[0, 1, 2]] * 4,
        "tokens": [["(", ")", "0"]] * 4,
        "probs": [[0.52, 0.3, 0.18]] * 4,
    }
    track = {"id": "next", "kind": "topk", "labels": None, "range": None}
    mount(
        page,
        "metaTrack",
        "metaTrack",
        ["onHover"],
        {"track": track, "values": values, "start": 0, "zoom": 40, "hovered": None},
    )
    assert page.locator("g.cell").count() == 12
    assert page.locator("svg.meta-track").get_attribute("height") == "48"
    assert page.locator("g.cell text").first.text_content() == "( .52"


def test_categorical_track_uses_okabe_ito_and_short_labels(module_page):
    page = module_page
    values = {
        "kind": "categorical",
        "values": [0, 1, 2, None],
        "labels": ["depth 0", "depth 1", "depth 2"],
    }
    track = {"id": "depth", "kind": "categorical", "labels": values["labels"], "range": None}
    mount(
        page,
        "metaTrack",
        "metaTrack",
        ["onHover"],
        {"track": track, "values": values, "start": 0, "zoom": 20, "hovered": None},
    )
    fills = page.locator("g.cell rect").evaluate_all(
        "(rs) => rs.map((r) => r.getAttribute('fill'))"
    )
    assert fills == ["#E69F00", "#56B4E9", "#009E73", "#ffffff"]
    assert page.locator("g.cell text").all_text_contents() == ["0", "1", "2", "—"]


def test_legend_shows_every_category_and_a_ramp_for_quantities(module_page):
    page = module_page
    page.evaluate("""async () => {
      const {legend} = await import('/views/legend.js');
      const {categoryColor, sequential} = await import('/colors.js');
      const a = legend({kind: 'categorical', labels: ['x', 'y', 'z'], color: categoryColor});
      const b = legend({kind: 'sequential', domain: [0, 7], color: sequential(0, 7)});
      document.body.replaceChildren(a.node, b.node);
    }""")
    assert page.locator(".legend .swatch").count() == 3
    assert page.locator(".legend .item").all_inner_texts() == ["x", "y", "z"]
    assert (
        page.locator(".legend .lo").inner_text() == "0"
        and page.locator(".legend .hi").inner_text() == "7"
    )


def match(start, end, window_start, overlap=2):
    n = end + 5 - window_start + 1
    return {
        "start": start,
        "end": end,
        "length": end - start + 1,
        "overlap": overlap,
        "union": 3,
        "extra": 1,
        "window_start": window_start,
        "window_end": window_start + n - 1,
        "tokens": [f"t{i}" for i in range(n)],
        "on_count": [i % 3 for i in range(n)],
        "meta": {},
    }


MATRIX = """async ([matches, mapped]) => {
  const {matchMatrix} = await import('/views/matchMatrix.js');
  const {countScale} = await import('/colors.js');
  window.calls = {open: [], map: []};
  const v = matchMatrix({
    onOpen: (m) => window.calls.open.push(m.start), onMap: (id) => window.calls.map.push(id)});
  document.body.replaceChildren(v.node);
  const color = countScale(2);
  const legend = {kind: 'sequential', domain: [0, 2], color};
  v.update({matches, left: 3, zoom: 20, mapped, heatmaps: [{id: 'count', label: 'match count',
    color, values: (m) => m.on_count, legend, format: String}]});
}"""


def test_match_matrix_aligns_rows_at_the_start_and_outlines_the_match(module_page):
    page = module_page
    # the second match is at the start of its sequence: only 1 step of left context
    page.evaluate(MATRIX, [[match(50, 53, 47), match(10, 10, 9, overlap=1)], None])
    rows = page.locator("tr.match-row")
    assert rows.count() == 2
    for i, length in ((0, 4), (1, 1)):
        row = rows.nth(i)
        assert row.locator("td.match-first").get_attribute("data-col") == "3"
        assert row.locator("td.matched").count() == length
        assert row.locator("td.match-last").count() == 1
    assert rows.nth(1).locator("td.word.empty").first.get_attribute("data-col") == "0"
    assert rows.nth(0).locator("td.score").all_inner_texts() == ["2", "3", "4"]
    assert page.locator("td.word[style*=background]").count() == 0
    rows.nth(1).get_by_role("button", name="open step 10 in the select view").click()
    page.get_by_role("button", name="map onto words").click()
    assert page.evaluate("() => window.calls") == {"open": [10], "map": ["count"]}
    assert page.locator("canvas.heatmap-grid").count() == 1


def test_match_matrix_maps_a_heatmap_onto_the_words(module_page):
    page = module_page
    page.evaluate(MATRIX, [[match(50, 53, 47)], "count"])
    backgrounds = page.locator("tr.match-row td.word:not(.empty)").evaluate_all(
        "(tds) => tds.map((td) => td.style.background)"
    )
    assert all(backgrounds) and len(set(backgrounds)) == 3  # on_count takes 0, 1, 2
    assert (
        page.get_by_role("button", name="unmap from words").get_attribute("aria-pressed") == "true"
    )


def test_match_controls_keep_typed_values_when_an_answer_redraws_them(module_page):
    page = module_page
    state = {"min_overlap": 1, "min_len": 1, "max_len": None, "limit": 50}
    data = {"state": state, "cells": 3, "result": None, "busy": True}
    mount(page, "matchControls", "matchControls", ["onRun", "onClose"], data)
    page.get_by_label("min length").fill("2")
    # the running match answers while the user types: the view is drawn again, same state
    page.evaluate("(d) => window.view.update(d)", {**data, "busy": False})
    page.get_by_role("button", name="Run match").click()
    assert calls(page, "onRun") == [[{**state, "min_len": 2}]]
    # a changed state (Back, a copied link) is written into the fields
    page.evaluate("(d) => window.view.update(d)", {**data, "state": {**state, "min_len": 4}})
    assert page.get_by_label("min length").input_value() == "4"


def test_toolbar_fields_keep_typed_values_when_an_answer_redraws_them(module_page):
    page = module_page
    dataset = {"sources": [{"id": "s", "label": "S", "shape": [100, 4]}], "meta": [], "length": 100}
    state = {
        "source": "s",
        "pos": 5,
        "left": 10,
        "right": 59,
        "threshold": 0.3,
        "start": None,
        "end": None,
        "pad_left": 0,
        "pad_right": 0,
        "meta": [],
    }
    names = [
        "onSource",
        "onStep",
        "onJump",
        "onRange",
        "onThreshold",
        "onPadding",
        "onMeta",
        "onZoom",
        "onWindow",
    ]
    mount(page, "toolbar", "toolbar", names, {"dataset": dataset, "state": state})
    for label, typed in (("steps", "30"), ("pad left", "2")):
        page.get_by_label(label, exact=True).fill(typed)
        page.evaluate("(d) => window.view.update(d)", {"dataset": dataset, "state": state})
        page.get_by_label(label, exact=True).press("Enter")
    assert calls(page, "onWindow") == [[30]]
    assert calls(page, "onPadding") == [[2, 0]]


def test_cell_list_adds_only_cells_of_the_source(module_page):
    page = module_page
    mount(
        page,
        "cellList",
        "cellList",
        ["onHover", "onAdd", "onRemove", "onClear", "onPick"],
        {"cells": [3, 7], "added": [7], "hovered": None, "D": 24},
    )
    assert page.locator(".chip").count() == 2
    assert "manual" in page.locator(".chip").nth(1).get_attribute("class")
    page.get_by_label("cell number to add").fill("24")
    page.get_by_role("button", name="Add cell").click()
    assert calls(page, "onAdd") == []
    page.get_by_label("cell number to add").fill("5")
    page.get_by_role("button", name="Add cell").click()
    page.get_by_role("button", name="remove cell 3").click()
    page.get_by_role("button", name="Clear selection").click()
    assert (calls(page, "onAdd"), calls(page, "onRemove"), calls(page, "onClear")) == (
        [[5]],
        [[3]],
        [[]],
    )


def test_line_plot_draws_a_thousand_cells_and_toggles_a_clicked_line(module_page):
    page = module_page
    page.evaluate("""async () => {
      const {linePlot} = await import('/views/linePlot.js');
      window.calls = {toggle: []};
      const v = linePlot({height: 200, onToggle: (c) => window.calls.toggle.push(c)});
      document.body.replaceChildren(v.node);
      const states = Array.from({length: 1000},
        (_, r) => Array.from({length: 50}, () => (r === 7 ? 0.9 : -0.5)));
      const y = d3.scaleLinear().domain([-1, 1]).range([196, 4]);
      v.update({states, cells: states.map((_, i) => i), selected: new Set([7]), hovered: null,
                threshold: 0.3, y, zoom: 10});
    }""")
    canvas = page.locator("canvas.line-plot")
    assert canvas.get_attribute("aria-label") == "1000 cells over 50 steps; 1 selected"
    box = canvas.bounding_box()
    assert (box["width"], box["height"]) == (500, 200)
    y = 4 + (1 - 0.9) / 2 * 192
    page.mouse.click(box["x"] + 105, box["y"] + y)
    assert page.evaluate("() => window.calls.toggle") == [7]


def test_threshold_handle_moves_with_the_keyboard(module_page):
    page = module_page
    page.evaluate("""async () => {
      const {thresholdAxis} = await import('/views/thresholdAxis.js');
      window.calls = [];
      const v = thresholdAxis({onThreshold: (value, final) => window.calls.push([value, final])});
      document.body.replaceChildren(v.node);
      v.update({y: d3.scaleLinear().domain([-1, 1]).range([196, 4]), threshold: 0.3,
                values: Float32Array.from([-0.5, 0.1, 0.4, 0.9])});
    }""")
    assert page.locator(".histogram rect").count() == 40
    page.get_by_role("slider").focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Shift+ArrowDown")
    assert page.evaluate("() => window.calls") == [[0.31, True], [0.21, True]]


def test_status_bar_shows_each_error_once_and_escape_dismisses(module_page):
    page = module_page
    page.evaluate("""async () => {
      const {statusBar} = await import('/views/statusBar.js');
      const s = statusBar();
      document.body.replaceChildren(s.node);
      s.error('Match failed:', "threshold 'abc' is not a number");
      s.error('Match failed:', "threshold 'abc' is not a number");
      s.error('Select failed:', 'range crosses a sequence boundary');
    }""")
    assert page.locator("[role=alert]").count() == 2
    assert "threshold 'abc' is not a number" in page.locator("[role=alert]").first.inner_text()
    page.keyboard.press("Escape")
    assert page.locator("[role=alert]").count() == 0


def test_search_results_are_plain_text(module_page):
    page = module_page
    mount(
        page,
        "searchBox",
        "searchBox",
        ["onSearch", "onPick"],
        {
            "results": [
                {"start": 5, "end": 7, "snippet": "<b>x</b> & <img src=y>", "snippet_start": 0}
            ]
        },
    )
    item = page.locator(".search-results button")
    assert item.locator(".snippet").inner_text() == "<b>x</b> & <img src=y>"
    assert page.locator(".search-results b, .search-results img").count() == 0
    item.click()
    assert calls(page, "onPick")[0][0]["start"] == 5
    page.get_by_label("search text").fill("(2")
    page.get_by_label("regex").check()
    page.get_by_role("button", name="Search").click()
    assert calls(page, "onSearch") == [["(2", True]]


def test_search_snippets_show_line_breaks_on_one_line(module_page):
    page = module_page
    mount(
        page,
        "searchBox",
        "searchBox",
        ["onSearch", "onPick"],
        {"results": [{"start": 9, "end": 12, "snippet": "x):\n    def f", "snippet_start": 5}]},
    )
    assert page.locator(".search-results .snippet").text_content() == "x):↵    def f"


def test_line_plot_lifts_the_pen_over_missing_values(module_page):
    page = module_page
    gaps = page.evaluate("""async () => {
      const {linePlot} = await import('/views/linePlot.js');
      const v = linePlot({height: 100});
      document.body.replaceChildren(v.node);
      const ctx = v.node.getContext('2d');
      const calls = {moveTo: 0, lineTo: 0};
      for (const k of Object.keys(calls)) {
        const f = ctx[k].bind(ctx);
        ctx[k] = (...a) => { calls[k] += 1; return f(...a); };
      }
      v.update({states: [[0.1, null, 0.3, 0.4]], cells: [0], selected: new Set(), hovered: null,
                threshold: 0.3, y: d3.scaleLinear().domain([-1, 1]).range([96, 4]), zoom: 10});
      return calls;
    }""")
    # zero line and threshold line: one moveTo + lineTo each; the cell: 0.1 | 0.3 - 0.4
    assert gaps == {"moveTo": 2 + 2, "lineTo": 2 + 1}


def test_word_row_starts_a_new_brush_on_top_of_the_old_and_keeps_every_token_touched(module_page):
    page = module_page
    data = {
        "tokens": list("abcdefghij"),
        "start": 100,
        "zoom": 20,
        "brush": [101, 104],
        "pad": [0, 0],
        "sequenceStarts": [],
        "hovered": None,
        "marked": [106, 107],
    }
    mount(page, "wordRow", "wordRow", ["onBrush", "onPadding", "onHover"], data)
    box = page.locator("svg.word-row").bounding_box()
    y = box["y"] + 10
    # from the middle of token 3 (inside the old brush) to the middle of token 7
    page.mouse.move(box["x"] + 70, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 110, y, steps=3)
    page.mouse.move(box["x"] + 150, y, steps=3)
    page.mouse.up()
    assert calls(page, "onBrush") == [[103, 107]]  # a new range, the last token included
    mark = page.locator("g.mark rect")
    assert (mark.get_attribute("x"), mark.get_attribute("width")) == ("121", "38")


def test_meta_track_labels_a_run_of_one_category_once_and_whole(module_page):
    page = module_page
    values = {
        "kind": "categorical",
        "values": [0, 0, 0, 1, 1, 1, 1, 0],
        "labels": ["Comment", "Code"],
    }
    track = {"id": "kind", "kind": "categorical", "labels": ["Comment", "Code"], "range": None}
    mount(
        page,
        "metaTrack",
        "metaTrack",
        ["onHover"],
        {"track": track, "values": values, "start": 0, "zoom": 18, "hovered": None},
    )
    texts = page.locator("g.cell text").evaluate_all("(ts) => ts.map((t) => t.textContent)")
    assert sorted(t for t in texts if t) == sorted(
        ["C…", "Code", "Comment"]
    )  # the lone last step is cut
    assert page.locator("g.cell title").count() == 8  # every step keeps its own tooltip


def test_step_axis_numbers_steps_at_round_intervals(module_page):
    page = module_page
    mount(page, "stepAxis", "stepAxis", [], {"start": 37, "steps": 70, "zoom": 18})
    texts = page.locator("g.tick text").evaluate_all("(ts) => ts.map((t) => t.textContent)")
    assert texts == [str(t) for t in range(40, 107, 5)]  # 5 steps = 90 px apart at 18 px a step
    every = page.evaluate(
        "async () => { const m = await import('/views/stepAxis.js');"
        " return [4, 10, 18, 48, 80].map(m.tickEvery); }"
    )
    assert every == [20, 5, 5, 1, 1]
