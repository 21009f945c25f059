"""Round trip through the store format; the StateSource contract; index folders."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from hiddenscope.server.engine import SourceEngine, StateSource, apply_transform
from hiddenscope.server.store import DatasetError, open_dataset
from hiddenscope.server.store.indexfiles import index_folder
from hiddenscope.server.store.synthetic import VOCAB, write_dataset


@pytest.fixture(scope="module")
def parens(synthetic_root):
    ds = open_dataset(synthetic_root / "parens")
    yield ds
    ds.close()


def test_round_trip_matches_the_written_file(parens, synthetic_root):
    with h5py.File(synthetic_root / "parens" / "data.h5", "r") as f:
        assert np.array_equal(parens.tokens, f["tokens"][()])
        assert np.array_equal(parens.sequence_offsets, f["sequences"][()])
        for sid, path in [
            ("layer0-cell", "states/layer0/cell"),
            ("layer1-hidden", "states/layer1/hidden"),
        ]:
            src = parens.sources[sid]
            assert src.direct
            assert np.array_equal(src.read_rows(100, 140), f[path][100:140])
            steps = np.array([0, 7, 1999])
            assert np.array_equal(src.read_steps(steps), f[path][[0, 7, 1999]])
        assert (
            parens.meta["depth"].window(5, 9)["values"].tolist() == f["meta/depth"][5:10].tolist()
        )
        topk = parens.meta["next"].window(0, 1)
        assert topk["ids"].tolist() == f["meta/next/ids"][0:2].tolist()
        assert topk["tokens"][0] == [VOCAB[i] for i in f["meta/next/ids"][0]]
        assert np.allclose(topk["probs"], f["meta/next/probs"][0:2])
    assert parens.token_text(0, 2) == [VOCAB[i] for i in parens.tokens[:3]]
    assert (parens.length, parens.sequences, parens.char_level) == (2000, 4, True)


def test_files_are_opened_read_only(parens):
    files = parens._files._open
    assert files and all(f.mode == "r" for f in files.values())
    fd = parens.sources["layer0-cell"]._array._fd  # the direct reader's own descriptor
    assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY


def test_direct_reads_equal_h5py(parens):
    src = parens.sources["layer0-cell"]
    with h5py.File(parens.folder / "data.h5", "r") as f:
        table = f["states/layer0/cell"][()]
    assert np.array_equal(src.read_rows(0, 2000), table)
    assert np.array_equal(src.read_rows(1990, 2500), table[1990:])  # clipped at T
    assert src.read_rows(7, 7).shape == (0, 24)
    steps = np.array([0, 1, 2, 9, 500, 501, 1999])
    assert np.array_equal(src.read_steps(steps), table[steps])
    assert src.read_steps(np.array([], dtype=np.int64)).shape == (0, 24)
    src.forget_rows(100, 900)  # the build's page-cache hint: the rows read back the same
    src.forget_rows(1990, 2500)
    src.forget_rows(7, 7)
    assert np.array_equal(src.read_rows(0, 2000), table)


def test_source_follows_the_engine_protocol(parens):
    src = parens.sources["layer0-cell"]
    assert isinstance(src, StateSource)
    assert src.shape == (2000, 24) and src.transform == "tanh"
    assert src.read_rows(0, 5).dtype == np.float32
    assert "data.h5" in src.fingerprint and "states/layer0/cell" in src.fingerprint
    assert src.summary() == {
        "id": "layer0-cell",
        "label": "layer 0 cell",
        "layer": 0,
        "kind": "cell",
        "direction": "forward",
        "shape": [2000, 24],
        "transform": "tanh",
        "unsigned": False,
    }


def test_meta_summaries(parens):
    assert parens.meta["depth"].summary()["labels"][:2] == ["depth 0", "depth 1"]
    assert parens.meta["position"].summary() == {
        "id": "position",
        "kind": "scalar",
        "labels": None,
        "range": [0.0, 1.0],
    }
    assert parens.meta["next"].summary()["kind"] == "topk"


def test_chunked_compressed_float64_tables_read_through_h5py(tmp_path):
    folder = write_dataset(tmp_path / "small", T=300, D=6, layers=1, kinds=("cell",))
    with h5py.File(folder / "data.h5", "a") as f:
        values = f["states/layer0/cell"][()]
        del f["states/layer0/cell"]
        f.create_dataset(
            "states/layer0/cell", data=values.astype(np.float64), chunks=(50, 6), compression="gzip"
        )
    ds = open_dataset(folder)
    src = ds.sources["layer0-cell"]
    assert not src.direct
    rows = src.read_rows(10, 20)
    assert rows.dtype == np.float32 and np.array_equal(rows, values[10:20])
    assert np.array_equal(src.read_steps(np.array([3, 250])), values[[3, 250]])
    src.forget_rows(0, 100)  # a hint only a contiguous table acts on
    assert np.array_equal(src.read_rows(0, 100), values[:100])
    ds.close()


def test_schema_version_is_checked(tmp_path):
    folder = write_dataset(tmp_path / "future", T=100, D=4, layers=1)
    with h5py.File(folder / "data.h5", "a") as f:
        f.attrs["hiddenscope_schema"] = 2
    with pytest.raises(DatasetError, match="hiddenscope_schema=2; this server reads version 1"):
        open_dataset(folder)


def test_states_shorter_than_tokens_is_an_error_in_dataset_yml(tmp_path):
    folder = write_dataset(tmp_path / "short", T=100, D=4, layers=1, kinds=("cell",))
    with h5py.File(folder / "data.h5", "a") as f:
        values = f["states/layer0/cell"][:90]
        del f["states/layer0/cell"]
        f["states/layer0/cell"] = values
    with pytest.raises(
        DatasetError, match="'states/layer0/cell' has 90 steps but there are 100 tokens"
    ):
        open_dataset(folder)


def test_token_ids_outside_the_vocabulary_are_named(tmp_path):
    folder = write_dataset(tmp_path / "vocab", T=100, D=4, layers=1)
    (folder / "vocab.json").write_text('["(", ")", "0"]')
    with pytest.raises(
        DatasetError, match=r"token ids \[3, 4, 5, 6\].*have no entry in vocab.json"
    ):
        open_dataset(folder)


def test_transform_really_applies(parens):
    src = parens.sources["layer0-cell"]
    engine = SourceEngine(src)
    raw = src.read_rows(0, 10)
    assert np.allclose(engine.values(0, 9), np.tanh(raw).T)
    assert np.array_equal(apply_transform(raw, "none"), raw)


def test_index_dir_inside_the_folder_when_writable(parens):
    where = index_folder(parens.folder, parens.id, "layer0-cell")
    digest = hashlib.sha1(b"layer0-cell").hexdigest()[:8]
    assert where == parens.folder / ".index" / f"layer0-cell-{digest}"
    digest = hashlib.sha1(b"states::states1").hexdigest()[:8]
    assert index_folder(parens.folder, parens.id, "states::states1").name == (
        f"states_states1-{digest}"
    )


def test_index_dirs_of_ids_that_sanitise_alike_differ(parens):
    # "a/b" and "a_b" both become "a_b": without the hash they shared one index folder
    ids = ["a/b", "a_b", "a:b", "a b", "/a_b", "..a_b"]
    folders = {index_folder(parens.folder, parens.id, i) for i in ids}
    assert len(folders) == len(ids)
    assert all(f.parent == parens.folder / ".index" for f in folders)
    assert index_folder(parens.folder, parens.id, "a/b") == index_folder(
        parens.folder, parens.id, "a/b"
    )


def test_index_dir_falls_back_to_the_cache(parens, tmp_path, monkeypatch):
    # the machine may run tests as root, who can write anywhere: pretend the folder is read-only
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: False if Path(p).is_relative_to(parens.folder) else real_access(p, mode),
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    where = index_folder(parens.folder, parens.id, "layer0-cell")
    assert where.parent.parent == tmp_path / "cache" / "hiddenscope"
    assert where.parent.name.startswith("parens-")
