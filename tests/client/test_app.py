"""The client in Chromium against the real `hiddenscope serve`, clicked like a person."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from browser_harness import IDLE_JS
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SOURCE = "layer0-cell"
ZOOM = 18  # state.js default token width
TIMEOUT_MS = 60_000  # generous: the machine is shared, and a first match may build an index


def url_state(page) -> dict:
    """The page's URL query as {name: value} (single values), read from the page itself
    (page.url is Playwright's copy, updated by navigation events)."""
    href = page.evaluate("() => window.location.href")
    return {k: v[0] for k, v in parse_qs(urlparse(href).query, keep_blank_values=True).items()}


def cells_of(value: str) -> list[int]:
    return [int(c) for c in value.split(",") if c]


def open_view(page, server, **params):
    query = urlencode({"dataset": "parens", "source": SOURCE, **params})
    page.goto(f"{server.url}/client/view.html?{query}")
    page.locator("canvas.line-plot").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => window.hiddenscope && window.hiddenscope.context !== null", timeout=TIMEOUT_MS
    )


def brush(page, first: int, last: int):
    """Drag over the words from window index `first` to `last` (inclusive)."""
    box = page.locator("svg.word-row").bounding_box()
    y = box["y"] + 10
    page.mouse.move(box["x"] + first * ZOOM + 3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + (first + last + 1) * ZOOM / 2, y, steps=4)
    page.mouse.move(box["x"] + (last + 1) * ZOOM - 3, y, steps=4)
    page.mouse.up()


class HeldAnswers:
    """Hold back the server's answers to the requests matching `pattern` until `release()`."""

    def __init__(self, page, pattern: str):
        self.page, self.pattern, self.routes, self.holding = page, pattern, [], True
        page.route(pattern, self._hold)

    def _hold(self, route) -> None:
        if self.holding:
            self.routes.append(route)
        else:
            route.continue_()

    def wait(self, n: int = 1) -> None:
        """Wait until `n` requests are held (the page may have sent one before Playwright
        hands its route over, so a check right after the click can find none yet)."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while len(self.routes) < n:
            assert time.monotonic() < deadline, f"no request to {self.pattern} was held"
            self.page.wait_for_timeout(20)  # lets Playwright deliver the route events

    def release(self) -> None:
        """Let the held requests through (an aborted one is dropped) and stop holding."""
        self.holding = False
        for route in self.routes:
            route.continue_()
        self.page.unroute(self.pattern)


def wait_settled(page, after: str | None = None):
    """Wait until no request is in flight and no select / match is pending; with `after` (a
    JS expression over the app `a`), first until the gesture just made has reached the app,
    so that an idle app that has not seen it yet does not count."""
    if after is not None:
        page.wait_for_function(
            f"() => {{ const a = window.hiddenscope; return !!a && ({after}); }}",
            timeout=TIMEOUT_MS,
        )
    page.wait_for_function(IDLE_JS, timeout=TIMEOUT_MS)


def server_select(server, s: dict) -> list[int]:
    return server.api(
        "/datasets/parens/select",
        source=SOURCE,
        start=s["start"],
        end=s["end"],
        threshold=s["threshold"],
        pad_left=s["pad_left"],
        pad_right=s["pad_right"],
    )["cells"]


def chips(page) -> list[int]:
    return [int(t) for t in page.locator(".chips li .id").all_inner_texts()]


def test_landing_page_lists_data_sets_and_the_unavailable_one(page, server, artifacts):
    page.goto(f"{server.url}/")
    page.locator("article.card[data-dataset=parens]").wait_for(timeout=TIMEOUT_MS)
    card = page.locator("article.card[data-dataset=parens]")
    assert "3,000 steps in 4 sequences" in card.inner_text()
    assert card.locator("table.sources tbody tr").count() == 4
    assert "depth (categorical, 5 labels)" in card.inner_text()
    broken = page.locator("article.card[data-dataset=broken]")
    assert "states/layer9/cell" in broken.locator("[role=alert]").inner_text()
    page.screenshot(path=artifacts / "landing.png", full_page=True)
    card.get_by_role("link", name="open parens layer 1 hidden").click()
    page.locator("canvas.line-plot").wait_for(timeout=TIMEOUT_MS)
    assert url_state(page)["source"] == "layer1-hidden"
    assert page.errors == []


def test_brush_threshold_and_padding_select_the_servers_cells(page, server):
    open_view(page, server, pos=40)
    brush(page, 12, 14)  # window starts at pos - left = 30
    wait_settled(page, after="a.state.start !== null")
    s = url_state(page)
    assert (s["start"], s["end"]) == ("42", "44")
    first = cells_of(s["cells"])
    assert first == server_select(server, {**s, "threshold": 0.3, "pad_left": 0, "pad_right": 0})
    assert chips(page) == first

    page.get_by_role("spinbutton", name="threshold").fill("-0.2")
    page.get_by_role("spinbutton", name="threshold").press("Enter")
    wait_settled(page, after="a.state.threshold !== 0.3")
    s = url_state(page)
    assert s["threshold"] == "-0.2"
    assert cells_of(s["cells"]) == server_select(
        server, {**s, "threshold": -0.2, "pad_left": 0, "pad_right": 0}
    )

    handle = page.locator("g.pad.pad_left")
    handle.focus()
    handle.press("ArrowLeft")
    handle.press("ArrowLeft")
    page.locator("g.pad.pad_right").focus()
    page.keyboard.press("ArrowRight")
    wait_settled(page, after="a.state.pad_right !== 0")
    s = url_state(page)
    assert (s["pad_left"], s["pad_right"]) == ("2", "1")
    want = server_select(server, {**s, "threshold": -0.2, "pad_left": 2, "pad_right": 1})
    assert cells_of(s["cells"]) == want == chips(page)
    assert (
        page.locator(".cell-list .count").inner_text()
        == f"{len(want)} selected cell{'' if len(want) == 1 else 's'}"
    )
    assert page.errors == []


def test_dragging_the_threshold_line_replaces_history(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1")
    before = page.evaluate("history.length")
    # count the history calls (Safari throws after 100 in 30 s)
    page.evaluate("""() => {
      window.historyCalls = 0;
      const replace = history.replaceState.bind(history);
      history.replaceState = (...a) => { window.historyCalls += 1; return replace(...a); };
    }""")
    t0 = page.evaluate("performance.now()")
    handle = page.locator("g.threshold-handle")
    box = handle.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    # a long drag: hundreds of tweaks must not flood the history API (Chrome throttles it)
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2 + 60, steps=300)
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2 + 40, steps=100)
    page.mouse.up()
    wait_settled(page)
    s = url_state(page)
    assert float(s["threshold"]) < 0.3
    assert page.evaluate("history.length") == before  # a continuous tweak: replaced, not pushed
    seconds = (page.evaluate("performance.now()") - t0) / 1000
    assert page.evaluate("window.historyCalls") <= 5 + seconds / 0.15
    assert float(s["threshold"]) == page.evaluate("window.hiddenscope.state.threshold")
    assert cells_of(s["cells"]) == server_select(
        server, {**s, "threshold": float(s["threshold"]), "pad_left": 0, "pad_right": 0}
    )


def run_match(page):
    page.get_by_role("button", name="Match these cells").click()
    page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    wait_settled(page)


def test_match_rows_are_outlined_with_scores(page, server, artifacts):
    open_view(page, server, pos=40, meta="depth,next")
    brush(page, 12, 14)
    wait_settled(page)
    s = url_state(page)
    page.screenshot(path=artifacts / "select-view.png", full_page=True)
    run_match(page)
    assert url_state(page)["match"] == "on"
    want = server.api(
        "/datasets/parens/match",
        source=SOURCE,
        cells=s["cells"],
        threshold=0.3,
        limit=50,
        left=3,
        right=20,
    )
    rows = page.locator("tr.match-row")
    assert rows.count() == len(want["matches"]) > 0
    for i in (0, rows.count() - 1):
        m = want["matches"][i]
        row = rows.nth(i)
        assert (row.get_attribute("data-start"), row.get_attribute("data-end")) == (
            str(m["start"]),
            str(m["end"]),
        )
        scores = [int(t) for t in row.locator("td.score").all_inner_texts()]
        assert scores == [m["overlap"], m["union"], m["length"]]
        assert row.locator("td.word.matched").count() == min(
            m["length"], row.locator("td.word").count()
        )
        assert row.locator("td.match-first").count() == 1
    summary = page.locator(".match-summary").inner_text()
    assert f"of {want['candidates']:,} candidate range" in summary
    page.screenshot(path=artifacts / "match-view.png", full_page=True)
    assert page.errors == []


def test_map_a_heatmap_onto_the_words(page, server, artifacts):
    # the match view has a heatmap per meta track shown
    open_view(
        page, server, pos=40, start=42, end=44, cells="0,1,2,3", match="on", meta="depth,next"
    )
    page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("td.word[style*=background]").count() == 0
    page.locator(".hm", has_text="depth").get_by_role("button", name="map onto words").click()
    assert url_state(page)["map"] == "depth"
    assert (
        page.locator(".hm", has_text="depth").locator("button.map").get_attribute("aria-pressed")
        == "true"
    )
    assert page.locator("td.word[style*=background]").count() > 10
    assert page.locator(".hm", has_text="depth").locator(".legend .swatch").count() == 5
    page.screenshot(path=artifacts / "match-view-mapped.png", full_page=True)


def test_a_copied_link_reproduces_cells_and_matches(page, server, browser):
    open_view(page, server, pos=40, meta="depth")
    brush(page, 12, 14)
    wait_settled(page)
    page.get_by_label("cell number to add").fill("7")
    page.get_by_role("button", name="Add cell").click()
    page.get_by_role("button", name="Match these cells").click()
    page.get_by_label("min length").fill("2")
    page.get_by_role("button", name="Run match").click()
    page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    wait_settled(page)
    link = page.evaluate("() => window.location.href")
    rows = [
        (r.get_attribute("data-start"), r.get_attribute("data-end"))
        for r in page.locator("tr.match-row").all()
    ]
    cells = chips(page)
    assert 7 in cells and url_state(page)["added"] == "7" and url_state(page)["min_len"] == "2"

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    fresh.set_default_timeout(TIMEOUT_MS)
    other = fresh.new_page()
    other.goto(link)
    other.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    wait_settled(other)
    assert chips(other) == cells
    assert [
        (r.get_attribute("data-start"), r.get_attribute("data-end"))
        for r in other.locator("tr.match-row").all()
    ] == rows
    assert all(int(e) - int(s) + 1 >= 2 for s, e in rows)
    assert url_state(other) == url_state(page)
    fresh.close()


def test_back_walks_back_through_the_analysis(page, server):
    open_view(page, server, pos=40)
    brush(page, 12, 14)
    wait_settled(page)
    after_brush = url_state(page)
    run_match(page)
    page.locator("tr.match-row").first.get_by_role("button", name="open").click()
    wait_settled(page)
    opened = url_state(page)
    assert opened["pos"] != "40"

    page.go_back()
    wait_settled(page)
    assert url_state(page)["pos"] == "40" and url_state(page)["match"] == "on"
    page.go_back()
    wait_settled(page)
    assert url_state(page) == after_brush
    assert page.locator(".match-view").is_hidden()
    assert chips(page) == cells_of(after_brush["cells"])
    page.go_back()
    wait_settled(page)
    assert "start" not in url_state(page)
    assert page.errors == []


def test_manual_cell_edits_and_clear(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="1,2")
    page.locator(".chip", has_text="2").get_by_role("button", name="remove cell 2").click()
    page.get_by_label("cell number to add").fill("23")
    page.get_by_label("cell number to add").press("Enter")
    s = url_state(page)
    assert (s["cells"], s["added"], s["removed"]) == ("1,23", "23", "2")
    # a re-select keeps the manual edits
    page.get_by_role("spinbutton", name="threshold").fill("0.25")
    page.get_by_role("spinbutton", name="threshold").press("Enter")
    wait_settled(page)
    s = url_state(page)
    sel = server_select(server, {**s, "threshold": 0.25, "pad_left": 0, "pad_right": 0})
    assert cells_of(s["cells"]) == sorted((set(sel) | {23}) - {2})
    page.get_by_label("cell number to add").fill("99")
    page.get_by_role("button", name="Add cell").click()
    assert "99" not in url_state(page)["cells"].split(",")  # out of range: refused in the form
    page.get_by_role("button", name="Clear selection").click()
    s = url_state(page)
    assert (s["cells"], s["added"], s["removed"]) == ("", "", "")
    assert "start" not in s
    assert page.get_by_role("button", name="Match these cells").is_disabled()


def test_keyboard_navigation_and_search(page, server):
    open_view(page, server, pos=40)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_settled(page)
    assert url_state(page)["pos"] == "42"
    page.keyboard.press("Shift+ArrowLeft")
    wait_settled(page)
    assert url_state(page)["pos"] == "0"  # a page back (70 steps) stops at the start
    page.get_by_label("search text").fill("(22")
    page.get_by_label("search text").press("Enter")
    first = page.locator(".search-results button").first
    first.wait_for(timeout=TIMEOUT_MS)
    want = server.api("/datasets/parens/search", q="(22", limit=50)["results"][0]
    first.click()
    wait_settled(page)
    assert url_state(page)["pos"] == str(want["start"])
    assert (
        page.locator(".search-results button").count() == 50
    )  # the results stay for the next pick
    page.get_by_label("pos", exact=True).fill("2999")
    page.get_by_role("button", name="Go").click()
    wait_settled(page)
    assert url_state(page)["pos"] == "2999"
    assert page.locator("svg.word-row g.word").count() == 11  # the window is clipped at the end
    assert page.errors == []


@pytest.mark.parametrize(
    "query, message",
    [
        ("dataset=nope", "nope"),
        ("dataset=broken", "states/layer9/cell"),
        ("", "names no data set"),
    ],
)
def test_a_bad_link_shows_an_error_not_a_blank_page(page, server, query, message):
    page.goto(f"{server.url}/client/view.html?{query}")
    alert = page.locator("[role=alert]").first
    alert.wait_for(timeout=TIMEOUT_MS)
    assert message in alert.inner_text()
    assert page.get_by_role("link", name="Choose a data set").is_visible()


def test_bad_values_in_a_link_are_named_and_the_rest_still_opens(page, server):
    page.goto(
        f"{server.url}/client/view.html?dataset=parens&source=layer7-cell&threshold=abc&cells=1,50&meta=depth,nope"
    )
    page.locator("canvas.line-plot").wait_for(timeout=TIMEOUT_MS)
    text = " ".join(page.locator("[role=alert]").all_inner_texts())
    assert "threshold 'abc' is not a number" in text
    assert "source 'layer7-cell' is not in data set 'parens'" in text
    assert "cells 50 are out of range" in text
    assert "meta track 'nope'" in text
    s = url_state(page)
    assert (s["source"], s["threshold"], s["cells"], s["meta"]) == (SOURCE, "0.3", "1", "depth")
    page.keyboard.press("Escape")
    assert page.locator("[role=alert]").count() == 0


def test_an_api_error_is_shown_with_its_message(page, server):
    open_view(page, server, pos=40)
    page.get_by_label("search text").fill("(")
    page.get_by_label("regex").check()
    page.get_by_label("search text").press("Enter")
    alert = page.locator("[role=alert]").first
    alert.wait_for(timeout=TIMEOUT_MS)
    assert "Search failed" in alert.inner_text()
    assert len(alert.inner_text()) > len("Search failed: ") + 10


def test_a_slow_request_shows_progress(page, server):
    open_view(page, server, pos=40)
    held = HeldAnswers(page, "**/api/v1/datasets/parens/context*")
    page.get_by_role("button", name="next page").click()
    held.wait()
    progress = page.locator(".status-bar .progress.on")
    progress.wait_for(timeout=TIMEOUT_MS)  # shown while the answer is held back
    assert progress.inner_text() == "loading steps…"
    held.release()
    wait_settled(page)
    assert page.locator(".status-bar .progress.on").count() == 0
    assert url_state(page)["pos"] == "110"


def test_zoom_and_threshold_keys_replace_history(page, server):
    open_view(page, server, pos=40)
    before = page.evaluate("history.length")
    width = page.locator("canvas.line-plot").bounding_box()["width"]
    page.get_by_role("button", name="wider tokens (zoom in)").click()
    wait_settled(page)
    assert url_state(page)["zoom"] == "23"
    assert page.locator("canvas.line-plot").bounding_box()["width"] == pytest.approx(
        width * 23 / 18
    )
    slider = page.get_by_role("slider", name="threshold (arrow keys move it")
    slider.focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Shift+ArrowDown")
    wait_settled(page)
    assert url_state(page)["threshold"] == "0.21"
    assert page.evaluate("history.length") == before


def test_hover_links_chips_and_the_match_table(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1,2,3", match="on", meta="depth")
    page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
    page.locator(".chip", has_text="2").hover()
    assert page.locator(".chip.hovered").all_inner_texts() == ["2×"]
    row = page.locator("tr.match-row").nth(1)
    word = row.locator("td.match-first")
    word.hover()
    assert "hover" in word.get_attribute("class")
    info = page.locator(".match-view .hover-info").inner_text()
    assert f"step {row.get_attribute('data-start')}" in info
    assert "match count:" in info and "depth: depth" in info


def test_typed_range_and_cell_details(page, server):
    open_view(page, server, pos=40)
    page.get_by_label("range start step").fill("42")
    page.get_by_label("range end step").fill("44")
    page.get_by_label("range end step").press("Enter")
    wait_settled(page, after="a.state.start !== null")
    s = url_state(page)
    assert (s["start"], s["end"]) == ("42", "44")
    cells = cells_of(s["cells"])
    assert cells == server_select(server, {**s, "threshold": 0.3, "pad_left": 0, "pad_right": 0})
    page.get_by_role("button", name=f"details of cell {cells[0]}").click()
    info = page.locator(".cell-info")
    info.locator("svg rect").first.wait_for(timeout=TIMEOUT_MS)
    stats = server.api(f"/datasets/parens/cells/{cells[0]}", source=SOURCE)
    assert f"cell {cells[0]}" in info.inner_text()
    assert f"max {round(stats['max'], 3):g}" in info.inner_text().replace("−", "-")
    assert info.locator("svg rect").count() == len(stats["histogram"]["counts"])
    page.get_by_role("button", name="close the cell details").click()
    assert info.is_hidden()
    page.get_by_role("button", name=f"details of cell {cells[-1]}").click()
    info.get_by_text(f"cell {cells[-1]}").wait_for(timeout=TIMEOUT_MS)
    page.keyboard.press("Escape")  # often while its statistics are still loading
    assert info.is_hidden()
    wait_settled(page)  # and it stays closed when they arrive
    assert info.is_hidden()


def test_a_range_across_sequences_is_refused_with_the_servers_reason(page, server):
    starts = [
        t
        for pos in (500, 1500, 2500)
        for t in server.api(
            "/datasets/parens/context", source=SOURCE, pos=pos, left=500, right=499
        )["sequence_starts"]
    ]
    boundary = next(t for t in starts if t >= 10)
    open_view(page, server, pos=boundary)
    page.get_by_label("range start step").fill(str(boundary - 2))
    page.get_by_label("range end step").fill(str(boundary + 1))
    page.get_by_role("button", name="Select", exact=True).click()
    alert = page.locator("[role=alert]").first
    alert.wait_for(timeout=TIMEOUT_MS)
    assert "Select failed" in alert.inner_text() and "sequence" in alert.inner_text()


def test_hovering_the_plot_names_the_cell_and_its_value(page, server):
    open_view(page, server, pos=40, cells="0")
    ctx = page.evaluate("() => window.hiddenscope.context")
    rows = ctx["states"]
    # the step where cell 0's line is farthest from every other line
    step = max(range(len(rows[0])), key=lambda i: min(abs(rows[0][i] - r[i]) for r in rows[1:]))
    value = rows[0][step]
    box = page.locator("canvas.line-plot").bounding_box()
    y = 4 + (1 - value) / 2 * (200 - 8)  # PLOT_H 200: [-1, 1] drawn over [196, 4]
    page.mouse.move(box["x"] + (step + 0.5) * ZOOM, box["y"] + y)
    text = page.locator(".select-view .hover-info").inner_text().replace("\u2212", "-")  # d3 minus
    on = "on" if value >= 0.3 else "off"
    word = json.dumps(ctx["tokens"][step])
    assert text == f"step {ctx['start'] + step} {word} · cell 0, selected: {value:.3f} ({on})"
    # with the tracks shown, their values at the step too (top-K with probabilities)
    page.get_by_label("next (topk)").check()
    page.get_by_label("depth (categorical)").check()
    wait_settled(page)
    page.mouse.move(box["x"] + (step + 0.5) * ZOOM, box["y"] + y + 1)
    text = page.locator(".select-view .hover-info").inner_text()
    meta = page.evaluate("() => window.hiddenscope.context.meta")
    depth = meta["depth"]["labels"][meta["depth"]["values"][step]]
    top = meta["next"]
    guesses = ", ".join(
        f"{json.dumps(t)} {p:.2f}"
        for t, p in zip(top["tokens"][step], top["probs"][step], strict=True)
    )
    assert text.endswith(f" · depth: {depth} · next: {guesses}")  # in the order of the toolbar
    assert page.locator(".chip.hovered").all_inner_texts() == ["0×"]
    assert page.locator("svg.word-row g.word rect[stroke-width='2']").count() == 1  # its word too


def test_back_during_a_slow_select_keeps_the_restored_cells(page, server):
    open_view(page, server, pos=40, cells="5")
    held = HeldAnswers(page, "**/api/v1/datasets/parens/select*")
    page.get_by_label("range start step").fill("42")
    page.get_by_label("range end step").fill("44")
    page.get_by_role("button", name="Select", exact=True).click()
    page.wait_for_function(
        "() => window.hiddenscope.aborts.select !== undefined", timeout=TIMEOUT_MS
    )
    held.wait()  # the select is in flight, its answer held back
    page.go_back()
    held.release()
    # a request that Back did not abort stays in the app's in-flight list until its answer
    # has been applied (or dropped), so once settled a late answer has had its chance
    wait_settled(page)
    s = url_state(page)
    assert "start" not in s and s["cells"] == "5"
    assert chips(page) == [5]


def test_closing_the_cell_details_while_they_load_keeps_them_closed(page, server):
    open_view(page, server, pos=40, start=42, end=44, cells="0,1")
    held = HeldAnswers(page, "**/api/v1/datasets/parens/cells/*")
    page.get_by_role("button", name="details of cell 0").click()
    info = page.locator(".cell-info")
    expect(info.get_by_text("cell 0 (loading…)")).to_be_visible(timeout=TIMEOUT_MS)
    held.wait()
    page.keyboard.press("Escape")
    expect(info).to_be_hidden(timeout=TIMEOUT_MS)
    held.release()
    wait_settled(page)  # the late answer, had it not been dropped, has landed by now
    assert info.is_hidden()
    # a newer cell's details are not replaced by an older cell's late answer either
    held = HeldAnswers(page, "**/api/v1/datasets/parens/cells/0*")
    page.get_by_role("button", name="details of cell 0").click()
    held.wait()
    page.get_by_role("button", name="details of cell 1").click()
    info.locator("svg rect").first.wait_for(timeout=TIMEOUT_MS)
    held.release()
    wait_settled(page)
    assert info.locator("strong").inner_text() == "cell 1"
    assert "cell 1's values" in info.locator("svg").get_attribute("aria-label")
    assert page.errors == []


def test_stepping_back_during_a_slow_window_keeps_the_window_shown(page, server):
    open_view(page, server, pos=40)
    held = HeldAnswers(page, "**/api/v1/datasets/parens/context*")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")  # pos 41: its window is held back
    held.wait()
    page.keyboard.press("ArrowLeft")  # back to pos 40, whose window is shown
    held.release()
    wait_settled(page)  # the late window, had it not been dropped, has landed by now
    assert url_state(page)["pos"] == "40"
    assert page.evaluate("() => window.hiddenscope.context.start") == 30  # pos - left
    first = page.locator("svg.word-row g.word title").first.text_content()
    assert first.endswith("at step 30")
    assert page.errors == []
