"""GET select and match: the engine's answers, windows around matches, errors."""

from __future__ import annotations

import numpy as np
import pytest
from api_helpers import problem
from hiddenscope.server.engine import MatchQuery, SelectQuery, SourceEngine

BASE = "/api/v1/datasets/parens"


@pytest.fixture(scope="module")
def engine(parens):
    return SourceEngine(parens.sources["layer0-cell"])  # no index: the exact scan


def test_select_is_the_engines_selection(client, engine):
    params = {"source": "layer0-cell", "start": 200, "end": 204, "threshold": 0.4, "pad_left": 1}
    body = client.get(f"{BASE}/select", params=params).json()
    assert body["cells"] == engine.select(SelectQuery(200, 204, 0.4, 1, 0)).tolist()
    assert body == {
        **body,
        "start": 200,
        "end": 204,
        "threshold": 0.4,
        "pad_left": 1,
        "pad_right": 0,
    }


def test_select_across_a_sequence_boundary_names_both_sequences(client, parens):
    o = parens.sequence_offsets
    detail = problem(
        client.get(
            f"{BASE}/select",
            params={"source": "layer0-cell", "start": int(o[1]) - 1, "end": int(o[1])},
        ),
        400,
    )
    assert f"sequence {o[0]}..{o[1] - 1}" in detail and f"{o[1]}..{o[2] - 1}" in detail


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"start": 10, "end": 5}, "end: 5 is before start 10"),
        ({"start": 10, "end": 5000}, "end: 5000 is out of range"),
        ({"start": 1, "end": 2, "pad_left": 1001}, "pad_left 1001 is over the bound"),
    ],
)
def test_select_errors(client, params, expected):
    assert expected in problem(
        client.get(f"{BASE}/select", params={"source": "layer0-cell", **params}), 400
    )


def test_match_is_the_engines_ranking_with_windows(client, engine, parens):
    params = {
        "source": "layer0-cell",
        "cells": "2,0,1,1",
        "threshold": 0.3,
        "limit": 7,
        "left": 3,
        "right": 20,
        "meta": "depth",
    }
    body = client.get(f"{BASE}/match", params=params).json()
    expected = engine.match(MatchQuery([0, 1, 2], 0.3, limit=7))
    assert body["cells"] == [0, 1, 2] and body["candidates"] == expected.candidates
    assert body["max_len"] is None and body["min_overlap"] == 1 and body["limit"] == 7
    got = [
        (m["start"], m["end"], m["length"], m["overlap"], m["union"], m["extra"])
        for m in body["matches"]
    ]
    assert got == [
        (m.start, m.end, m.length, m.overlap, m.union, m.extra) for m in expected.matches
    ]
    for m in body["matches"]:
        first, last = parens.sequence_bounds(m["start"])
        a, b = max(first, m["start"] - 3), min(last, m["end"] + 20, m["start"] + 400)
        assert (m["window_start"], m["window_end"]) == (a, b)
        assert m["tokens"] == parens.token_text(a, b)
        assert m["on_count"] == engine.on_count([0, 1, 2], 0.3, a, b).tolist()
        assert len(m["meta"]["depth"]["values"]) == b - a + 1


def test_match_window_is_cut_at_400_steps(client):
    body = client.get(
        f"{BASE}/match",
        params={"source": "layer0-cell", "cells": "0", "threshold": -2, "limit": 1, "right": 100},
    ).json()
    m = body["matches"][0]  # every step is on: the match is a whole sequence (> 400 steps)
    assert m["length"] > 400 and m["window_end"] == m["start"] + 400


@pytest.mark.parametrize(
    "params, status, expected",
    [
        ({"cells": "0", "min_len": 5, "max_len": 2}, 400, "max_len: 2 is below min_len 5"),
        (
            {"cells": "24"},
            400,
            "cells: 24 is out of range; this source has 24 cells (0..23)",
        ),
        ({"cells": ""}, 400, "cells is empty"),
        (
            {"cells": "0", "limit": 501},
            400,
            "limit 501 is over the bound: limit may be at most 500",
        ),
        ({"cells": "0", "left": 101}, 400, "left 101 is over the bound: left may be at most 100"),
        ({"cells": "0", "min_overlap": 0}, 400, "min_overlap 0 is below the minimum"),
        ({"cells": "0", "source": "nope"}, 404, "'nope' does not exist"),
    ],
)
def test_match_errors(client, params, status, expected):
    params = {"source": "layer0-cell", **params}
    assert expected in problem(client.get(f"{BASE}/match", params=params), status)


def test_match_never_builds_the_index(app, client, parens):
    """A request scans until the workspace's background build has made the index fresh."""
    assert client.get(f"{BASE}/match", params={"source": "layer1-cell", "cells": "0,1"}).is_success
    assert not app.handlers.workspace.index_files(parens, "layer1-cell").folder.exists()
    assert app.handlers.engine(parens, parens.sources["layer1-cell"]).index_state() == "missing"


def test_cell_stats(client, parens):
    body = client.get(f"{BASE}/cells/3", params={"source": "layer0-cell"}).json()
    column = np.tanh(parens.sources["layer0-cell"].read_rows(0, 2000)[:, 3].astype(np.float64))
    assert body["cell"] == 3 and body["nan"] == 0
    assert body["min"] == pytest.approx(column.min(), abs=1e-6)
    assert body["median"] == pytest.approx(np.median(column), abs=1e-5)
    assert body["percentiles"]["25"] == pytest.approx(np.percentile(column, 25), abs=1e-5)
    assert sum(body["histogram"]["counts"]) == 2000
    assert len(body["histogram"]["edges"]) == len(body["histogram"]["counts"]) + 1


def test_cell_stats_errors(client):
    detail = problem(client.get(f"{BASE}/cells/99", params={"source": "layer0-cell"}), 400)
    assert detail == "cell: 99 is out of range; this source has 24 cells (0..23)"
    # the route only matches whole numbers: anything else is no such path
    assert "no such path '/api/v1/datasets/parens/cells/x'" in problem(
        client.get(f"{BASE}/cells/x", params={"source": "layer0-cell"}), 404
    )


@pytest.mark.parametrize(
    "op, extra", [("select", {"start": 1, "end": 2}), ("match", {"cells": "0"})]
)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_threshold_must_be_finite_everywhere(client, op, extra, value):
    """One rule, one message, for select, match and context alike."""
    params = {"source": "layer0-cell", "threshold": value, **extra}
    detail = problem(client.get(f"{BASE}/{op}", params=params), 400)
    assert detail.startswith(f"threshold: {float(value)} is not a finite number")
