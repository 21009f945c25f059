"""The structure panels in Chromium against the real `hiddenscope serve`: a projection (hover
shows the point's text, a lasso lists points, one opens in the select view), co-clusters
(a word colours the chips, a chip selects its cells and runs the match, glyphs per step) and
compare (carry the selection to another source by correlation, match it there, one brush).
The views' pure helpers run as modules against direct computations."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from urllib.request import urlopen

import numpy as np
import pytest
from test_app import SOURCE, TIMEOUT_MS, cells_of, open_view, url_state, wait_settled
from test_your_text import sentiment_server  # noqa: F401  (the fixture: a quick sentiment build)

pytestmark = pytest.mark.browser


def api(server, path: str, **params):
    with urlopen(f"{server.url}/api/v1{path}?{urlencode(params)}", timeout=120) as r:
        return json.load(r)


def test_projection_hover_lasso_and_open_a_point(page, server, artifacts):
    open_view(page, server, panels="projection", proj_points="steps", proj_n="150",
              proj_color="depth")
    panel = page.locator("section.panel[data-panel=projection]")
    dots = panel.locator("circle.dot")
    page.wait_for_function(
        "() => document.querySelectorAll('section.panel[data-panel=projection] circle.dot')"
        ".length === 150", timeout=TIMEOUT_MS)
    answer = api(server, "/datasets/parens/projection", source=SOURCE, points="steps", n=150,
                 meta="depth")
    depth_labels = answer["meta"]["depth"]["labels"]
    used = sorted(set(answer["meta"]["depth"]["values"]))
    legend = panel.locator(".legend-item").all_inner_texts()
    assert [t.strip() for t in legend] == [depth_labels[v] for v in used]
    assert "explain" in panel.locator(".projection-note").inner_text()

    # hover: the point's own text and its neighbours
    dots.nth(7).hover()
    tip = panel.locator(".projection-tip")
    tip.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert tip.locator(".tip-text").inner_text() == answer["points"][7]["text"]
    assert f"step {answer['points'][7]['pos']}" in tip.inner_text()
    assert tip.locator(".tip-neighbours li").count() == 3

    # lasso around the left half of the plot: exactly the dots drawn there are listed
    box = panel.locator("svg.projection").bounding_box()
    page.mouse.move(box["x"] + 3, box["y"] + 3)
    page.mouse.down()
    for x, y in [(box["width"] / 2, 3), (box["width"] / 2, box["height"] - 3),
                 (3, box["height"] - 3), (3, 5)]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
    page.mouse.up()
    xs = [float(v) for v in dots.evaluate_all("ds => ds.map(d => d.getAttribute('cx'))")]
    inside = sum(1 for x in xs if 3 < x < box["width"] / 2)
    assert inside > 0
    assert panel.locator(".lasso-head").inner_text().startswith(f"{inside} point")
    items = panel.locator("li.lasso-item")
    assert items.count() == inside
    page.screenshot(path=artifacts / "structure-projection.png", full_page=True)

    # a listed point opens in the select view
    text = items.first.inner_text()
    pos = int(text.rsplit("(step ", 1)[1].rstrip(")"))
    items.first.click()
    wait_settled(page, after=f"a.state.pos === {pos}")
    s = url_state(page)
    assert s["pos"] == str(pos) and s["mark"] == f"{pos}-{pos}"
    assert page.errors == []


def test_projection_seed_is_in_the_url_and_draws_that_sample(page, server):
    open_view(page, server, panels="projection", proj_points="steps", proj_n="40",
              proj_seed="7")
    panel = page.locator("section.panel[data-panel=projection]")
    seeded = api(server, "/datasets/parens/projection", source=SOURCE, points="steps", n=40,
                 seed=7)
    default = api(server, "/datasets/parens/projection", source=SOURCE, points="steps", n=40)
    assert [p["pos"] for p in seeded["points"]] != [p["pos"] for p in default["points"]]

    def first_point_step() -> int:
        panel.locator("circle.dot").first.hover()
        tip = panel.locator(".projection-tip")
        tip.wait_for(state="visible", timeout=TIMEOUT_MS)
        return int(tip.inner_text().split("step ", 1)[1].split()[0].rstrip(")"))

    page.wait_for_function(
        "() => document.querySelectorAll('section.panel[data-panel=projection] circle.dot')"
        ".length === 40", timeout=TIMEOUT_MS)
    assert panel.locator("input[name=seed]").input_value() == "7"
    assert first_point_step() == seeded["points"][0]["pos"]
    # another seed typed into the form: into the URL, and that sample drawn
    panel.locator("input[name=seed]").fill("0")
    panel.get_by_role("button", name="Project", exact=True).click()
    wait_settled(page, after="a.state.proj_seed === 0")
    assert url_state(page).get("proj_seed") in (None, "0")
    page.mouse.move(0, 0)  # away from the dot, so the next hover shows the new point
    assert first_point_step() == default["points"][0]["pos"]
    assert page.errors == []


def test_coclusters_word_colours_chips_and_a_chip_selects_and_matches(page, server, artifacts):
    open_view(page, server, panels="coclusters", cc_k="3", cc_min_count="2")
    panel = page.locator("section.panel[data-panel=coclusters]")
    chips = panel.locator("g.chip")
    chips.first.wait_for(timeout=TIMEOUT_MS)
    answer = api(server, "/datasets/parens/coclusters", source=SOURCE, k=3, min_count=2)
    assert chips.count() == len(answer["cell_clusters"])
    squares = panel.locator("rect.cell-square")
    assert squares.count() == 24  # every cell once
    words = sorted(panel.locator("text.word").all_text_contents())
    assert words == sorted(w for cluster in answer["word_clusters"] for w in cluster)
    assert panel.locator("path.link").count() > 0

    # glyphs: one per step of the window shown
    ctx_tokens = page.evaluate("() => window.hiddenscope.context.tokens.length")
    assert panel.locator("g.glyph").count() == ctx_tokens

    # a word colours the chips by each cell's response to it
    word = answer["response"]["words"][0]
    panel.locator("text.word", has_text=word).first.click()
    wait_settled(page, after=f"a.state.cc_word === {json.dumps(word)}")
    fills = squares.evaluate_all("rs => rs.map(r => r.getAttribute('fill'))")
    assert any(f != "#d9d9d9" for f in fills)
    page.screenshot(path=artifacts / "structure-coclusters.png", full_page=True)

    # a chip selects its cells and runs the match
    chips.nth(1).click()
    wait_settled(page, after="a.state.match === true")
    s = url_state(page)
    assert cells_of(s["cells"]) == sorted(answer["cell_clusters"][1]) and s["match"] == "on"
    assert page.errors == []


def test_compare_carries_the_selection_and_matches_it_there(page, server, artifacts):
    open_view(page, server, panels="compare", cells="0,1,2,3", added="0,1,2,3",
              cmp_source="layer1-cell")
    panel = page.locator("section.panel[data-panel=compare]")
    panel.locator(".compare-left g.row").first.wait_for(timeout=TIMEOUT_MS)
    assert panel.locator(".compare-left g.row").count() == 4
    panel.get_by_role("button", name="Carry the selection there").click()
    wait_settled(page, after="a.state.cmp_cells.length > 0")
    answer = api(server, "/datasets/parens/align", source=SOURCE, cells="0,1,2,3",
                 to_source="layer1-cell", limit=3)
    want = []
    for pair in answer["pairs"]:
        if pair["matches"] and pair["matches"][0]["cell"] not in want:
            want.append(pair["matches"][0]["cell"])
    assert cells_of(url_state(page)["cmp_cells"]) == want
    panel.locator(".compare-right g.row").first.wait_for(timeout=TIMEOUT_MS)
    assert panel.locator(".compare-right g.row").count() == len(want)
    assert panel.locator("tr.pair").count() == 4
    page.screenshot(path=artifacts / "structure-compare.png", full_page=True)

    # one brush: a range brushed on the other side is the scenario's range
    box = panel.locator(".compare-right svg.compare-heatmap").bounding_box()
    y = box["y"] + box["height"] - 8
    page.mouse.move(box["x"] + 34 + 14 * 2 + 3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 34 + 14 * 4 + 10, y, steps=5)
    page.mouse.up()
    wait_settled(page, after="a.state.start !== null")
    ctx_start = page.evaluate("() => window.hiddenscope.context.start")
    s = url_state(page)
    assert (int(s["start"]), int(s["end"])) == (ctx_start + 2, ctx_start + 4)

    # match the carried cells in the other source; the sides swap
    page.goto(page.url)  # a fresh page on the same link keeps the carried cells
    panel.get_by_role("button", name="Match there").click()
    wait_settled(page, after="a.state.source === 'layer1-cell' && a.state.match === true")
    s = url_state(page)
    assert cells_of(s["cells"]) == sorted(want) and s["cmp_source"] == SOURCE
    assert page.errors == []


@pytest.fixture(scope="module")
def twin_server(tmp_path_factory):
    """`parens` and `twin`: the same tokens, other states (another model of the same corpus)."""
    from browser_harness import Server
    from hiddenscope.server.store.synthetic import write_dataset

    root = tmp_path_factory.mktemp("twins")
    write_dataset(root / "parens", T=3000, D=24, sequences=4, seed=0)
    write_dataset(root / "twin", T=3000, D=12, sequences=4, seed=0, depth_cells=2)
    srv = Server(root)
    yield srv
    srv.stop()


def test_compare_carries_cells_to_another_model_and_matches_there(page, twin_server):
    open_view(page, twin_server, panels="compare", cells="0,1,2,3", added="0,1,2,3",
              cmp_dataset="twin", cmp_source="layer0-cell")
    panel = page.locator("section.panel[data-panel=compare]")
    panel.locator(".compare-left g.row").first.wait_for(timeout=TIMEOUT_MS)
    panel.get_by_role("button", name="Carry the selection there").click()
    wait_settled(page, after="a.state.cmp_cells.length > 0")
    answer = api(twin_server, "/datasets/parens/align", source=SOURCE, cells="0,1,2,3",
                 to_dataset="twin", to_source="layer0-cell", limit=3)
    want = []
    for pair in answer["pairs"]:
        if pair["matches"] and pair["matches"][0]["cell"] not in want:
            want.append(pair["matches"][0]["cell"])
    assert set(want) <= {0, 1}  # the twin's depth cells answer the depth cells
    s = url_state(page)
    assert cells_of(s["cmp_cells"]) == want and s["cmp_dataset"] == "twin"
    panel.locator(".compare-right g.row").first.wait_for(timeout=TIMEOUT_MS)
    panel.get_by_role("button", name="Match there").click()
    wait_settled(page, after="a.state.dataset === 'twin' && a.state.match === true")
    s = url_state(page)
    assert (s["dataset"], s["source"], s["cmp_dataset"]) == ("twin", "layer0-cell", "parens")
    assert cells_of(s["cells"]) == sorted(want) and s["match"] == "on"
    page.locator("section.match-view").first.wait_for(timeout=TIMEOUT_MS)
    assert page.errors == []


# --- pure helpers ---------------------------------------------------------------------------
def run_module(page, file: str, body: str, arg):
    return page.evaluate(f"async (arg) => {{ const m = await import('/{file}'); {body} }}", arg)


def test_nearest_and_lasso_helpers(module_page):
    rng = np.random.default_rng(0)
    pts = [{"x": float(x), "y": float(y)} for x, y in rng.normal(size=(40, 2))]
    got = run_module(module_page, "views/projectionPlot.js",
                     "return arg.map((_, i) => m.nearest(arg, i, 3));", pts)
    xy = np.array([[p["x"], p["y"]] for p in pts])
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert got == np.argsort(d, axis=1, kind="stable")[:, :3].tolist()
    square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    inside = run_module(module_page, "views/projectionPlot.js",
                        "return m.insideLasso(arg.pts, arg.poly, (x) => x, (y) => y);",
                        {"pts": pts, "poly": square})
    assert inside == [i for i, p in enumerate(pts) if 0 < p["x"] < 1 and 0 < p["y"] < 1]


def test_cluster_gains_against_a_direct_loop(module_page):
    rng = np.random.default_rng(1)
    states = rng.normal(size=(6, 9)).round(3)
    clusters = [[0, 3], [1, 2, 5], [4]]
    for starts in ([False, False, False, True, False, False, False, False, False],
                   [True] + [False] * 8):
        got = run_module(module_page, "views/coclustersView.js",
                         "return m.clusterGains(arg.s, arg.c, arg.t);",
                         {"s": states.tolist(), "c": clusters, "t": starts})
        for t in range(9):
            if t == 0 and not starts[0]:
                assert got[t] is None
                continue
            before = np.zeros(6) if starts[t] else states[:, t - 1]
            delta = states[:, t] - before
            for i, cells in enumerate(clusters):
                assert got[t][i]["up"] == pytest.approx(delta[cells].clip(min=0).sum())
                assert got[t][i]["down"] == pytest.approx(delta[cells].clip(max=0).sum())


def test_run_placed_on_the_pca_plot_and_carried_cells(module_page):
    rng = np.random.default_rng(2)
    mean, axes = rng.normal(size=5), rng.normal(size=(2, 5))
    values = rng.normal(size=(5, 4))  # cells x steps of a run
    for transform, f in (("none", lambda v: v), ("tanh", np.tanh)):
        got = run_module(module_page, "panels/projection.js",
                         "return m.placeRun(arg.v, arg.p, arg.t);",
                         {"v": values.tolist(), "t": transform,
                          "p": {"mean": mean.tolist(), "axes": axes.tolist()}})
        want = (f(values[:, -1]) - mean) @ axes.T
        assert [got["x"], got["y"]] == pytest.approx(want.tolist())
    pairs = [{"cell": 0, "matches": [{"cell": 5, "r": 0.9}]},
             {"cell": 1, "matches": [{"cell": 5, "r": 0.8}, {"cell": 2, "r": 0.1}]},
             {"cell": 2, "matches": [{"cell": 7, "r": 0.5}]}, {"cell": 3, "matches": []}]
    assert run_module(module_page, "views/compareView.js", "return m.carried(arg);",
                      pairs) == [5, 7]


def test_your_text_is_one_more_point_on_the_pca_plot(page, sentiment_server):  # noqa: F811
    """The sentence runs through the data set's model; PCA places its last state (after the
    source's transform) at (h - mean) @ axes^T, inside the plot's frame."""
    from test_your_text import SENTENCE
    from test_your_text import SOURCE as TEXT_SOURCE

    query = urlencode({"dataset": "sentiment", "source": TEXT_SOURCE, "panels": "projection",
                       "proj_text": SENTENCE, "proj_n": 200})
    page.goto(f"{sentiment_server.url}/client/view.html?{query}")
    panel = page.locator("section.panel[data-panel=projection]")
    diamond = panel.locator("path.your-text")
    diamond.wait_for(timeout=TIMEOUT_MS)
    assert diamond.locator("title").text_content() == "your text"
    proj = api(sentiment_server, "/datasets/sentiment/projection", source=TEXT_SOURCE, n=200)
    run = api(sentiment_server, "/datasets/sentiment/run", text=SENTENCE, sources=TEXT_SOURCE)
    summary = api(sentiment_server, "/datasets/sentiment")
    transform = next(s["transform"] for s in summary["sources"] if s["id"] == TEXT_SOURCE)
    last = np.array(run["sources"][TEXT_SOURCE])[:, -1]
    h = np.tanh(last) if transform == "tanh" else last
    x, y = (h - np.array(proj["pca"]["mean"])) @ np.array(proj["pca"]["axes"]).T
    # the diamond sits where the dots' scales put (x, y): compare with the dots' extremes
    dots = panel.locator("circle.dot")
    cx = np.array([float(v) for v in dots.evaluate_all("ds => ds.map(d => d.getAttribute('cx'))")])
    px = np.array([p["x"] for p in proj["points"]])
    slope = (cx.max() - cx.min()) / (px.max() - px.min())
    want_cx = cx.min() + (x - px.min()) * slope
    got = diamond.get_attribute("transform")
    got_cx = float(got.split("(")[1].split(",")[0])
    assert got_cx == pytest.approx(want_cx, abs=1.0)
    assert page.errors == []
