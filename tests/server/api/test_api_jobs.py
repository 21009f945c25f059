"""Long analyses as background jobs (server/api/jobs.py): 202 with the percent done while a job
runs, then 200 with the same answer as a direct call; identical requests share one job; a
failure answers its problem+json once and is forgotten; the progress callbacks of the engine
functions change no result.

The computations are made slow on purpose: tiny chunks (many progress reports) and a sleep in
each report, on an app of their own (own caches and jobs, a wait of a few milliseconds).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from api_helpers import TEST_HOSTS, problem
from hiddenscope.server.api import create_app
from hiddenscope.server.api import jobs as jobs_mod
from hiddenscope.server.engine import align, apply_transform, coclusters, response
from hiddenscope.server.engine import features as corr
from scipy import stats as sps

BASE = "/api/v1/datasets/parens"
SRC = "layer0-cell"
D = 24  # cells of the parens source (conftest)
OTHER = "layer1-cell"  # a second source of the same data set


@pytest.fixture(scope="module")
def own(api_root):
    """An app of this module's own: its caches and jobs start empty."""
    app = create_app([api_root], hosts=TEST_HOSTS)
    yield app
    app.catalog.close()


@pytest.fixture(scope="module")
def client(own):
    return own.test_client()


@pytest.fixture
def slow(own, monkeypatch):
    """Chunks of 100 steps and 40 ms per progress report; a wait of 20 ms per request."""
    monkeypatch.setattr(corr, "CHUNK_VALUES", 100 * D)
    monkeypatch.setattr(response, "CHUNK_VALUES", 100 * D)
    monkeypatch.setattr(align, "CHUNK_VALUES", 256 * D)  # align's least is 256 steps
    report = jobs_mod.Job.progress

    def sleepy(self, fraction):
        time.sleep(0.04)
        report(self, fraction)

    monkeypatch.setattr(jobs_mod.Job, "progress", sleepy)
    monkeypatch.setattr(own.handlers.jobs, "wait", 0.02)
    return own.handlers.jobs


def poll(client, url, params, timeout=60.0):
    """GET until the answer is not 202; returns (final response, the 202 bodies seen)."""
    seen = []
    end = time.monotonic() + timeout
    while True:
        r = client.get(url, params=params)
        if r.status_code != 202:
            return r, seen
        assert r.headers["content-type"] == "application/json"
        assert r.headers["Retry-After"] == "1"
        seen.append(r.json())
        assert time.monotonic() < end, f"still running after {timeout} s: {seen[-1]}"
        time.sleep(0.05)


def test_slow_correlation_answers_202_with_percent_then_the_direct_answer(client, parens, slow):
    params = {"source": SRC, "feature": "meta:depth=depth 2", "method": "pearson", "limit": 24}
    started = slow.started
    final, seen = poll(client, f"{BASE}/correlation", params)
    assert final.status_code == 200, final.text
    assert slow.started == started + 1
    assert seen, "a computation of about 1 s answered 200 within a wait of 20 ms"
    for body in seen:
        assert set(body) == {"state", "percent", "elapsed", "key"}
        assert body["state"] in ("queued", "running") and 0 <= body["percent"] <= 100
        # data set, source and parameters only: no file path nor identity of the server's
        assert body["key"] == "correlation/parens/layer0-cell/meta:depth=depth 2/pearson"
    percents = [b["percent"] for b in seen]
    assert percents == sorted(percents) and max(percents) > 0  # reported per chunk

    # the same answer as a direct call of the engine, which agrees with scipy
    src = parens.sources[SRC]
    f = (parens.meta["depth"].window(0, parens.length - 1)["values"] == 2).astype(np.float64)
    direct = corr.correlate(src, f, "pearson")
    body = final.json()
    assert [c["cell"] for c in body["cells"]] == direct.ranking()[:24].tolist()
    for row in body["cells"]:
        assert row["score"] == direct.scores[row["cell"]]
        assert row["n"] == direct.n[row["cell"]]
    top = body["cells"][0]["cell"]
    x = apply_transform(src.read_rows(0, src.shape[0]), src.transform)[:, top]
    assert body["cells"][0]["score"] == pytest.approx(
        sps.pearsonr(x.astype(np.float64), f).statistic, abs=1e-9)

    # answered from the cache at once now: 200 without a wait and without a new job
    slow.wait = 0.0
    again = client.get(f"{BASE}/correlation", params=params)
    assert again.status_code == 200 and again.json() == body
    assert slow.started == started + 1


def test_identical_concurrent_requests_share_one_job(own, slow):
    params = {"source": SRC, "k": 2, "words": 6, "min_count": 1, "seed": 3}
    started = slow.started
    answers: list = [None] * 4

    def ask(i):  # each thread its own test client, as separate browsers would be
        answers[i] = poll(own.test_client(), f"{BASE}/coclusters", params)[0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert all(a is not None and a.status_code == 200 for a in answers)
    assert slow.started == started + 1
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert len(bodies[0]["response"]["words"]) == 6


def test_a_failed_job_answers_its_problem_once_and_is_forgotten(client, slow):
    # k above the words there are: the error comes after the (slow) response pass
    params = {"source": SRC, "k": 5, "words": 3, "min_count": 1}
    started = slow.started
    first = client.get(f"{BASE}/coclusters", params=params)
    assert first.status_code == 202
    final, _ = poll(client, f"{BASE}/coclusters", params)
    assert "k: 5 is more than the 3 words" in problem(final, 400)
    assert slow.running() == []
    # forgotten: the next request starts the computation again (and fails the same way)
    again = client.get(f"{BASE}/coclusters", params=params)
    assert again.status_code in (202, 400)
    assert slow.started == started + 2
    final, _ = poll(client, f"{BASE}/coclusters", params)
    assert "k: 5 is more than the 3 words" in problem(final, 400)


def test_a_cell_column_and_align_run_as_jobs(client, parens, slow):
    # cells/{cell}/top from the whole column (this app builds no match index)
    final, _ = poll(client, f"{BASE}/cells/7/top", {"source": SRC, "limit": 3, "left": 2,
                                                    "right": 2})
    assert final.status_code == 200, final.text
    src = parens.sources[SRC]
    column = apply_transform(src.read_rows(0, src.shape[0]), src.transform)[:, 7]
    first = final.json()["windows"][0]
    assert first["pos"] == int(np.argmax(column))
    assert first["value"] == pytest.approx(column.max(), abs=1e-6)

    params = {"source": SRC, "cells": "1,2", "to_source": OTHER, "limit": 2}
    final, seen = poll(client, f"{BASE}/align", params)
    assert final.status_code == 200, final.text
    assert seen and seen[-1]["key"].startswith("align/parens/")
    direct = align.correlate(src, np.array([1, 2]), parens.sources[OTHER])
    for pair, row in zip(final.json()["pairs"], direct, strict=True):
        valid = np.flatnonzero(~np.isnan(row))
        best = valid[np.lexsort((valid, -row[valid]))][:2]
        assert [m["cell"] for m in pair["matches"]] == best.tolist()


def test_too_many_jobs_is_a_503_problem(client, slow, monkeypatch):
    # a finished job may still be closing (its last, slow, progress report) after its answer
    # was already read from the cache: wait until none is left
    end = time.monotonic() + 10
    while slow.running() and time.monotonic() < end:
        time.sleep(0.02)
    assert slow.running() == []
    monkeypatch.setattr(slow, "max_jobs", 1)
    one = {"source": SRC, "feature": "meta:depth=depth 1", "method": "spearman"}
    assert client.get(f"{BASE}/correlation", params=one).status_code == 202
    other = {**one, "method": "pearson", "feature": "meta:depth=depth 3"}
    detail = problem(client.get(f"{BASE}/correlation", params=other), 503)
    assert "at most 1" in detail
    final, _ = poll(client, f"{BASE}/correlation", one)
    assert final.status_code == 200


def test_an_abandoned_job_stops_and_frees_its_worker(client, slow, monkeypatch):
    """Asked once, then never again: stopped at a progress report once ``abandon`` seconds
    pass without a request; nothing is cached, so a later request computes it anew."""
    monkeypatch.setattr(slow, "abandon", 0.3)
    params = {"source": SRC, "feature": "meta:depth=depth 4", "method": "spearman"}
    started = slow.started
    assert client.get(f"{BASE}/correlation", params=params).status_code == 202
    end = time.monotonic() + 20
    while slow.running() and time.monotonic() < end:
        time.sleep(0.02)
    assert slow.running() == [], "the abandoned job is still running"
    # polled every 50 ms, well inside the 0.3 s: the new job runs to its answer
    final, seen = poll(client, f"{BASE}/correlation", params)
    assert final.status_code == 200, final.text
    assert slow.started == started + 2
    assert seen[0]["percent"] < 50  # started from the beginning, not from a kept part


def test_a_queued_job_nobody_asks_for_is_never_started():
    jobs = jobs_mod.Jobs(workers=1, wait=0.0)
    jobs.abandon = 0.1
    release, ran = threading.Event(), []

    def blocker(progress):
        release.wait(10)
        return "first"

    def queued(progress):
        ran.append(True)
        return "second"

    assert isinstance(jobs.run("a", blocker), jobs_mod.Running)
    assert isinstance(jobs.run("b", queued), jobs_mod.Running)  # behind "a" on the one worker
    time.sleep(0.3)  # nobody asks for "b" meanwhile
    release.set()
    assert jobs.run("a", blocker, wait=5) == "first"  # "a" reports no progress: not stopped
    end = time.monotonic() + 5
    while jobs.running() and time.monotonic() < end:
        time.sleep(0.01)
    assert ran == [] and jobs.running() == []
    assert jobs.run("b", queued, wait=5) == "second"  # asked again: started anew
    assert ran == [True] and jobs.started == 3


def test_a_request_waiting_on_a_job_keeps_it_alive():
    """A request inside its wait counts as asking, however long the wait."""
    jobs = jobs_mod.Jobs(workers=1, wait=0.0)
    jobs.abandon = 0.05

    def steps(progress):
        for i in range(20):
            time.sleep(0.02)
            progress(i / 20)
        return "done"

    assert jobs.run("slow", steps, wait=5) == "done"
    assert jobs.started == 1


# --- the engine's progress callbacks: reported per chunk, results unchanged ----------------
def _reports():
    seen: list[float] = []
    return seen, seen.append


@pytest.mark.parametrize("method", ["pearson", "spearman", "mi"])
def test_correlate_progress_changes_nothing(parens, monkeypatch, method):
    src = parens.sources[SRC]
    f = parens.meta["depth"].window(0, parens.length - 1)["values"].astype(np.float64)
    if method != "mi":
        f = (f == 3).astype(np.float64)
    plain = corr.correlate(src, f, method, categorical=method == "mi")
    monkeypatch.setattr(corr, "CHUNK_VALUES", 100 * D)
    seen, report = _reports()
    reported = corr.correlate(src, f, method, categorical=method == "mi", progress=report)
    for name in ("scores", "p", "n"):
        np.testing.assert_array_equal(getattr(reported, name), getattr(plain, name))
    assert len(seen) >= 20 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_response_and_align_progress_change_nothing(parens, monkeypatch):
    src = parens.sources[SRC]
    ids = np.arange(4, dtype=np.int64)
    plain_r = coclusters.expected_response(src, parens.tokens, parens.sequence_offsets, ids)
    plain_a = align.correlate(src, np.array([0, 5]), parens.sources[OTHER])
    monkeypatch.setattr(response, "CHUNK_VALUES", 100 * D)
    monkeypatch.setattr(align, "CHUNK_VALUES", 256 * D)
    seen, report = _reports()
    R = coclusters.expected_response(src, parens.tokens, parens.sequence_offsets, ids,
                                     progress=report)
    np.testing.assert_allclose(R, plain_r, rtol=1e-12, atol=1e-15)  # chunks re-group sums
    assert len(seen) >= 10 and seen[-1] == pytest.approx(1.0)
    seen, report = _reports()
    r = align.correlate(src, np.array([0, 5]), parens.sources[OTHER], progress=report)
    np.testing.assert_allclose(r, plain_a, rtol=1e-5, atol=1e-6)
    assert len(seen) >= 4 and seen[-1] == pytest.approx(1.0)


def test_no_202_answer_names_a_file_of_the_server(own, slow, api_root):
    """Every analysis that can answer 202: its body shows ids and parameters, no path."""
    asks = [
        ("correlation", {"source": SRC, "feature": "words:(", "method": "pearson"}),
        ("coclusters", {"source": SRC, "k": 2, "words": 5, "min_count": 1, "seed": 9}),
        ("align", {"source": SRC, "cells": "5,7,11", "to_source": OTHER}),
        ("cells/3/words", {"source": SRC, "min_count": 1}),
    ]
    for path, params in asks:
        final, seen = poll(own.test_client(), f"{BASE}/{path}", params)
        assert final.status_code == 200, final.text
        assert seen, path
        for body in seen:
            text = str(body)
            assert str(api_root) not in text and "data.h5" not in text and "/tmp" not in text
            assert body["key"].split("/")[:3] in (
                [path.split("/")[0], "parens", SRC], ["words-all", "parens", SRC])

