"""GET /datasets/{dataset}/context: tokens, transformed states, on-counts, meta values, errors."""

from __future__ import annotations

import numpy as np
import pytest
from api_helpers import problem

URL = "/api/v1/datasets/parens/context"


def get(client, **params):
    response = client.get(URL, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_all_cells_window(client, parens):
    body = get(client, source="layer0-cell", pos=100, left=10, right=40)
    assert (body["pos"], body["start"], body["end"]) == (100, 90, 140)
    assert body["cells"] == list(range(24)) and body["on_count"] is None
    raw = parens.sources["layer0-cell"].read_rows(90, 141)
    assert np.allclose(np.array(body["states"]), np.tanh(raw).T, atol=1e-6)
    assert body["tokens"] == parens.token_text(90, 140)
    assert body["token_ids"] == parens.tokens[90:141].tolist()
    assert body["threshold"] == 0.3 and body["meta"] == {}


def test_given_cells_and_on_count(client, parens):
    body = get(
        client, source="layer1-hidden", pos=500, left=3, right=4, cells="5,2,2", threshold=0.1
    )
    assert body["cells"] == [2, 5]
    raw = parens.sources["layer1-hidden"].read_rows(497, 505)[:, [2, 5]]  # transform: none
    assert np.allclose(np.array(body["states"]), raw.T, atol=1e-6)
    assert body["on_count"] == (raw.astype(np.float64) >= 0.1).sum(1).tolist()


def test_window_is_clipped_and_marks_sequence_starts(client, parens):
    assert get(client, source="layer0-cell", pos=2, left=10, right=1)["start"] == 0
    assert get(client, source="layer0-cell", pos=1999, left=1, right=40)["end"] == 1999
    second = int(parens.sequence_offsets[1])
    body = get(client, source="layer0-cell", pos=second, left=5, right=5)
    assert body["sequence_starts"] == [second]


def test_meta_values_of_each_kind(client, parens):
    body = get(client, source="layer0-cell", pos=10, left=0, right=2, meta="depth,position,next")
    depth, position, nxt = (body["meta"][k] for k in ("depth", "position", "next"))
    assert depth["kind"] == "categorical" and depth["labels"][0] == "depth 0"
    assert depth["values"] == parens.meta["depth"].window(10, 12)["values"].tolist()
    assert (
        position["kind"] == "scalar"
        and position["range"] == [0.0, 1.0]
        and len(position["values"]) == 3
    )
    assert nxt["kind"] == "topk" and len(nxt["ids"]) == 3 and len(nxt["ids"][0]) == 3
    assert len(nxt["tokens"][0]) == 3 and len(nxt["probs"][0]) == 3


def test_lstmvis_source_ids_work_in_urls(client):
    response = client.get(
        "/api/v1/datasets/toy/context",
        params={"source": "states::states1", "pos": 5, "cells": "0,1", "meta": "pos,preds,freq"},
    )
    body = response.json()
    assert response.status_code == 200 and len(body["states"]) == 2
    assert set(body["meta"]) == {"pos", "preds", "freq"}


@pytest.mark.parametrize(
    "params, status, expected",
    [
        (
            {"pos": 99999},
            400,
            "pos 99999 is out of range; data set 'parens' has 2,000 steps (0..1999)",
        ),
        ({"pos": -1}, 400, "pos -1 is below the minimum"),
        ({"pos": "x"}, 400, "pos 'x' is not a whole number"),
        ({"pos": 5, "left": 501}, 400, "left 501 is over the bound: left may be at most 500"),
        ({"pos": 5, "right": 9999}, 400, "right 9999 is over the bound: right may be at most 500"),
        (
            {"pos": 5, "cells": "700"},
            400,
            "cells: 700 is out of range; this source has 24 cells (0..23)",
        ),
        ({"pos": 5, "cells": "1,abc"}, 400, "cells 'abc' is not a whole number"),
        ({"pos": 5, "cells": ",".join(["1"] * 4097)}, 400, "over the bound of 4096"),
        ({"pos": 5, "threshold": "abc"}, 400, "threshold 'abc' is not a number"),
        ({"pos": 5, "threshold": "nan"}, 400, "threshold: nan is not a finite number"),
        ({"pos": 5, "threshold": "-inf"}, 400, "threshold: -inf is not a finite number"),
        ({"pos": 5, "meta": "color"}, 400, "meta 'color' is not a meta track of data set 'parens'"),
        ({"pos": 5, "treshold": 0.5}, 400, "unknown query parameter 'treshold'"),
        ({"pos": 5, "source": "layer7"}, 404, "'layer7' does not exist; known: layer0-cell"),
    ],
)
def test_bad_parameters_name_the_value(client, params, status, expected):
    params = {"source": "layer0-cell", **params}
    detail = problem(client.get(URL, params=params), status)
    assert expected in detail


def test_missing_source_is_named(client):
    assert "'source' is missing" in problem(client.get(URL, params={"pos": 1}), 400)
