"""client/api.js with a long analysis: it polls the same URL on 202 (JobRunning), tells the
loader's progress "computing… N% (T s)", returns the 200 answer, and stops polling when its
signal aborts (a panel closed or asked for something else)."""

from __future__ import annotations

import json

import pytest
from test_app import SOURCE, TIMEOUT_MS, open_view

pytestmark = pytest.mark.browser

URL = "http://client.test/api/v1/datasets/p/correlation?source=s&feature=meta%3Adepth&method=mi"


def test_polls_on_202_with_progress_until_the_answer(module_page):
    page = module_page
    seen = []
    answers = [
        (202, {"state": "queued", "percent": 0, "elapsed": 0.0, "key": "correlation/p"}),
        (202, {"state": "running", "percent": 41.7, "elapsed": 1.2, "key": "correlation/p"}),
        (200, {"cells": [{"cell": 3, "score": 0.5, "p": None, "n": 10}]}),
    ]

    def answer(route):
        seen.append(route.request.url)
        status, body = answers[len(seen) - 1]
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body),
                      headers={"Retry-After": "1"})

    page.route("http://client.test/api/v1/**", answer)
    got = page.evaluate("""async () => {
      const api = await import('/api.js');
      const texts = [];
      const body = await api.getCorrelation('p', {source: 's', feature: 'meta:depth', method: 'mi'},
        {progress: (t) => texts.push(t)});
      return {body, texts};
    }""")
    assert seen == [URL] * 3  # the same URL each time
    assert got["texts"] == ["queued… (0 s)", "computing… 41% (1 s)"]
    assert got["body"] == answers[2][1]


def test_a_failure_after_202_carries_the_problem_detail(module_page):
    page = module_page
    calls = []

    def answer(route):
        calls.append(1)
        if len(calls) == 1:
            route.fulfill(status=202, content_type="application/json", headers={"Retry-After": "1"},
                          body=json.dumps({"state": "running", "percent": 5, "elapsed": 0.1,
                                           "key": "coclusters/p"}))
        else:
            problem = {"type": "about:blank", "title": "Bad Request", "status": 400,
                       "detail": "k: 5 is more than the 3 words"}
            route.fulfill(status=400, content_type="application/problem+json",
                          body=json.dumps(problem))

    page.route("http://client.test/api/v1/**", answer)
    err = page.evaluate("""async () => {
      const api = await import('/api.js');
      try { await api.getCoclusters('p', {source: 's', k: 5}); return null; }
      catch (e) { return {name: e.name, status: e.status, detail: e.detail}; }
    }""")
    assert err == {"name": "ApiError", "status": 400, "detail": "k: 5 is more than the 3 words"}
    assert len(calls) == 2


def test_an_abort_stops_the_polling(module_page):
    page = module_page
    calls = []

    def answer(route):
        calls.append(1)
        route.fulfill(status=202, content_type="application/json", headers={"Retry-After": "1"},
                      body=json.dumps({"state": "running", "percent": 10, "elapsed": 0.5,
                                       "key": "align/p"}))

    page.route("http://client.test/api/v1/**", answer)
    name = page.evaluate("""async () => {
      const api = await import('/api.js');
      const ctrl = new AbortController();
      const texts = [];
      const asked = api.alignCells('p', {source: 's', cells: [1], to_source: 't'},
        {signal: ctrl.signal, progress: (t) => { texts.push(t); ctrl.abort(); }});
      try { await asked; return 'answered'; } catch (e) { return e.name; }
    }""")
    assert name == "AbortError"
    page.wait_for_timeout(1500)  # past the Retry-After: no second request was sent
    assert len(calls) == 1


# --- the real app: the correlation panel while its analysis runs ------------------------------
def test_correlation_panel_shows_the_percent_and_stops_polling_when_closed(page, server):
    asked = []

    def running(route):  # the server's analysis "still running": 202 with the percent
        asked.append(route.request.url)
        route.fulfill(status=202, content_type="application/json", headers={"Retry-After": "1"},
                      body=json.dumps({"state": "running", "percent": 12.5 * len(asked),
                                       "elapsed": 1.0 * len(asked), "key": "correlation/parens"}))

    page.route("**/api/v1/datasets/parens/correlation?*", running)
    open_view(page, server, panels="correlation", corr_feature="meta:depth=depth 4")
    progress = page.locator(".status-bar .progress")
    page.wait_for_function(
        "() => /computing… (25|37|50)% \\(\\d+ s\\)/.test("
        "document.querySelector('.status-bar .progress').textContent)", timeout=TIMEOUT_MS)
    assert "ranking every cell over the whole data set: computing…" in progress.inner_text()
    assert len(set(asked)) == 1 and SOURCE in asked[0]  # the same URL each time

    page.get_by_role("button", name="close Correlation").click()
    page.wait_for_timeout(300)
    before = len(asked)
    page.wait_for_timeout(2500)  # two Retry-After periods: no request after the close
    assert len(asked) == before
    assert "computing" not in progress.inner_text()
    assert page.errors == []


def test_correlation_panel_answers_after_202(page, server):
    asked = []

    def slow_then_real(route):  # two 202 answers, then the real server's answer
        asked.append(route.request.url)
        if len(asked) <= 2:
            route.fulfill(status=202, content_type="application/json",
                          headers={"Retry-After": "1"},
                          body=json.dumps({"state": "running", "percent": 30.0 * len(asked),
                                           "elapsed": 0.5, "key": "correlation/parens"}))
        else:
            route.continue_()

    page.route("**/api/v1/datasets/parens/correlation?*", slow_then_real)
    open_view(page, server, panels="correlation", corr_feature="meta:depth=depth 4")
    panel = page.locator("section.panel[data-panel=correlation]")
    rows = panel.locator("tr.corr-row")
    rows.first.wait_for(timeout=TIMEOUT_MS)
    assert len(asked) == 3 and len(set(asked)) == 1 and SOURCE in asked[0]
    shown = [int(t) for t in rows.locator(".cell-id").all_inner_texts()]
    assert set(shown[:4]) == {0, 1, 2, 3}  # the generated depth cells come first
    assert page.errors == []
