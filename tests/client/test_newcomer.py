"""What a newcomer stumbled on (issue 10), each clicked in Chromium against the real server:
links with a brush but no cells, links copied at any moment, stale error banners, the
threshold handle, the match row opened, duplicate history entries, the landing page, the
window filling the plot, progress of a long match, and the exports."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from browser_harness import Server
from conftest import make_datasets, new_context
from hiddenscope.server.store.synthetic import write_dataset
from test_app import (
    SOURCE,
    TIMEOUT_MS,
    HeldAnswers,
    brush,
    cells_of,
    chips,
    open_view,
    run_match,
    server_select,
    url_state,
    wait_settled,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """parens and broken (conftest), plus `wide` (states not squashed: transform none) and
    `recipe` (a dataset.yml with only a build recipe: not built yet)."""
    root = make_datasets(tmp_path_factory.mktemp("datasets"))
    wide = write_dataset(root / "wide", T=2000, D=16, sequences=2)
    config = yaml.safe_load((wide / "dataset.yml").read_text())
    for t in config["states"]["types"]:
        t["transform"] = "none"
    (wide / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "recipe").mkdir()
    (root / "recipe" / "dataset.yml").write_text("name: recipe\nbuild: {corpus: parens}\n")
    srv = Server(root)
    srv.root = root
    yield srv
    srv.stop()


def settle_cells(page):
    wait_settled(page, after="a.state.cells !== null")


def test_a_link_with_a_brush_but_no_cells_selects_them(page, server):
    open_view(page, server, pos=40, start=42, end=44)
    settle_cells(page)
    want = server_select(
        server, {"start": 42, "end": 44, "threshold": 0.3, "pad_left": 0, "pad_right": 0}
    )
    assert want, "the test needs a brush that selects cells"
    assert chips(page) == want
    assert cells_of(url_state(page)["cells"]) == want
    assert not page.get_by_role("button", name="Match these cells").is_disabled()
    # Back to an entry without cells selects again too
    page.evaluate(
        "() => history.pushState(null, '', location.search.replace(/&cells=[^&]*/, '')"
        ".replace('start=42', 'start=50').replace('end=44', 'end=52'))"
    )
    page.get_by_role("button", name="next page").click()
    wait_settled(page)
    page.go_back()
    settle_cells(page)
    s = url_state(page)
    assert (s["start"], s["end"]) == ("50", "52")
    want = server_select(
        server, {"start": 50, "end": 52, "threshold": 0.3, "pad_left": 0, "pad_right": 0}
    )
    assert chips(page) == want == cells_of(s["cells"])
    assert page.errors == []


def test_a_link_copied_at_any_moment_after_a_brush_restores_the_same_cells(page, server, browser):
    open_view(page, server, pos=40)
    links = []
    page.expose_function("keepLink", lambda href: links.append(href))
    # every URL the page shows, from the brush on, the moment it shows it
    page.evaluate("""() => {
      for (const name of ["pushState", "replaceState"]) {
        const f = history[name].bind(history);
        history[name] = (...a) => { const r = f(...a); window.keepLink(location.href); return r; };
      }
    }""")
    brush(page, 12, 14)
    wait_settled(page, after="a.state.start !== null")
    page.locator("select[name=source]").select_option("layer1-cell")  # a source change too
    wait_settled(page, after="a.state.source === 'layer1-cell'")
    final = url_state(page)
    after_brush = [h for h in dict.fromkeys(links) if "start=42" in h]
    assert len(after_brush) >= 2, after_brush  # the URL right after the gesture and later ones
    context = new_context(browser)
    other = context.new_page()
    for href in after_brush:
        other.goto(href)
        settle_cells(other)
        s = url_state(other)
        want = (
            server_select(
                server, {**s, "threshold": float(s["threshold"]), "pad_left": 0, "pad_right": 0}
            )
            if s["source"] == SOURCE
            else None
        )
        if s["source"] == SOURCE:
            assert chips(other) == want, href
        else:
            assert chips(other) == cells_of(final["cells"]), href
    context.close()


def test_an_error_banner_goes_when_the_problem_is_fixed(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1,2,3", match="on")
    page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_label("min length").fill("5")
    page.get_by_label("max length").fill("3")
    page.get_by_role("button", name="Run match").click()
    alert = page.locator("[role=alert]")
    alert.first.wait_for(timeout=TIMEOUT_MS)
    assert "Match failed" in alert.first.inner_text()
    page.get_by_label("max length").fill("10")
    page.get_by_role("button", name="Run match").click()
    wait_settled(page, after="a.state.max_len === 10")
    assert page.locator("tr.match-row").count() > 0
    assert alert.count() == 0


def test_grabbing_the_threshold_beside_its_line_does_not_move_it(page, server):
    open_view(page, server, pos=40, threshold=0.6)
    handle = page.locator("g.threshold-handle line")
    box = handle.bounding_box()
    y_line = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 20, y_line - 5)  # 5 px above the line, still on the handle
    page.mouse.down()
    page.mouse.move(box["x"] + 22, y_line - 5)
    assert page.evaluate("window.hiddenscope.state.threshold") == 0.6
    # [-1, 1] over 192 px: 19.2 px down is 0.2 lower
    page.mouse.move(box["x"] + 22, y_line - 5 + 19.2, steps=5)
    page.mouse.up()
    wait_settled(page)
    assert float(url_state(page)["threshold"]) == pytest.approx(0.4, abs=0.011)


def test_opening_a_match_row_marks_its_range_in_view(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1,2,3", match="on")
    row = page.locator("tr.match-row").nth(2)
    row.wait_for(timeout=TIMEOUT_MS)
    start, end = row.get_attribute("data-start"), row.get_attribute("data-end")
    row.get_by_role("button", name="open").click()
    wait_settled(page)
    s = url_state(page)
    assert (s["pos"], s["mark"]) == (start, f"{start}-{end}")
    assert (s["start"], s["end"], s["cells"]) == ("42", "44", "0,1,2,3")  # the selection stays
    mark = page.locator("svg.word-row .mark rect")
    assert mark.count() == 1
    box = mark.bounding_box()
    word = page.locator("svg.word-row g.word rect").first.bounding_box()
    assert box["x"] == pytest.approx(
        word["x"] + 10 * 18 + 1, abs=1
    )  # pos is shown after left = 10 steps
    assert box["width"] == pytest.approx((int(end) - int(start) + 1) * 18 - 2, abs=2)
    assert 0 <= box["y"] <= page.viewport_size["height"]  # in view


def test_run_match_with_nothing_changed_adds_no_history_entry(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1,2,3", match="on")
    page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    wait_settled(page)
    before = page.evaluate("history.length")
    page.get_by_role("button", name="Run match").click()
    wait_settled(page)
    page.get_by_role("button", name="Run match").click()
    wait_settled(page)
    assert page.evaluate("history.length") == before


def test_the_match_view_comes_into_view_and_its_heatmaps_are_readable(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1,2,3", meta="next")
    run_match(page)
    top = page.locator(".match-view").bounding_box()["y"]
    assert 0 <= top < 100  # scrolled to the top of the viewport
    grid = page.locator("canvas.heatmap-grid").first.bounding_box()
    assert grid["width"] >= 24 * 6  # 24 steps, at least 6 px each
    label = page.locator("th.hm-head .hm-label", has_text="next")
    assert label.evaluate("(e) => e.scrollWidth <= e.clientWidth")  # "next (top-1 p)" not cut
    assert re.search(r"for 4 cells$", page.locator(".match-summary").inner_text())


def test_small_things(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="1", meta="depth")
    assert page.locator(".cell-list .count").inner_text() == "1 selected cell"
    page.get_by_role("button", name="details of cell 1").click()
    info = page.locator(".cell-info")
    info.locator("svg rect").first.wait_for(timeout=TIMEOUT_MS)
    assert "5th–95th percentile" in info.inner_text() and " to " in info.inner_text()
    page.get_by_role("button", name="remove cell 1").click()  # deselected: its details close
    wait_settled(page)
    assert info.is_hidden()
    # the threshold label sits on an opaque box above the histogram
    label, box = (
        page.locator("g.threshold-handle text"),
        page.locator("g.threshold-handle rect.label-box"),
    )
    lb, bb = label.bounding_box(), box.bounding_box()
    assert bb["x"] <= lb["x"] and lb["x"] + lb["width"] <= bb["x"] + bb["width"] + 1
    assert page.errors == []


def test_the_landing_page_lists_ready_data_sets_first_and_recipes_quietly(page, server):
    page.goto(f"{server.url}/")
    page.locator("article.card[data-dataset=parens]").wait_for(timeout=TIMEOUT_MS)
    order = page.locator("article.card").evaluate_all("(cs) => cs.map((c) => c.dataset.dataset)")
    assert order.index("parens") < order.index("recipe") < order.index("broken")
    assert order.index("wide") < order.index("recipe")
    recipe = page.locator("article.card[data-dataset=recipe]")
    assert "unbuilt" in recipe.get_attribute("class")
    assert recipe.locator("[role=alert]").count() == 0
    assert "hiddenscope build" in recipe.inner_text()
    # a data set written while the server runs appears after "Look for new data sets"
    write_dataset(server.root / "later", T=300, D=4, sequences=1)
    page.get_by_role("button", name="Look for new data sets").click()
    page.locator("article.card[data-dataset=later]").wait_for(timeout=TIMEOUT_MS)
    assert page.locator("[role=alert]", has_text="Could not").count() == 0


def test_the_window_fills_the_plot_and_has_step_numbers(page, server):
    open_view(page, server, pos=0)
    ctx = page.evaluate("() => window.hiddenscope.context")
    assert (ctx["start"], len(ctx["tokens"])) >= (0, 70)  # left's 10 steps added on the right
    ticks = page.locator("svg.step-axis g.tick text").evaluate_all(
        "(ts) => ts.map((t) => t.textContent)"
    )
    assert ticks[:3] == ["0", "5", "10"]  # 18 px a step: a number every 5 steps
    page.get_by_role("button", name="narrower tokens (zoom out)").click()
    page.get_by_role("button", name="narrower tokens (zoom out)").click()
    wait_settled(page, after="a.state.zoom < 18")
    zoom = page.evaluate("() => window.hiddenscope.state.zoom")
    plot = page.locator("canvas.line-plot").bounding_box()
    grid = page.locator(".select-grid").bounding_box()
    assert plot["x"] + plot["width"] >= grid["x"] + grid["width"] - 40 - zoom  # to the right edge


def test_a_long_match_says_what_it_does_and_for_how_long(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1,2,3")
    held = HeldAnswers(page, "**/api/v1/datasets/parens/match*")
    page.get_by_role("button", name="Match these cells").click()
    held.wait()
    progress = page.locator(".status-bar .progress.on")
    progress.wait_for(timeout=TIMEOUT_MS)
    text = progress.inner_text()
    index = server.api("/datasets/parens")["sources"][0].get("index", {}).get("state")
    # what the match does: scan the 3,000 steps, or use the index the server built meanwhile
    assert re.match(
        r"matching over the whole data set: (scanning 3,000 steps|using the match index)", text
    )
    assert index == "fresh" or "scanning 3,000 steps" in text
    page.wait_for_function(
        "() => / \\d+ s/.test(document.querySelector('.status-bar .progress').textContent)",
        timeout=TIMEOUT_MS,
    )
    held.release()
    wait_settled(page)
    assert page.locator(".status-bar .progress.on").count() == 0


def test_an_unbounded_source_gets_its_own_threshold_and_scales(page, server):
    page.goto(f"{server.url}/client/view.html?dataset=wide&source={SOURCE}&pos=100")
    wait_settled(page, after="a.state.threshold !== null")
    ctx = page.evaluate("() => window.hiddenscope.context")
    values = np.sort(
        np.array([v for row in ctx["states"] for v in row if v is not None], np.float32)
    )
    assert values.max() > 1 or values.min() < -1, "the test needs values beyond [-1, 1]"
    want = float(f"{values[int(0.95 * len(values))]:.2g}")  # the nearest-rank 95th percentile
    assert float(url_state(page)["threshold"]) == want
    # a link with its own threshold keeps it
    page.goto(f"{server.url}/client/view.html?dataset=wide&source={SOURCE}&pos=100&threshold=0.5")
    wait_settled(page)
    assert url_state(page)["threshold"] == "0.5"
    page.get_by_label("value axis").select_option("symlog")
    wait_settled(page)
    assert url_state(page)["scale"] == "symlog"
    page.get_by_label("value axis").select_option("tanh")
    wait_settled(page)
    assert url_state(page)["scale"] == "tanh"
    assert page.locator(".threshold-axis .tick").count() >= 3
    assert page.errors == []


def test_exports_of_the_select_view_and_the_match_rows(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1,2,3", match="on")
    page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    wait_settled(page)
    ctx = page.evaluate("() => window.hiddenscope.context")
    with page.expect_download() as d:
        page.get_by_role("button", name="export the select view as SVG").click()
    svg = Path(d.value.path()).read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    drawn = sorted(int(c) for c in re.findall(r'data-cell="(\d+)"', svg))
    assert drawn == sorted(ctx["cells"])  # one line per cell of the window
    assert svg.count('stroke="#0072B2"') == 4  # the selected ones in blue
    with page.expect_download() as d:
        page.get_by_role("button", name="export the select view as PNG").click()
    png = Path(d.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == 2 * (48 + len(ctx["tokens"]) * 18)
    want = server.api(
        "/datasets/parens/match",
        source=SOURCE,
        cells="0,1,2,3",
        threshold=0.3,
        limit=50,
        left=3,
        right=20,
    )["matches"]
    with page.expect_download() as d:
        page.get_by_role("button", name="export the match rows as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(d.value.path()).read_text(encoding="utf-8"))))
    assert [(int(r["start"]), int(r["end"]), int(r["overlap"])) for r in rows] == [
        (m["start"], m["end"], m["overlap"]) for m in want
    ]
    m = want[0]
    a = m["start"] - m["window_start"]
    assert rows[0]["matched_tokens"] == " ".join(m["tokens"][a : a + m["length"]])
    with page.expect_download() as d:
        page.get_by_role("button", name="export the match rows as JSON").click()
    doc = json.loads(Path(d.value.path()).read_text(encoding="utf-8"))
    assert doc["matches"] == want and doc["query"]["cells"] == [0, 1, 2, 3]
    assert doc["link"].endswith(page.evaluate("location.search"))


def test_an_unknown_panel_in_a_link_is_named_and_dropped(page, server):
    open_view(page, server, pos=40, panels="nope")
    wait_settled(page)
    alert = page.locator("[role=alert]", has_text="panel 'nope' is not available here")
    alert.wait_for(timeout=TIMEOUT_MS)
    assert url_state(page)["panels"] == ""
