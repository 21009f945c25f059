"""The `model:` and `sequence_meta:` sections (store/models.py), torch-free: every bad value
is named, files stay inside the folder, and a pickle is read without being run."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import yaml
from hiddenscope.server.store.config import parse_config
from hiddenscope.server.store.models import UnsafeModelFile, check_weights_file
from hiddenscope.server.store.synthetic import write_dataset


def tensors_only_archive(path: Path) -> Path:
    """What torch.save writes for a state dict, built by hand: a zip with <name>/data.pkl
    whose pickle names only OrderedDict and the tensor rebuild function."""
    body = (
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00wq\x02"
        b"ctorch._utils\n_rebuild_tensor_v2\nq\x03}q\x04\x86q\x05s."
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{path.stem}/data.pkl", body)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = write_dataset(tmp_path / "ds", T=60, D=4, layers=1, sequences=3)
    (folder / "models").mkdir()
    tensors_only_archive(folder / "models" / "a.pt")
    tensors_only_archive(folder / "models" / "b.pt")
    return folder


def with_model(folder: Path, model: dict, sequence_meta: dict | None = None):
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    config["model"] = model
    if sequence_meta is not None:
        config["sequence_meta"] = sequence_meta
    (folder / "dataset.yml").write_text(yaml.safe_dump(config))
    return parse_config(folder / "dataset.yml")


def checkpoint(**kw) -> dict:
    return {"id": "a", "file": "models/a.pt", "architecture": "sequence-classifier", **kw}


def errors(problems) -> str:
    return "\n".join(str(e) for e in problems.errors)


def test_a_valid_model_section(folder):
    config, problems = with_model(folder, {
        "task": "classifier", "classes": ["neg", "pos"], "lowercase": True, "unk": "<unk>",
        "extracted": "b", "checkpoints": [checkpoint(step=5, model="lstm", config={"hidden": 4}),
                                          checkpoint(id="b", file="models/b.pt")],
    })  # fmt: skip
    assert config is not None, errors(problems)
    m = config.model
    assert m.classes == ("neg", "pos") and m.tokenizer == "words" and m.lowercase
    assert [c.id for c in m.checkpoints] == ["a", "b"] and m.checkpoints[0].step == 5
    assert m.checkpoints[0].file == (folder / "models" / "a.pt").resolve()
    assert m.checkpoint(None).id == "b" and m.checkpoint("a").id == "a"
    assert m.checkpoint("z") is None


@pytest.mark.parametrize(
    "model, named",
    [
        ({"classes": ["x"], "checkpoints": [checkpoint()]}, "model.classes"),
        ({"classes": ["n", "p"], "checkpoints": []}, "model.checkpoints"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(file="../ds/models/a.pt")]}, None),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(file="/etc/passwd")]}, "outside"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(file="models/none.pt")]}, "not exist"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(format="pickle")]}, "format"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(architecture=None)]}, "architecture"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(), checkpoint()]}, "used twice"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint()], "extracted": "q"}, "'q'"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(config={"a": [1]})]}, "config"),
        ({"classes": ["n", "p"], "checkpoints": [checkpoint(pickle=True)]}, "unknown key"),
        ({"classes": ["n", "p"], "tokenizer": "bpe", "checkpoints": [checkpoint()]}, "tokenizer"),
    ],
)
def test_bad_model_sections_are_named(folder, model, named):
    config, problems = with_model(folder, model)
    if named is None:  # '../ds/...' resolves back inside the folder: allowed
        assert config is not None, errors(problems)
        return
    assert config is None and named in errors(problems)


def test_sequence_meta_section(folder):
    config, problems = with_model(
        folder,
        {"classes": ["n", "p"], "checkpoints": [checkpoint()]},
        {"gold": {"file": "data", "path": "sequence_meta/gold", "vis": {"type": "discrete"}},
         "conf": {"file": "data", "path": "sequence_meta/conf", "vis": {"range": [0, 1]}}},
    )  # fmt: skip
    assert config is not None, errors(problems)
    got = sorted((m.name, m.vis_type, m.vis_range) for m in config.sequence_meta)
    assert got == [("conf", None, (0, 1)), ("gold", "discrete", None)]
    _, problems = with_model(
        folder,
        {"classes": ["n", "p"], "checkpoints": [checkpoint()]},
        {"gold": {"file": "nofile", "path": "x", "vis": {"range": [1, 0]}}},
    )
    assert "sequence_meta.gold.file" in errors(problems)
    assert "sequence_meta.gold.vis.range" in errors(problems)


class Payload:
    def __reduce__(self):
        return (print, ("never",))


def test_weights_file_check_reads_the_pickle_without_running_it(tmp_path):
    check_weights_file(tensors_only_archive(tmp_path / "ok.pt"))
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"w": Payload()}, protocol=2))
    with pytest.raises(UnsafeModelFile, match="print in its pickle"):
        check_weights_file(evil)
    bare = tmp_path / "bare.pt"
    bare.write_bytes(pickle.dumps({"w": 1}))
    with pytest.raises(UnsafeModelFile, match="not a torch.save"):
        check_weights_file(bare)
    broken = tmp_path / "broken.pt"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("broken/data.pkl", b"\x80\x02ccollections\nOrd")
    with pytest.raises(UnsafeModelFile, match="malformed"):
        check_weights_file(broken)
