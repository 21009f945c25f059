"""The "your text" panel in Chromium against the real `hiddenscope serve` over the quick
sentiment build: a person types a sentence and sees the prediction, the word-impact strip
and the saliency heatmap and bars; the sentence is in the URL; dragging over words selects
the cells on there (checked against DESIGN.md's rule on the API's states) and they match
against the corpus; every checkpoint gets its row. The view's helpers run as modules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

import numpy as np
import pytest
from browser_harness import Server
from test_app import TIMEOUT_MS, cells_of, url_state, wait_settled

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SOURCE = "layer0-hidden"
SENTENCE = "The movie was not boring but the ending felt very slow"


@pytest.fixture(scope="module")
def sentiment_server(tmp_path_factory):
    from hiddenscope.extract.build import build

    root = tmp_path_factory.mktemp("text-datasets")
    folder = root / "sentiment"
    folder.mkdir()
    shutil.copy(ROOT / "datasets" / "sentiment" / "dataset.yml", folder / "dataset.yml")
    build(folder, quick=True, progress=False, echo=lambda *_: None)
    srv = Server(root)
    yield srv
    srv.stop()


def run_api(server, **params) -> dict:
    query = urlencode({"text": SENTENCE, **params})
    with urlopen(f"{server.url}/api/v1/datasets/sentiment/run?{query}", timeout=120) as r:
        return json.load(r)


def reference_select(values: np.ndarray, a: int, b: int, thr: float) -> list[int]:
    return [c for c in range(values.shape[0]) if (values[c, a : b + 1] >= thr).all()]


def test_type_a_sentence_and_see_the_three_strips(page, sentiment_server, artifacts):
    srv = sentiment_server
    query = urlencode(
        {"dataset": "sentiment", "source": SOURCE, "panels": "text", "threshold": 0.1}
    )
    page.goto(f"{srv.url}/client/view.html?{query}")
    panel = page.locator("section.panel[data-panel=text]")
    panel.locator("input[name=text]").wait_for(timeout=TIMEOUT_MS)
    panel.locator("input[name=text]").fill(SENTENCE)
    panel.get_by_role("button", name="Run the model").click()
    panel.locator(".yt-impact").first.wait_for(timeout=TIMEOUT_MS)
    panel.locator("svg.yt-saliency").wait_for(timeout=TIMEOUT_MS)
    panel.locator("svg.yt-bars").first.wait_for(timeout=TIMEOUT_MS)
    assert url_state(page)["text"] == SENTENCE

    answer = run_api(srv)
    words = panel.locator(".yt-impact").first.locator(".yt-word")
    assert words.all_inner_texts() == answer["tokens"]
    impact = np.array(answer["impact"])
    big = np.abs(impact).max()
    for i, v in enumerate(impact):
        kind = "neutral" if abs(v) < 0.1 * big else ("up" if v > 0 else "down")
        assert f"impact-{kind}" in words.nth(i).get_attribute("class")
    label = answer["output"]["label"]
    assert label in panel.locator("p.yt-prediction").inner_text()
    dims = np.array(answer["saliency_dims"])
    assert panel.locator("svg.yt-saliency g.row").count() == dims.shape[0]
    assert panel.locator("svg.yt-saliency g.row").first.locator("rect").count() == dims.shape[1]
    var = panel.locator("svg.yt-variance g.row")
    assert var.count() == dims.shape[0] and var.first.locator("rect").count() == dims.shape[1]
    page.screenshot(path=str(artifacts / "your_text.png"), full_page=True)

    # drag over words 1..2: the cells on there at the threshold, as the rule says
    boxes = panel.locator("svg.yt-words g.yt-token")
    first, last = boxes.nth(1).bounding_box(), boxes.nth(2).bounding_box()
    page.mouse.move(first["x"] + 5, first["y"] + 5)
    page.mouse.down()
    page.mouse.move(last["x"] + 5, last["y"] + 5, steps=3)
    page.mouse.up()
    page.wait_for_function(
        "() => new URL(location.href).searchParams.has('cells')", timeout=TIMEOUT_MS
    )
    values = np.array(answer["sources"][SOURCE], dtype=float)
    want = reference_select(values, 1, 2, 0.1)
    assert cells_of(url_state(page)["cells"]) == want
    if want:
        panel.get_by_role("button", name="Match these cells against the corpus").click()
        page.locator("tr.match-row").first.wait_for(timeout=TIMEOUT_MS)
        wait_settled(page)
        assert url_state(page)["match"] == "on"
    # another checkpoint for the main view: its states are not the data set's, so no match
    gru = [c for c in answer["checkpoints"] if c["model"] == "gru"][-1]
    panel.locator("select[name=checkpoint]").select_option(gru["id"])
    page.wait_for_function(
        "() => new URL(location.href).searchParams.get('text_checkpoint') !== null",
        timeout=TIMEOUT_MS)  # fmt: skip
    panel.locator("p.yt-prediction", has_text=gru["label"]).wait_for(timeout=TIMEOUT_MS)
    assert panel.get_by_role("button", name="Match these cells against the corpus").is_disabled()
    assert "cannot be matched" in panel.locator("p.yt-note").inner_text()
    assert not page.errors, page.errors


def test_every_checkpoint_gets_a_row(page, sentiment_server):
    srv = sentiment_server
    query = urlencode({"dataset": "sentiment", "source": SOURCE, "panels": "text",
                       "text": SENTENCE, "text_all": "on"})  # fmt: skip
    page.goto(f"{srv.url}/client/view.html?{query}")
    table = page.locator("section.panel[data-panel=text] table.yt-checkpoints")
    table.wait_for(timeout=TIMEOUT_MS)
    answer = run_api(srv)
    ids = [c["id"] for c in answer["checkpoints"]]
    page.wait_for_function(
        f"() => document.querySelectorAll('table.yt-checkpoints .yt-impact').length === {len(ids)}",
        timeout=TIMEOUT_MS)  # fmt: skip
    rows = table.locator("tbody tr")
    assert [rows.nth(i).get_attribute("data-checkpoint") for i in range(rows.count())] == ids
    for i, cid in enumerate(ids):
        want = run_api(srv, checkpoint=cid)["output"]["label"]
        assert want in rows.nth(i).locator(".yt-prediction").inner_text()
    assert not page.errors, page.errors


def test_impact_colours_and_select_on_text_helpers(module_page):
    rng = np.random.default_rng(4)
    impact = [0.3, -0.05, 0.01, -0.2, 0.0]
    values = np.round(rng.normal(0, 0.5, size=(9, 7)), 3)
    out = module_page.evaluate(
        """async ([impact, values]) => {
          const m = await import('/views/yourTextView.js');
          return {colors: m.impactColors(impact), sel: m.selectOnText(values, 2, 3, 0.1, 1, 1),
                  counts: m.onCountOnText(values, [0, 3, 5], 0.1)};
        }""",
        [impact, values.tolist()],
    )
    assert [c["kind"] for c in out["colors"]] == ["up", "down", "neutral", "down", "neutral"]
    assert [round(c["opacity"], 6) for c in out["colors"]] == [
        round(abs(v) / 0.3, 6) for v in impact
    ]
    on = values >= 0.1
    want = [c for c in range(9) if on[c, 2:4].all() and not on[c, 1] and not on[c, 4]]
    assert out["sel"] == want
    assert out["counts"] == [int(on[[0, 3, 5], t].sum()) for t in range(7)]
