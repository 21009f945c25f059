"""The cells-and-features panels in Chromium against the real `hiddenscope serve` on a
generated parens-like set: rank cells by depth 4, select the top cells, match, read the
summary; open a cell; the heatmap mode. Pure helpers of the views run as modules."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest
from test_app import SOURCE, TIMEOUT_MS, cells_of, open_view, url_state, wait_settled

pytestmark = pytest.mark.browser


def api(server, path: str, **params):
    """GET an API answer with the query properly encoded (labels hold spaces)."""
    with urlopen(f"{server.url}/api/v1{path}?{urlencode(params)}", timeout=120) as r:
        return json.load(r)


def test_rank_by_depth_4_select_top_cells_match_and_summary(page, server, artifacts):
    open_view(page, server, panels="correlation,summary")
    panel = page.locator("section.panel[data-panel=correlation]")
    panel.locator("select[name=feature]").select_option("meta:depth=depth 4")
    panel.locator("select[name=method]").select_option("spearman")
    panel.get_by_role("button", name="Rank cells").click()
    rows = panel.locator("tr.corr-row")
    rows.first.wait_for(timeout=TIMEOUT_MS)
    s = url_state(page)
    assert (s["corr_feature"], s["corr_method"]) == ("meta:depth=depth 4", "spearman")
    answer = api(server, "/datasets/parens/correlation", source=SOURCE,
                        feature="meta:depth=depth 4", method="spearman", limit=100)
    shown = [int(t) for t in rows.locator(".cell-id").all_inner_texts()]
    assert shown == [c["cell"] for c in answer["cells"]]
    assert set(shown[:4]) == {0, 1, 2, 3}  # the generated depth cells come first

    panel.locator("input[name=k]").fill("4")
    panel.get_by_role("button", name="Select these cells and match").click()
    wait_settled(page, after="a.state.match === true")
    s = url_state(page)
    assert cells_of(s["cells"]) == sorted(shown[:4]) and s["match"] == "on"
    summary = page.locator("section.panel[data-panel=summary]")
    summary.locator(".summary-phrases tr").first.wait_for(timeout=TIMEOUT_MS)
    want = api(server, "/datasets/parens/match", source=SOURCE, cells=s["cells"],
                      threshold=s["threshold"], limit=1, summary="true")
    assert summary.locator(".summary-note").inner_text() == f"{want['candidates']:,} candidates"
    texts = summary.locator(".summary-phrases .phrase").all_inner_texts()
    assert texts == [p["text"] for p in want["summary"]["phrases"]]
    assert summary.locator(".summary-lengths rect").count() == len(want["summary"]["lengths"])

    summary.get_by_label("group the rows shown by phrase").check()
    grouped = summary.locator(".summary-grouped li")
    grouped.first.wait_for(timeout=TIMEOUT_MS)
    counts = {p["text"]: p["count"] for p in want["summary"]["phrases"]}
    first = grouped.first.inner_text()
    assert "×" in first and url_state(page)["summary_group"] == "on"
    text = first.split(" ×")[0]
    if text in counts:
        assert f"×{counts[text]:,}" in first
    page.screenshot(path=artifacts / "features-summary.png", full_page=True)

    page.go_back()  # the group toggle was a history step
    wait_settled(page, after="a.state.summary_group === false")
    assert page.errors == []


def test_cell_view_from_the_ranking(page, server, artifacts):
    open_view(page, server, panels="correlation", corr_feature="meta:depth=depth 4")
    panel = page.locator("section.panel[data-panel=correlation]")
    panel.locator("tr.corr-row").first.wait_for(timeout=TIMEOUT_MS)
    best = int(panel.locator("tr.corr-row .cell-id").first.inner_text())
    panel.locator("tr.corr-row").first.click()
    view = page.locator("section.panel[data-panel=cell]")
    view.locator(".cell-top li").first.wait_for(timeout=TIMEOUT_MS)
    assert url_state(page)["cell_id"] == str(best)
    top = api(server, f"/datasets/parens/cells/{best}/top", source=SOURCE, limit=12, left=8,
              right=8)
    assert view.locator(".cell-top li").count() == len(top["windows"])
    words = api(server, f"/datasets/parens/cells/{best}/words", source=SOURCE, limit=12)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.words-positive tr').length === n",
        arg=len(words["positive"]), timeout=TIMEOUT_MS)
    assert view.locator(".words-positive .word").all_inner_texts() == [
        w["word"] for w in words["positive"]]
    labels = api(server, f"/datasets/parens/cells/{best}/labels", source=SOURCE, limit=6)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.cell-labels tr').length === n",
        arg=len(labels["labels"]), timeout=TIMEOUT_MS)
    assert view.locator(".cell-labels .label-name").all_inner_texts() == [
        f"{r['track']} = {r['label']}" for r in labels["labels"]]
    first = labels["labels"][0]  # the depth-4 ranking's best cell detects "depth 4" well
    assert first["label"] == "depth 4" and first["f1"] > 0.8
    assert view.locator(".cell-labels .label-f1").first.inner_text() == f"F1 {first['f1']:.2f}"
    assert "median" in view.locator(".cell-facts").inner_text()
    assert view.locator(".cell-text span.tok").count() > 10  # the window, coloured
    view.screenshot(path=artifacts / "features-cell.png")

    w = top["windows"][0]
    view.locator(".cell-top li").first.click()
    wait_settled(page, after=f"a.state.mark && a.state.mark[0] === {w['start']}")
    assert url_state(page)["mark"] == f"{w['start']}-{w['end']}"
    assert page.errors == []


def test_heatmap_by_selection_and_by_correlation(page, server):
    open_view(page, server, panels="heatmap", cells="5,2,9", added="2,5,9")
    hm = page.locator("section.panel[data-panel=heatmap]")
    rows = hm.locator("g.hm-row")
    page.wait_for_function("() => document.querySelectorAll('g.hm-row').length === 3",
                           timeout=TIMEOUT_MS)
    assert rows.count() == 3
    hm.locator("select[name=order]").select_option("correlation")
    assert url_state(page)["heatmap_order"] == "correlation"
    assert "no cells" in hm.locator(".heatmap-note").inner_text()  # nothing ranked yet
    page.goto(f"{server.url}/client/view.html?" + urlencode({
        "dataset": "parens", "source": SOURCE, "panels": "correlation,heatmap",
        "corr_feature": "meta:position", "heatmap_order": "correlation", "heatmap_rows": 7}))
    page.wait_for_function("() => document.querySelectorAll('g.hm-row').length === 7",
                           timeout=TIMEOUT_MS)
    assert page.errors == []


def test_group_rows_and_value_colours(module_page):
    out = module_page.evaluate("""async () => {
      const { groupRows } = await import('/views/matchSummary.js');
      const { valueColor } = await import('/views/cellView.js');
      const row = (start, tokens) => ({ start, window_start: start - 1, length: 2, tokens });
      const groups = groupRows([row(10, ['a', '(', '4']), row(3, ['b', '(', '4']),
                                row(7, ['x', '4', ')'])]);
      const c = valueColor(-1, 0.3, 1);
      return { groups, white: c(0.3), hi: c(1), lo: c(-1), nan: c(null) };
    }""")
    assert out["groups"] == [{"text": "( 4", "rows": 2, "starts": [10, 3]},
                             {"text": "4 )", "rows": 1, "starts": [7]}]
    assert out["nan"] == "#eeeeee" and out["hi"] != out["lo"]
