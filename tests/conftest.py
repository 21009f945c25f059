"""Shared fixtures: small generated data sets in the store format and in LSTMVis's format."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hiddenscope.server.store.synthetic import write_dataset

LSTMVIS_WORDS = ["<s>", "<unk>", "</s>", "the", "cat", "sat", "on", "mat", "a", "dog"]
LSTMVIS_POS = ["DET", "NOUN", "VERB", "ADP"]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A folder holding one generated data set, ``parens`` (T=2000, D=24, 4 sequences,
    sources layer{0,1}-{cell,hidden}, meta depth/position/next). Read-only for tests."""
    root = tmp_path_factory.mktemp("datasets")
    write_dataset(root / "parens", T=2000, D=24, sequences=4)
    return root


def write_lstmvis_folder(
    folder: Path, T: int = 300, D: int = 8, seed: int = 0, states_steps: int | None = None
) -> Path:
    """An LSTMVis project exactly as shared/reference/lstmvis.md §4 documents it.

    ``states.h5`` holds ``states1`` (cell, chunked + gzip, as h5py users often write) and
    ``output1`` (hidden, contiguous float64); ``train.h5`` a 1-based ``words`` table;
    ``words.dict`` ``token id`` lines; ``pos.h5``/``pos.dict`` a categorical track;
    ``topk.h5`` ``preds``/``scores`` (float ids, a wordvec track); ``freq.h5`` a
    per-vocabulary scalar (``index: word_sequence``). ``states_steps`` < T mimics
    preprocess.py dropping the tail.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = states_steps or T
    words = rng.integers(4, len(LSTMVIS_WORDS) + 1, size=T)  # 1-based ids, skipping <s> <unk> </s>
    with h5py.File(folder / "states.h5", "w") as f:
        f.create_dataset(
            "states1",
            data=rng.normal(0, 1.5, (n, D)).astype(np.float32),
            chunks=(64, D),
            compression="gzip",
        )
        f["output1"] = np.tanh(rng.normal(0, 1, (n, D)))  # float64
    with h5py.File(folder / "train.h5", "w") as f:
        f["words"] = words
    (folder / "words.dict").write_text(
        "".join(f"{w} {i}\n" for i, w in enumerate(LSTMVIS_WORDS, start=1))
    )
    with h5py.File(folder / "pos.h5", "w") as f:
        f["pos"] = rng.integers(0, len(LSTMVIS_POS), size=T)
    (folder / "pos.dict").write_text("".join(f"{p} {i}\n" for i, p in enumerate(LSTMVIS_POS)))
    with h5py.File(folder / "topk.h5", "w") as f:
        f["preds"] = rng.integers(1, len(LSTMVIS_WORDS) + 1, size=(T, 5)).astype(np.float64)
        f["scores"] = np.sort(rng.normal(-2, 1, (T, 5)), axis=1)[:, ::-1]
    with h5py.File(folder / "freq.h5", "w") as f:
        f["freq"] = rng.random(len(LSTMVIS_WORDS) + 1)
    config = {
        "name": "LSTMVis toy",
        "description": "A <b>hand-written</b> LSTMVis project",
        "files": {
            "states": "states.h5",
            "train": "train.h5",
            "words": "words.dict",
            "pos": "pos.h5",
            "pos_dict": "pos.dict",
            "topk": "topk.h5",
            "freq": "freq.h5",
        },
        "word_sequence": {"file": "train", "path": "words", "dict_file": "words"},
        "states": {
            "file": "states",
            "types": [
                {"type": "state", "layer": 1, "path": "states1"},
                {
                    "type": "output",
                    "layer": 1,
                    "path": "output1",
                    "transform": "none",
                    "unsigned": False,
                },
            ],
        },
        "meta": {
            "pos": {
                "file": "pos",
                "path": "pos",
                "dict": "pos_dict",
                "vis": {"type": "discrete", "range": "dict"},
            },
            "preds": {
                "file": "topk",
                "path": "preds",
                "type": "wordvec",
                "dict": "words",
                "weights_path": "scores",
                "vis": {"type": "wordvec"},
            },
            "freq": {
                "file": "freq",
                "path": "freq",
                "index": "word_sequence",
                "vis": {"type": "scalar", "range": "0...1"},
            },
        },
        "etc": {"regex_search": True},
    }
    (folder / "lstm.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


@pytest.fixture(scope="session")
def lstmvis_writer():
    """:func:`write_lstmvis_folder` itself, for fixtures of any scope."""
    return write_lstmvis_folder


@pytest.fixture
def make_lstmvis_folder(tmp_path):
    """``make(name, **options)`` writes an LSTMVis project under tmp_path (write_lstmvis_folder)."""
    return lambda name="toy", **options: write_lstmvis_folder(tmp_path / name, **options)


@pytest.fixture
def lstmvis_folder(make_lstmvis_folder) -> Path:
    """A fresh LSTMVis project folder ``toy``."""
    return make_lstmvis_folder()
