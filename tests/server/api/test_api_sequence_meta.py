"""Sequence-level tracks and the model summary over the quick sentiment build: the data set
summary lists them, and the context, match rows and projection points carry each sequence's
values, checked against the HDF5 tables and offsets read directly."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from api_helpers import TEST_HOSTS, build_sentiment_root
from hiddenscope.server.api import create_app

BASE = "/api/v1/datasets/sentiment"
TRACKS = ("gold", "predicted", "confidence")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return build_sentiment_root(tmp_path_factory.mktemp("sequence-meta-datasets"))


@pytest.fixture(scope="module")
def client(root):
    app = create_app([root], hosts=TEST_HOSTS)
    yield app.test_client()
    app.catalog.close()


@pytest.fixture(scope="module")
def tables(root) -> dict:
    """The files, read directly: offsets, each sequence table, the label lists, the config."""
    folder = root / "sentiment"
    with h5py.File(folder / "data.h5", "r") as f:
        out = {"offsets": f["sequences"][()].astype(np.int64)}
        out.update({name: f[f"sequence_meta/{name}"][()] for name in TRACKS})
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    out["config"] = config
    for name in ("gold", "predicted"):
        ref = config["sequence_meta"][name]["dict"]
        out[f"{name}_labels"] = json.loads((folder / config["files"][ref]).read_text())
    return out


def sequences_of(offsets: np.ndarray, a: int, b: int) -> list[int]:
    """Brute force: every sequence i with a step in a..b."""
    return [i for i in range(len(offsets) - 1) if offsets[i] <= b and offsets[i + 1] - 1 >= a]


def check_values(body: dict, seqs, tables: dict) -> None:
    """``body`` (track -> MetaValues) holds each track's file values at ``seqs``."""
    assert set(body) == set(TRACKS)
    for name in ("gold", "predicted"):
        assert body[name]["kind"] == "categorical"
        assert body[name]["labels"] == tables[f"{name}_labels"]
        assert body[name]["values"] == tables[name][seqs].tolist()
    conf = body["confidence"]
    assert conf["kind"] == "scalar" and conf["range"] == [0.0, 1.0]
    np.testing.assert_allclose(conf["values"], tables["confidence"][seqs], rtol=1e-6)


def test_summary_lists_sequence_tracks_and_the_model(client, tables):
    body = client.get(BASE).json()
    got = {t["id"]: t for t in body["sequence_meta"]}
    assert list(got) == list(tables["config"]["sequence_meta"])
    assert got["gold"] == {"id": "gold", "kind": "categorical",
                           "labels": tables["gold_labels"], "range": None}  # fmt: skip
    assert got["confidence"] == {"id": "confidence", "kind": "scalar", "labels": None,
                                 "range": [0.0, 1.0]}  # fmt: skip
    model, config = body["model"], tables["config"]["model"]
    assert model["task"] == "classifier" and model["classes"] == config["classes"]
    assert model["tokenizer"] == config["tokenizer"] and model["extracted"] == config["extracted"]
    assert [(c["id"], c["label"], c["model"], c["step"], c["extracted"])
            for c in model["checkpoints"]] == [
        (c["id"], c["label"], c["model"], c["step"], c["id"] == config["extracted"])
        for c in config["checkpoints"]
    ]  # fmt: skip
    assert model["models"] == list(dict.fromkeys(c["model"] for c in config["checkpoints"]))
    assert set(model["models"]) == {"lstm", "gru"}
    # every checkpoint listed is one run accepts (the list is what the client offers)
    assert all(c["id"] for c in model["checkpoints"])


def test_a_data_set_without_model_or_sequence_tracks_says_so(client):
    body = client.get("/api/v1/datasets/plain").json()
    assert body["model"] is None and body["sequence_meta"] == []
    listed = {d["id"]: d for d in client.get("/api/v1/datasets").json()["datasets"]}
    assert listed["plain"]["model"] is None and listed["sentiment"]["model"]["checkpoints"]


@pytest.mark.parametrize("where", ["start", "boundary", "end"])
def test_context_carries_the_window_sequences(client, tables, where):
    o = tables["offsets"]
    T = int(o[-1])
    pos = {"start": 0, "boundary": int(o[7]), "end": T - 1}[where]
    body = client.get(f"{BASE}/context", params={"source": "layer0-hidden", "pos": pos,
                                                 "left": 12, "right": 30}).json()  # fmt: skip
    seqs = sequences_of(o, body["start"], body["end"])
    assert len(seqs) >= (2 if where == "boundary" else 1)
    assert body["sequence_meta"]["sequences"] == seqs
    check_values(body["sequence_meta"]["values"], seqs, tables)


def test_match_rows_carry_their_sequence(client, tables):
    body = client.get(f"{BASE}/match", params={"source": "layer0-hidden", "cells": "0,1,2",
                                               "threshold": 0.0, "limit": 12}).json()  # fmt: skip
    assert body["matches"], body
    for m in body["matches"]:
        seqs = sequences_of(tables["offsets"], m["start"], m["end"])
        assert m["sequence_meta"]["sequences"] == seqs
        check_values(m["sequence_meta"]["values"], seqs, tables)


@pytest.mark.parametrize("points", ["sequence_end", "steps"])
def test_projection_points_carry_their_sequence_values(client, tables, points):
    params = {"source": "layer0-hidden", "n": 40, "points": points, "seed": 3}
    body = client.get(f"{BASE}/projection", params=params).json()
    o = tables["offsets"]
    seqs = [p["seq"] for p in body["points"]]
    # each point's seq is the sequence holding its step
    assert seqs == [int(np.searchsorted(o, p["pos"], side="right")) - 1 for p in body["points"]]
    if points == "sequence_end":
        assert all(p["pos"] == o[p["seq"] + 1] - 1 for p in body["points"])
    check_values(body["sequence_meta"], seqs, tables)


def test_projection_of_a_data_set_without_sequence_tracks(client):
    body = client.get("/api/v1/datasets/plain/projection",
                      params={"source": "layer0-cell", "n": 2}).json()  # fmt: skip
    assert body["sequence_meta"] == {} and len(body["points"]) == 2
