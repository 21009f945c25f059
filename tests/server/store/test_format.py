"""The store format has one writer: the extractor's DatasetWriter and the synthetic data set
both write through server/store/format.py, and the store reads back what was written."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import yaml
from hiddenscope.server.store import format as fmt
from hiddenscope.server.store import open_dataset
from hiddenscope.server.store.synthetic import write_dataset


def _layout(folder) -> dict:
    """Every HDF5 object: (shape, dtype, contiguous and unfiltered), plus the schema attribute."""
    out = {}
    with h5py.File(folder / fmt.DATA_FILE, "r") as f:
        out["schema"] = int(f.attrs[fmt.SCHEMA_ATTR])

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                direct = obj.chunks is None and not obj.compression
                out[name] = (obj.shape, obj.dtype.str, direct)

        f.visititems(visit)
    return out


def _shape_of_config(config: dict) -> dict:
    """The keys used at each level (values differ between two data sets, keys must not)."""
    return {
        "top": sorted(config),
        "files": sorted(k for k in config["files"] if not k.endswith("_labels")),
        "word_sequence": config["word_sequence"],
        "source_keys": sorted({k for t in config["states"]["types"] for k in t}),
        "next": config["meta"].get("next"),
    }


def test_round_trip_through_the_store(tmp_path):
    T, D = 300, 5
    folder = write_dataset(tmp_path / "syn", T=T, D=D, layers=1, sequences=3)
    config = yaml.safe_load((folder / fmt.CONFIG_FILE).read_text())
    assert [t["unsigned"] for t in config["states"]["types"]] == [False, False]
    assert not (folder / fmt.STAGING).exists()
    ds = open_dataset(folder)
    with h5py.File(folder / fmt.DATA_FILE, "r") as f:
        raw = f["states/layer0/cell"][()]
        tokens = f[fmt.TOKENS][()]
    assert ds.length == T and ds.sequences == 3
    np.testing.assert_array_equal(ds.tokens, tokens)
    src = ds.sources["layer0-cell"]
    np.testing.assert_array_equal(src.read_rows(0, T), raw)
    assert src.direct  # contiguous, read with pread
    assert src.transform == "tanh" and ds.sources["layer0-hidden"].transform == "none"
    ds.close()


def test_extractor_and_synthetic_write_the_same_format(tmp_path):
    pytest.importorskip("torch")
    from hiddenscope.extract.recurrent import StateKey
    from hiddenscope.extract.writer import DatasetWriter, Track

    T, D = 120, 4
    syn = write_dataset(tmp_path / "syn", T=T, D=D, layers=1, sequences=2)
    offsets = np.array([0, 70, T], np.int64)
    keys = [(StateKey(0, "forward", "cell"), D), (StateKey(0, "forward", "hidden"), D)]
    writer = DatasetWriter(tmp_path / "ext", offsets, keys, [Track("depth", "categorical"),
                                                            Track("position", "scalar")],
                           ["(", ")"], top_k=3)
    rng = np.random.default_rng(0)
    for key, _ in keys:
        writer.write(key.path, 0, rng.standard_normal((T, D)).astype(np.float32))
    writer.write(fmt.TOKENS, 0, rng.integers(0, 2, T).astype(np.int32))
    writer.write("meta/depth", 0, writer.tracks[0].encode(["a", "b"] * (T // 2)))
    writer.write("meta/position", 0, np.linspace(0, 1, T).astype(np.float32))
    writer.write(fmt.NEXT_IDS, 0, np.zeros((T, 3), np.int32))
    writer.write(fmt.NEXT_PROBS, 0, np.full((T, 3), 1 / 3, np.float32))
    ext = writer.commit("ext", "extracted")

    a, b = _layout(syn), _layout(ext)
    assert a["schema"] == b["schema"] == fmt.SCHEMA_VERSION
    for name in set(a) & set(b) - {"schema"}:
        got_a, got_b = a[name], b[name]
        assert got_a[1:] == got_b[1:], name  # dtype and contiguity; shapes follow T and D
    assert set(a) == set(b)  # the same tables (depth, position, next, two sources)
    ca = yaml.safe_load((syn / fmt.CONFIG_FILE).read_text())
    cb = yaml.safe_load((ext / fmt.CONFIG_FILE).read_text())
    assert _shape_of_config(ca) == _shape_of_config(cb)
    assert ca["states"]["types"][0]["path"] == cb["states"]["types"][0]["path"]
    for folder in (syn, ext):  # the store loads both
        open_dataset(folder).close()


def test_ensure_dataset_writes_once_per_parameters(tmp_path, monkeypatch):
    """A shared benchmark folder is written again when a parameter changes, not when only
    the progress bar does."""
    from hiddenscope.server.store import synthetic

    written = []
    real = synthetic.write_dataset
    monkeypatch.setattr(synthetic, "write_dataset",
                        lambda folder, **p: written.append(p) or real(folder, **p))
    params = {"T": 40, "D": 3, "layers": 1, "kinds": ("cell",), "sequences": 2}
    synthetic.ensure_dataset(tmp_path / "d", **params, progress=False)
    synthetic.ensure_dataset(tmp_path / "d", **params, progress=True)
    assert len(written) == 1
    synthetic.ensure_dataset(tmp_path / "d", **{**params, "D": 4})
    assert len(written) == 2 and written[1]["D"] == 4
