"""GET /datasets/{dataset}/run over the quick sentiment build: the answer, its errors, and a
server that cannot import torch (503 on run, 200 elsewhere)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from api_helpers import TEST_HOSTS, build_sentiment_root, problem
from hiddenscope.server.api import create_app


@pytest.fixture(scope="module")
def run_root(tmp_path_factory) -> Path:
    return build_sentiment_root(tmp_path_factory.mktemp("run-datasets"))


@pytest.fixture(scope="module")
def app(run_root):
    app = create_app([run_root], hosts=TEST_HOSTS)
    yield app
    app.catalog.close()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def url(text: str, **params) -> str:
    from urllib.parse import urlencode

    return "/api/v1/datasets/sentiment/run?" + urlencode({"text": text, **params})


def test_run_answers_every_field_for_the_extracted_checkpoint(client, app):
    ds = app.catalog.entries["sentiment"].dataset
    r = client.get(url("The movie was not good, but the cast was great."))
    assert r.status_code == 200, r.text
    body = r.json()
    n = len(body["tokens"])
    assert body["tokens"][:5] == ["the", "movie", "was", "not", "good"]
    assert body["checkpoint"]["id"] == ds.config.model.extracted and body["checkpoint"]["extracted"]
    assert [c["id"] for c in body["checkpoints"]] == [c.id for c in ds.config.model.checkpoints]
    assert set(body["sources"]) == set(ds.sources)
    for sid, values in body["sources"].items():
        assert np.asarray(values).shape == (ds.sources[sid].shape[1], n)
    out = body["output"]
    assert out["kind"] == "classifier" and out["classes"] == ["negative", "positive"]
    assert sum(out["probs"]) == pytest.approx(1, abs=1e-5)
    assert len(body["impact"]) == len(body["saliency"]) == n
    assert np.asarray(body["saliency_dims"]).shape == np.asarray(body["variance"]).shape
    assert np.allclose(np.linalg.norm(body["saliency_dims"], axis=1), body["saliency"], rtol=1e-4)


def test_a_corpus_sentence_reads_the_stored_states(client, app):
    """The extracted checkpoint on a corpus sentence gives the data set's own rows."""
    ds = app.catalog.entries["sentiment"].dataset
    a, b = int(ds.sequence_offsets[3]), int(ds.sequence_offsets[4])
    text = " ".join(ds.token_text(a, b - 1))
    body = client.get(url(text, sources="layer0-cell")).json()
    engine = app.handlers.engine(ds, ds.sources["layer0-cell"])
    stored = engine.values(a, b - 1, None)
    np.testing.assert_allclose(np.asarray(body["sources"]["layer0-cell"]), stored, atol=1e-5)


def test_every_checkpoint_runs_and_other_models_have_their_own_states(client, app):
    config = app.catalog.entries["sentiment"].dataset.config.model
    for c in config.checkpoints:
        body = client.get(url("the plot was very dull .", checkpoint=c.id)).json()
        assert body["checkpoint"]["id"] == c.id and body["checkpoint"]["model"] == c.model
        want = {"layer0-hidden", "layer0-cell"} if c.model == "lstm" else {"layer0-hidden"}
        assert set(body["sources"]) == want


def test_unknown_tokens_are_reported(client):
    body = client.get(url("the movie was zzyzx")).json()
    assert body["unknown"] == [{"index": 3, "token": "zzyzx"}]
    assert body["token_ids"][3] == 0


def test_bad_requests_name_the_value(client):
    assert "'nope'" in problem(client.get(url("good", checkpoint="nope")), 404)
    assert "layer7-cell" in problem(client.get(url("good", sources="layer7-cell")), 400)
    assert "text" in problem(client.get(url("x" * 1001)), 400)
    assert "no tokens" in problem(client.get(url("   ")), 400)
    detail = problem(client.get("/api/v1/datasets/plain/run?text=hello"), 400)
    assert "'plain' carries no model" in detail
    problem(client.get("/api/v1/datasets/missing/run?text=hello"), 404)


def test_without_torch_run_is_503_and_the_rest_still_works(run_root, monkeypatch):
    """A server whose `import torch` fails (simulated): run names the extra; others are 200."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    for name in [m for m in sys.modules if m.startswith("hiddenscope.extract.")]:
        monkeypatch.delitem(sys.modules, name)
    app = create_app([run_root], hosts=TEST_HOSTS)
    try:
        client = app.test_client()
        detail = problem(client.get(url("the movie was good")), 503)
        assert "pip install 'hiddenscope[extract]'" in detail and "torch" in detail
        assert client.get("/api/v1/datasets").status_code == 200
        assert client.get("/api/v1/datasets/sentiment").status_code == 200
        r = client.get("/api/v1/datasets/sentiment/context?source=layer0-cell&pos=5")
        assert r.status_code == 200
    finally:
        app.catalog.close()


def test_a_checkpoint_holding_a_pickled_object_is_refused_unrun(run_root, tmp_path):
    """Replace a checkpoint file with one whose pickle would run a command: 503, not run."""
    import os
    import pickle
    import zipfile

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    target = run_root / "sentiment" / "models" / "gru-step00030.pt"
    saved = target.read_bytes()
    try:
        with zipfile.ZipFile(target, "w") as z:
            z.writestr("gru-step00030/data.pkl", pickle.dumps({"w": Payload()}, protocol=2))
        app = create_app([run_root], hosts=TEST_HOSTS)
        try:
            client = app.test_client()
            detail = problem(client.get(url("good", checkpoint="gru-step00030")), 503)
            assert "names posix.system" in detail and "was not loaded" in detail
            assert client.get(url("good")).status_code == 200  # the other checkpoints run
        finally:
            app.catalog.close()
    finally:
        target.write_bytes(saved)
    assert not marker.exists()


def test_a_resaved_checkpoint_is_loaded_again(client, run_root):
    """The loaded model is kept per checkpoint file: new weights in the file are run at once,
    the same answer as a server started on the new files."""
    import torch

    target = run_root / "sentiment" / "models" / "gru-step00030.pt"
    saved = target.read_bytes()
    text = url("the movie was good", checkpoint="gru-step00030")
    before = client.get(text).json()["output"]["probs"]
    try:
        weights = torch.load(target, weights_only=True)
        torch.save({k: v * 3 if v.is_floating_point() else v for k, v in weights.items()},
                   target)
        after = client.get(text).json()["output"]["probs"]
        fresh = create_app([run_root], hosts=TEST_HOSTS)
        try:
            expected = fresh.test_client().get(text).json()["output"]["probs"]
        finally:
            fresh.catalog.close()
    finally:
        target.write_bytes(saved)
    assert after == expected and not np.allclose(after, before)


def test_loading_one_checkpoint_does_not_hold_up_another(app, monkeypatch):
    """A model that takes long to load (simulated) keeps no other checkpoint waiting."""
    import threading

    from hiddenscope.extract import live

    model = app.catalog.entries["sentiment"].dataset.config.model
    first, second = [c.id for c in model.checkpoints if c.id != model.extracted][:2]
    release, loading = threading.Event(), threading.Event()
    real = live.LiveModel

    class SlowFirst(real):
        def __init__(self, config, checkpoint, vocab):
            if checkpoint.id == first:
                loading.set()
                assert release.wait(60)
            super().__init__(config, checkpoint, vocab)

    monkeypatch.setattr(live, "LiveModel", SlowFirst)
    monkeypatch.setattr(app.handlers, "_live_models", {})  # none loaded yet
    slow_client, fast_client = app.test_client(), app.test_client()
    answers = {}
    slow = threading.Thread(target=lambda: answers.setdefault(
        "slow", slow_client.get(url("good", checkpoint=first))))
    slow.start()
    try:
        assert loading.wait(20)
        fast = threading.Thread(target=lambda: answers.setdefault(
            "fast", fast_client.get(url("good", checkpoint=second))))
        fast.start()
        fast.join(20)
        assert "fast" in answers and "slow" not in answers  # answered while the other loads
    finally:
        release.set()
        slow.join(60)
    assert answers["fast"].status_code == 200 and answers["slow"].status_code == 200
