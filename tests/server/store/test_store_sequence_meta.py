"""Sequence-level tracks (`sequence_meta:`, store/meta.py): loaded when they hold one value per
sequence, refused with the key and the fix named otherwise (each bad case below)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hiddenscope.server.store import open_dataset
from hiddenscope.server.store.dataset import check_dataset
from hiddenscope.server.store.synthetic import write_dataset

N = 5


def with_sequence_meta(folder: Path, tables: dict, entries: dict, labels: dict | None = None):
    """Write ``tables`` (HDF5 path -> array) into data.h5, ``labels`` (name -> list) as JSON
    label files, and ``entries`` as the ``sequence_meta:`` section; return the folder."""
    with h5py.File(folder / "data.h5", "a") as f:
        for path, values in tables.items():
            f.create_dataset(path, data=values)
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    for name, values in (labels or {}).items():
        (folder / f"{name}.json").write_text(json.dumps(values))
        config["files"][name] = f"{name}.json"
    config["sequence_meta"] = entries
    (folder / "dataset.yml").write_text(yaml.safe_dump(config))
    return folder


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_dataset(tmp_path / "ds", T=80, D=4, layers=1, sequences=N)


def entry(path: str, **kw) -> dict:
    return {"file": "data", "path": path, **kw}


def errors_of(folder: Path) -> str:
    dataset, problems = check_dataset(folder)
    assert dataset is None, "the data set loaded, though it should have been refused"
    return "\n".join(str(e) for e in problems.errors)


def test_good_tracks_load_with_their_values(folder):
    gold = np.array([0, 1, 1, 0, 1], np.int32)
    conf = np.array([0.9, 0.2, np.nan, 0.7, 0.55], np.float32)
    raw = np.array([3, 0, 2, 2, 1], np.int64)
    with_sequence_meta(
        folder,
        {"sm/gold": gold, "sm/conf": conf, "sm/raw": raw},
        {"gold": entry("sm/gold", dict="gold_labels", vis={"type": "discrete"}),
         "conf": entry("sm/conf", vis={"type": "scalar", "range": [0.0, 1.0]}),
         "free": entry("sm/conf"),
         "raw": entry("sm/raw")},
        {"gold_labels": ["negative", "positive"]},
    )  # fmt: skip
    ds = open_dataset(folder)
    try:
        assert ds.sequences == N and set(ds.sequence_meta) == {"gold", "conf", "free", "raw"}
        g = ds.sequence_meta["gold"]
        assert g.summary() == {"id": "gold", "kind": "categorical",
                               "labels": ["negative", "positive"], "range": None}  # fmt: skip
        picked = g.values(np.array([4, 0]))
        assert picked["kind"] == "categorical" and picked["labels"] == ["negative", "positive"]
        assert picked["values"].tolist() == [int(gold[4]), int(gold[0])]
        assert g.data.tolist() == gold.tolist()
        c = ds.sequence_meta["conf"]
        assert c.kind == "scalar" and c.range == (0.0, 1.0)
        np.testing.assert_array_equal(c.values(np.arange(N))["values"], conf.astype(np.float64))
        # no vis: a float table is scalar, its range the finite values' (NaN left out)
        f = ds.sequence_meta["free"]
        assert f.kind == "scalar" and f.range == (float(np.float32(0.2)), float(np.float32(0.9)))
        # an integer table without a dict is categorical, labelled by its ids
        r = ds.sequence_meta["raw"]
        assert r.kind == "categorical" and r.labels == ["0", "1", "2", "3"]
        # sequences_between: the sequences that hold a step of the window, by the offsets
        o = ds.sequence_offsets
        for a, b in [(0, 0), (0, 79), (int(o[1]), int(o[1])), (int(o[2]) - 1, int(o[3]))]:
            want = [i for i in range(N) if o[i] <= b and o[i + 1] - 1 >= a]
            assert ds.sequences_between(a, b).tolist() == want
    finally:
        ds.close()


@pytest.mark.parametrize(
    "values, extra, named, says",
    [
        (np.zeros(N - 1, np.int32), {}, "sequence_meta.t.path", "4 values; there are 5 sequences"),
        (np.zeros(N + 1, np.int32), {}, "sequence_meta.t.path", "6 values; there are 5 sequences"),
        (np.zeros((N, 2), np.int32), {}, "sequence_meta.t.path", "a 1-D number table [N]"),
        (np.array([b"a"] * N), {}, "sequence_meta.t.path", "a 1-D number table [N]"),
        (np.array([0, 1, -1, 0, 1]), {}, "sequence_meta.t.path", "whole-number ids >= 0"),
        (np.array([0, 1.5, 0, 1, 0]), {"vis": {"type": "discrete"}}, "sequence_meta.t.path",
         "whole-number ids >= 0"),
        (np.array([0, 1, 0, 70_000, 0]), {}, "sequence_meta.t.path", "over the bound of 65,536"),
        (np.array([0, 1, 2, 0, 1]), {"dict": "labs"}, "sequence_meta.t.dict",
         "ids [2] of 'sm/t' have no label"),
    ],
)  # fmt: skip
def test_bad_tables_are_named(folder, values, extra, named, says):
    with_sequence_meta(folder, {"sm/t": values}, {"t": entry("sm/t", **extra)},
                       {"labs": ["a", "b"]})  # fmt: skip
    text = errors_of(folder)
    assert named in text and says in text, text


def test_a_missing_table_names_what_the_file_has(folder):
    with_sequence_meta(folder, {}, {"t": entry("sm/nothing")})
    text = errors_of(folder)
    assert "sequence_meta.t.path" in text and "'sm/nothing' is not a dataset" in text, text


def test_an_unreadable_label_list_is_named(folder):
    with_sequence_meta(folder, {"sm/t": np.zeros(N, np.int32)}, {"t": entry("sm/t", dict="labs")})
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    config["files"]["labs"] = "labs.json"
    (folder / "labs.json").write_text("{not json")
    (folder / "dataset.yml").write_text(yaml.safe_dump(config))
    text = errors_of(folder)
    assert "sequence_meta.t.dict" in text and "cannot be read as a label list" in text, text


def test_a_label_list_over_the_category_bound_is_named(folder):
    labels = [f"l{i}" for i in range(65_537)]
    with_sequence_meta(folder, {"sm/t": np.zeros(N, np.int32)}, {"t": entry("sm/t", dict="labs")},
                       {"labs": labels})  # fmt: skip
    text = errors_of(folder)
    assert "sequence_meta.t.dict" in text and "65,537 labels, over the bound" in text, text


def test_without_sequence_offsets_the_data_set_is_one_sequence(folder):
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    del config["word_sequence"]["sequences"]
    (folder / "dataset.yml").write_text(yaml.safe_dump(config))
    with_sequence_meta(folder, {"sm/t": np.array([0.25])}, {"t": entry("sm/t")})
    ds = open_dataset(folder)
    try:
        assert ds.sequences == 1 and ds.sequences_between(0, ds.length - 1).tolist() == [0]
        assert ds.sequence_meta["t"].values(np.array([0]))["values"].tolist() == [0.25]
    finally:
        ds.close()
