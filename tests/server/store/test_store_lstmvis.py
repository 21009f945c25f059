"""LSTMVis folders (lstm.yml, 1-based .dict ids, chunked tables, wordvec and per-word meta)
load unchanged."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import yaml
from hiddenscope.server.store import DatasetError, check_dataset, open_dataset
from hiddenscope.server.store.arrays import read_vocabulary


def test_lstmvis_folder_loads_unchanged(lstmvis_folder):
    ds = open_dataset(lstmvis_folder)
    assert ds.id == "toy" and ds.name == "LSTMVis toy" and ds.config.is_lstmvis
    assert list(ds.sources) == ["states::states1", "states::output1"]
    with h5py.File(lstmvis_folder / "train.h5", "r") as f:
        words = f["words"][()]
    assert np.array_equal(ds.tokens, words)
    vocab = (lstmvis_folder / "words.dict").read_text().split()
    assert ds.token_text(0, 2) == [vocab[2 * (i - 1)] for i in words[:3]]
    assert ds.sequences == 1 and ds.regex_search
    ds.close()


def test_sources_keep_transform_layer_and_read_chunked_data(lstmvis_folder):
    ds = open_dataset(lstmvis_folder)
    cell, out = ds.sources["states::states1"], ds.sources["states::output1"]
    assert (cell.transform, out.transform) == ("tanh", "none")  # lstm.yml default is tanh
    assert not cell.direct  # gzip-chunked: read through h5py
    with h5py.File(lstmvis_folder / "states.h5", "r") as f:
        assert np.array_equal(cell.read_rows(5, 9), f["states1"][5:9])
        assert out.read_rows(0, 2).dtype == np.float32
        assert np.allclose(out.read_rows(0, 2), f["output1"][0:2])
    assert cell.summary()["label"] == "layer 1 state" and cell.summary()["layer"] == 1
    ds.close()


def test_meta_tracks_of_every_lstmvis_kind(lstmvis_folder):
    ds = open_dataset(lstmvis_folder)
    pos = ds.meta["pos"].window(0, 3)
    assert pos["kind"] == "categorical" and pos["labels"] == ["DET", "NOUN", "VERB", "ADP"]
    preds = ds.meta["preds"].window(0, 1)
    with h5py.File(lstmvis_folder / "topk.h5", "r") as f:
        assert preds["ids"].tolist() == f["preds"][0:2].astype(int).tolist()
        assert np.allclose(preds["probs"], f["scores"][0:2])
    assert preds["tokens"][0][0] == ds.vocab[int(preds["ids"][0][0])]
    freq = ds.meta["freq"].window(0, 4)  # per-word values, indexed by the token id
    with h5py.File(lstmvis_folder / "freq.h5", "r") as f:
        assert np.allclose(freq["values"], f["freq"][()][ds.tokens[0:5]])
    assert freq["range"] == [0.0, 1.0]
    ds.close()


def test_states_shorter_than_words_are_served_with_a_warning(make_lstmvis_folder):
    folder = make_lstmvis_folder("short", T=300, states_steps=256)
    dataset, problems = check_dataset(folder)
    assert dataset.length == 256 and dataset.sources["states::states1"].shape == (256, 8)
    assert any("has 256 steps, 44 fewer than the tokens" in str(w) for w in problems.warnings)


def test_dict_format_details(tmp_path):
    path = tmp_path / "chars.dict"
    path.write_text("a 1\n 2\nb 3\nbroken line here\n\n<space> 4\n")
    assert read_vocabulary(path) == [None, "a", " ", "b", "<space>"]


def test_unknown_word_id_is_named(lstmvis_folder):
    with h5py.File(lstmvis_folder / "train.h5", "a") as f:
        words = f["words"][()]
        words[7] = 42
        del f["words"]
        f["words"] = words
    with pytest.raises(DatasetError, match=r"word_sequence.dict_file: token ids \[42\]"):
        open_dataset(lstmvis_folder)


def test_meta_label_missing_from_dict_is_named(lstmvis_folder):
    (lstmvis_folder / "pos.dict").write_text("DET 0\nNOUN 1\n")
    with pytest.raises(DatasetError, match=r"meta.pos.dict: ids \[2, 3\] of 'pos' have no label"):
        open_dataset(lstmvis_folder)


def test_numeric_vis_ranges(lstmvis_folder):
    config = yaml.safe_load((lstmvis_folder / "lstm.yml").read_text())
    config["meta"]["freq"]["vis"]["range"] = [0.25, 2]
    (lstmvis_folder / "lstm.yml").write_text(yaml.safe_dump(config))
    ds = open_dataset(lstmvis_folder)
    assert ds.meta["freq"].summary()["range"] == [0.25, 2.0]
    ds.close()


def test_categorical_track_without_dict_labels_its_ids(lstmvis_folder):
    config = yaml.safe_load((lstmvis_folder / "lstm.yml").read_text())
    del config["meta"]["pos"]["dict"]
    config["meta"]["pos"]["vis"] = {"type": "discrete"}
    (lstmvis_folder / "lstm.yml").write_text(yaml.safe_dump(config))
    ds = open_dataset(lstmvis_folder)
    assert ds.meta["pos"].summary()["labels"] == ["0", "1", "2", "3"]
    ds.close()
