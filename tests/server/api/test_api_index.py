"""The match index's lifecycle seen through the API: a request never builds or waits for it;
the workspace builds it in the background (state missing -> building -> fresh in the data
set summary) and the answers stay identical throughout."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from api_helpers import TEST_HOSTS
from hiddenscope.server.api import create_app
from hiddenscope.server.engine import MatchQuery, SourceEngine
from hiddenscope.server.store import Catalog
from hiddenscope.server.store.synthetic import write_dataset

BASE = "/api/v1/datasets/big"
MATCH = {"source": "layer0-cell", "cells": "0,1,2,5", "threshold": 0.3, "limit": 20}


@pytest.fixture()
def big_app(tmp_path):
    write_dataset(tmp_path / "big", T=20_000, D=16, layers=1, kinds=("cell",), sequences=5)
    app = create_app([tmp_path], catalog=Catalog([tmp_path]), hosts=TEST_HOSTS)
    yield app
    app.handlers.workspace.stop(timeout=30)
    app.catalog.close()


def index_of(client) -> dict:
    (source,) = client.get(BASE).json()["sources"]
    return source["index"]


def answer(client) -> dict:
    body = client.get(f"{BASE}/match", params=MATCH).json()
    return {"matches": body["matches"], "candidates": body["candidates"]}


def test_background_build_missing_building_fresh(big_app):
    client, workspace = big_app.test_client(), big_app.handlers.workspace
    assert index_of(client) == {"state": "missing", "percent": 0.0}
    before = answer(client)
    assert before["matches"]
    assert index_of(client)["state"] == "missing"  # the request did not build it

    # hold the build half-way, to look at it and to query while it runs
    started, proceed = threading.Event(), threading.Event()
    ds = big_app.catalog.entries["big"].dataset
    engine = workspace.engine(ds, "layer0-cell")
    build = engine.build_index

    def paused_build(progress):
        def report(fraction):
            progress(fraction)
            if fraction >= 0.5 and not started.is_set():
                started.set()
                assert proceed.wait(60)

        build(report)

    engine.build_index = paused_build
    workspace.start_background(poll=0.05)
    assert started.wait(60)
    during = index_of(client)
    assert during["state"] == "building" and 0 < during["percent"] < 100
    began = time.perf_counter()
    assert answer(client) == before  # answered by scanning, while the build waits
    assert time.perf_counter() - began < 30
    assert index_of(client)["state"] == "building"
    proceed.set()
    deadline = time.time() + 60
    while index_of(client)["state"] != "fresh":
        assert time.time() < deadline, index_of(client)
        time.sleep(0.05)
    assert index_of(client) == {"state": "fresh", "percent": 100.0}
    assert engine.index_state() == "fresh"
    assert answer(client) == before  # now from the index


def test_states_edited_in_place_make_the_index_stale(big_app):
    client, workspace = big_app.test_client(), big_app.handlers.workspace
    ds = big_app.catalog.entries["big"].dataset
    workspace.build(ds, "layer0-cell")
    assert index_of(client)["state"] == "fresh"
    src = ds.sources["layer0-cell"]
    rows = src.read_rows(100, 200)
    edited = np.where(rows > 0, rows - 2, rows + 2).astype(np.float32)
    with open(ds.folder / "data.h5", "r+b") as f:  # in place: same file, same size
        f.seek(src._array._offset + 100 * 16 * 4)  # the contiguous table's rows 100..199
        f.write(edited.tobytes())
    np.testing.assert_array_equal(src.read_rows(100, 200), edited)
    assert index_of(client)["state"] == "stale"
    fresh_answer = answer(client)  # scanned from the edited numbers, never the old index
    plain = SourceEngine(src).match(MatchQuery([0, 1, 2, 5], 0.3, limit=20))
    assert [(m["start"], m["end"], m["union"]) for m in fresh_answer["matches"]] == [
        (m.start, m.end, m.union) for m in plain.matches]
    workspace.build(ds, "layer0-cell")
    assert index_of(client)["state"] == "fresh"
    assert answer(client) == fresh_answer


def test_forget_drops_a_data_sets_engines(big_app):
    workspace = big_app.handlers.workspace
    ds = big_app.catalog.entries["big"].dataset
    engine = workspace.engine(ds, "layer0-cell")
    assert workspace.engine(ds, "layer0-cell") is engine
    workspace.forget("big")
    again = workspace.engine(ds, "layer0-cell")
    assert again is not engine and again.source is ds.sources["layer0-cell"]
