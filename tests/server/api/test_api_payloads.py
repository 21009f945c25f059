"""numpy values serialise: arrays of any layout and numpy scalars; NaN becomes null."""

from __future__ import annotations

import json

import numpy as np
from hiddenscope.server.api.payloads import json_response, jsonifier


def test_json_response_encodes_numpy_values():
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    body = json.loads(
        json_response(
            {
                "transposed": values.T,
                "half": np.float16(1.5),
                "flag": np.bool_(True),
                "nan": np.array([np.nan, 0.25]),
                "count": np.int64(3),
                "ids": np.arange(3, dtype=np.int32),
            }
        ).get_data()
    )
    assert body == {
        "transposed": [[0, 3], [1, 4], [2, 5]],
        "half": 1.5,
        "flag": True,
        "nan": [None, 0.25],
        "count": 3,
        "ids": [0, 1, 2],
    }


def test_float32_values_keep_their_shortest_form():
    assert json_response({"v": np.array([0.3], np.float32)}).get_data() == b'{"v":[0.3]}'


def test_connexion_jsonifier_handles_numpy():
    assert json.loads(jsonifier().dumps({"a": np.arange(2), "b": np.float64(0.5)})) == {
        "a": [0, 1],
        "b": 0.5,
    }
