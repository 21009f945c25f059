"""correlation, cells/{cell}/top, /labels, /words and match?summary=true through the API,
each against a direct computation on the data set's own arrays."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from api_helpers import TEST_HOSTS, problem
from hiddenscope.server.engine import MatchQuery, SourceEngine, apply_transform
from scipy import stats as sps

BASE = "/api/v1/datasets/parens"
SRC = "layer0-cell"


# tiny data: every analysis answers within the jobs' wait (200, never 202)
pytestmark = pytest.mark.usefixtures("patient")


@pytest.fixture(scope="module")
def h(parens):
    """Transformed float64[T, D] of the source under test."""
    src = parens.sources[SRC]
    return apply_transform(src.read_rows(0, src.shape[0]), src.transform).astype(np.float64)


def depth_ids(parens):
    return parens.meta["depth"].window(0, parens.length - 1)["values"]


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_with_a_label_against_scipy(client, parens, h, method):
    r = client.get(f"{BASE}/correlation", params={"source": SRC, "feature": "meta:depth=depth 4",
                                                 "method": method, "limit": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    f = (depth_ids(parens) == 4).astype(np.float64)
    assert body["n"] == parens.length and body["method"] == method
    assert len(body["cells"]) == 24  # limit 30, the source has 24 cells
    fn = sps.pearsonr if method == "pearson" else sps.spearmanr
    for row in body["cells"]:
        want = fn(h[:, row["cell"]], f)
        assert row["score"] == pytest.approx(want.statistic, abs=1e-9)
        assert row["p"] == pytest.approx(want.pvalue, rel=1e-6, abs=1e-300)
    scores = [abs(c["score"]) for c in body["cells"]]
    assert scores == sorted(scores, reverse=True)
    assert body["cells"][0]["cell"] < 4  # the depth cells come first


def test_correlation_mi_words_and_regex(client, parens, h):
    r = client.get(f"{BASE}/correlation", params={"source": SRC, "feature": "words:(,)",
                                                 "method": "mi", "limit": 3})
    assert r.status_code == 200, r.text
    rows = r.json()["cells"]
    assert len(rows) == 3 and all(row["p"] is None for row in rows)
    vocab = parens.vocab_array
    brackets = np.isin(vocab[parens.tokens], ["(", ")"]).astype(int)
    for row in rows:
        x = h[:, row["cell"]]
        edges = np.sort(x)[np.maximum(np.arange(1, 16) * x.size // 16 - 1, 0)]
        bins = (x[:, None] > edges[None, :]).sum(1)
        mi_nats = sps.entropy(np.bincount(bins)) + sps.entropy(np.bincount(brackets)) - \
            sps.entropy(np.bincount(bins * 2 + brackets))
        assert row["score"] == pytest.approx(mi_nats / math.log(2), abs=1e-9)
    a = client.get(f"{BASE}/correlation", params={"source": SRC, "feature": r"regex:^[()]$",
                                                 "method": "mi", "limit": 3}).json()
    assert a["cells"] == rows  # the same indicator written as a regex


def test_correlation_of_a_scalar_track_and_nulls_last(client, parens, h):
    body = client.get(f"{BASE}/correlation", params={"source": SRC, "feature": "meta:position",
                                                    "limit": 5000}).json()
    pos = parens.meta["position"].window(0, parens.length - 1)["values"]
    row = body["cells"][0]
    assert row["score"] == pytest.approx(sps.pearsonr(h[:, row["cell"]], pos).statistic, abs=1e-9)
    absent = client.get(f"{BASE}/correlation", params={
        "source": SRC, "feature": "words:(", "method": "spearman"}).json()
    assert all(c["score"] is not None for c in absent["cells"])


@pytest.mark.parametrize("feature,fragment", [
    ("depth", "is not understood"),
    ("meta:nope", "'nope' is not a meta track"),
    ("meta:depth=depth 9", "'depth 9' is not a label of track 'depth'"),
    ("meta:depth", "needs one label"),
    ("meta:position=x", "scalar track without labels"),
    ("words:(,zebra", "'zebra' is not a token"),
    ("regex:(", "not a valid regular expression"),
])
def test_bad_features_name_the_value(client, feature, fragment):
    detail = problem(client.get(f"{BASE}/correlation", params={"source": SRC,
                                                              "feature": feature}), 400)
    assert fragment in detail


def direct_top(x, offsets, limit, left, right):
    seq = np.searchsorted(offsets, np.arange(x.size), side="right") - 1
    chosen = []
    while len(chosen) < limit:
        ok = [t for t in range(x.size) if not np.isnan(x[t]) and not any(
            seq[p] == seq[t] and p - left <= t <= p + right for p in chosen)]
        if not ok:
            break
        chosen.append(max(ok, key=lambda t: (x[t], -t)))
    return chosen


def test_top_contexts(client, parens, h):
    r = client.get(f"{BASE}/cells/2/top", params={"source": SRC, "limit": 6, "left": 3,
                                                 "right": 5})
    assert r.status_code == 200, r.text
    windows = r.json()["windows"]
    offsets = parens.sequence_offsets
    assert [w["pos"] for w in windows] == direct_top(h[:, 2], offsets, 6, 3, 5)
    for w in windows:
        first, last = parens.sequence_bounds(w["pos"])
        assert (w["start"], w["end"]) == (max(first, w["pos"] - 3), min(last, w["pos"] + 5))
        assert w["tokens"] == parens.token_text(w["start"], w["end"])
        np.testing.assert_allclose(w["values"], h[w["start"] : w["end"] + 1, 2], rtol=1e-6)
        assert w["value"] == pytest.approx(h[w["pos"], 2], rel=1e-6)


@pytest.mark.parametrize("all_cells", [True, False], ids=["one-pass-all-cells", "one-column"])
def test_words_expected_response(client, parens, h, all_cells, monkeypatch):
    from hiddenscope.server.api import features as api_features

    if not all_cells:  # as for a large vocabulary: this cell alone, from its column
        monkeypatch.setattr(api_features, "WORDS_ALL_CELLS", 0)
    r = client.get(f"{BASE}/cells/1/words", params={"source": SRC, "limit": 3, "min_count": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    starts = set(parens.sequence_offsets[:-1].tolist())
    sums, counts = Counter(), Counter()
    for t, w in enumerate(parens.tokens.tolist()):
        sums[w] += h[t, 1] - (0.0 if t in starts else h[t - 1, 1])
        counts[w] += 1
    mean = {parens.vocab_array[w]: sums[w] / counts[w] for w in counts if counts[w] >= 5}
    pos = sorted((v, k) for k, v in mean.items() if v > 0)[::-1][:3]
    neg = sorted((v, k) for k, v in mean.items() if v < 0)[:3]
    assert [row["word"] for row in body["positive"]] == [k for _, k in pos]
    assert [row["word"] for row in body["negative"]] == [k for _, k in neg]
    for row in body["positive"] + body["negative"]:
        assert row["response"] == pytest.approx(mean[row["word"]], rel=1e-9)


def test_cell_labels_against_every_threshold(client, parens, h):
    r = client.get(f"{BASE}/cells/2/labels", params={"source": SRC, "limit": 3})
    assert r.status_code == 200, r.text
    rows = r.json()["labels"]
    depth = depth_ids(parens)
    labels = parens.meta["depth"].labels
    v = h[:, 2]

    def f1(on, y):
        return 2 * (on & y).sum() / (on.sum() + y.sum())

    gains = {}
    for i, label in enumerate(labels):  # every threshold at a value the cell takes
        y = depth == i
        if 0 < y.sum() < len(y):
            best = max(max(f1(v >= t, y), f1(v <= t, y)) for t in np.unique(v))
            gains[label] = (best - 2 * y.mean() / (1 + y.mean()), best)
    want = sorted(gains, key=lambda k: -gains[k][0])[:3]
    assert [row["label"] for row in rows] == want
    for row in rows:
        assert row["track"] == "depth" and row["f1"] == pytest.approx(gains[row["label"]][1])
        y = depth == labels.index(row["label"])
        on = v >= row["threshold"] if row["sign"] == "+" else v <= row["threshold"]
        assert f1(on, y) == pytest.approx(row["f1"])


@pytest.mark.parametrize("path", ["/cells/24/top", "/cells/24/words", "/cells/24/labels"])
def test_a_cell_out_of_range(client, path):
    assert "cell 24 is out of range" in problem(client.get(f"{BASE}{path}",
                                                           params={"source": SRC}), 400)


def test_match_summary_over_all_candidates(client, parens, h):
    params = {"source": SRC, "cells": "0,1,2,3", "threshold": 0.3, "limit": 5,
              "meta": "depth,position", "summary": "true"}
    r = client.get(f"{BASE}/match", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    summary = body["summary"]
    src = parens.sources[SRC]
    found = SourceEngine(src).candidates(MatchQuery((0, 1, 2, 3), 0.3))  # tested on the oracle
    a, b = found.start, found.end
    assert a.size == body["candidates"]
    assert summary["lengths"] == [[int(k), int(v)] for k, v in
                                  sorted(Counter((b - a + 1).tolist()).items())]
    texts = Counter(" ".join(parens.token_text(s, e)) for s, e in zip(a, b, strict=True))
    assert [p["count"] for p in summary["phrases"]] == sorted(texts.values(), reverse=True)[:20]
    assert all(texts[p["text"]] == p["count"] for p in summary["phrases"])
    ids = depth_ids(parens)
    steps = np.concatenate([np.arange(s, e + 1) for s, e in zip(a, b, strict=True)])
    rows = {row["label"]: row for row in summary["meta"]["depth"]}
    for i, label in enumerate(parens.meta["depth"].labels):
        inside, overall = np.mean(ids[steps] == i), np.mean(ids == i)
        assert rows[label]["in_matches"] == pytest.approx(inside)
        assert rows[label]["ratio"] == pytest.approx(inside / overall)
    assert summary["meta"]["position"][0]["label"] == "mean"
    plain = client.get(f"{BASE}/match", params={**params, "summary": "false"}).json()
    assert "summary" not in plain and plain["matches"] == body["matches"]


def test_top_contexts_from_a_fresh_index_are_the_same(tmp_path):
    """With the match index fresh, top windows come from the cell's codes plus a few exact
    reads; the answer equals the rule applied to the whole column."""
    from hiddenscope.server.api import create_app
    from hiddenscope.server.store import Catalog
    from hiddenscope.server.store.synthetic import write_dataset

    write_dataset(tmp_path / "p", T=3000, D=8, layers=1, kinds=("cell",), sequences=3)
    app = create_app([tmp_path], catalog=Catalog([tmp_path]), hosts=TEST_HOSTS)
    try:
        ds = app.catalog.entries["p"].dataset
        app.handlers.workspace.build(ds, SRC)
        engine = app.handlers.engine(ds, ds.sources[SRC])
        assert engine.index_state() == "fresh"
        src = ds.sources[SRC]
        x = apply_transform(src.read_rows(0, src.shape[0]), src.transform).astype(np.float64)
        client = app.test_client()

        def no_column(*args):
            raise AssertionError("the whole column was read although the index is fresh")

        app.handlers._column = no_column
        for cell, limit, left, right in [(0, 7, 2, 3), (5, 4, 0, 0), (3, 10, 8, 1)]:
            body = client.get(f"/api/v1/datasets/p/cells/{cell}/top", params={
                "source": SRC, "limit": limit, "left": left, "right": right}).json()
            want = direct_top(x[:, cell], ds.sequence_offsets, limit, left, right)
            assert [w["pos"] for w in body["windows"]] == want
            for w in body["windows"]:
                np.testing.assert_allclose(w["values"], x[w["start"] : w["end"] + 1, cell],
                                           rtol=1e-6)
    finally:
        app.handlers.workspace.stop(timeout=30)
        app.catalog.close()
