"""A corpus of hostile data set folders, built in the test session: each one is refused with
an error that names the file or key and the problem, fast, without a traceback, and without
keeping the good folder beside it from loading (store, `hiddenscope check`, `index`, serve)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hiddenscope.server import cli
from hiddenscope.server.store import Catalog, check_dataset
from hiddenscope.server.store import catalog as catalog_module
from hiddenscope.server.store.synthetic import write_dataset

T, D = 120, 4


def _config(folder: Path) -> dict:
    return yaml.safe_load((folder / "dataset.yml").read_text())


def _write_config(folder: Path, config: dict) -> None:
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def _categorical(folder: Path, top: int) -> None:
    """A categorical track without a dict whose largest id is ``top``."""
    with h5py.File(folder / "data.h5", "a") as f:
        ids = np.zeros(T, np.int64)
        ids[7] = top
        f["meta/huge"] = ids
    config = _config(folder)
    config["meta"]["huge"] = {"file": "data", "path": "meta/huge", "vis": {"type": "discrete"}}
    _write_config(folder, config)


def _fifo_vocab(folder: Path) -> None:
    (folder / "vocab.json").unlink()
    os.mkfifo(folder / "vocab.json")


def _fifo_config(folder: Path) -> None:
    (folder / "dataset.yml").unlink()
    os.mkfifo(folder / "dataset.yml")


def _alias_bomb(folder: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    text = "\n".join(lines) + "\n" + (folder / "dataset.yml").read_text()
    assert len(text.encode()) < 4096
    (folder / "dataset.yml").write_text(text)


def _deep_yaml(folder: Path) -> None:
    (folder / "dataset.yml").write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")


def _huge_dict_id(folder: Path) -> None:
    vocab = yaml.safe_load((folder / "vocab.json").read_text())
    lines = [f"{token} {i}" for i, token in enumerate(vocab)] + ["zz 200000000"]
    (folder / "words.dict").write_text("\n".join(lines) + "\n")
    config = _config(folder)
    config["files"]["vocab"] = "words.dict"
    _write_config(folder, config)


def _schema_text(folder: Path) -> None:
    with h5py.File(folder / "data.h5", "a") as f:
        f.attrs["hiddenscope_schema"] = "one"


def _relative_outside(folder: Path) -> None:
    config = _config(folder)
    config["files"]["data"] = "../../x.h5"
    _write_config(folder, config)


def _absolute(folder: Path) -> None:
    config = _config(folder)
    config["files"]["data"] = str((folder.parent / "good" / "data.h5").resolve())
    _write_config(folder, config)


def _dangling_link(folder: Path) -> None:
    (folder / "data.h5").rename(folder / "moved.h5")
    os.symlink(folder / "gone" / "target.h5", folder / "data.h5")


def _link_outside(folder: Path) -> None:
    outside = folder.parent.parent / f"outside-{folder.name}.h5"
    (folder / "data.h5").rename(outside)
    os.symlink(outside, folder / "data.h5")


def _truncated(folder: Path) -> None:
    path = folder / "data.h5"
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _too_many_cells(folder: Path) -> None:
    with h5py.File(folder / "data.h5", "a") as f:  # chunked and empty: a tiny file
        f.create_dataset("states/wide", shape=(T, 2_000_000), dtype="f4", chunks=(8, 1024))
    config = _config(folder)
    config["states"]["types"].append({"id": "wide", "type": "cell", "path": "states/wide"})
    _write_config(folder, config)


def _long_sequences(folder: Path) -> None:
    with h5py.File(folder / "data.h5", "a") as f:
        del f["sequences"]
        f["sequences"] = np.arange(T + 50, dtype=np.int64)
    _write_config(folder, _config(folder))


# (name, how to break the folder, what the error must say)
HOSTILE = [
    ("categorical-50m", lambda f: _categorical(f, 50_000_000), "over the bound of 65,536"),
    ("categorical-5m", lambda f: _categorical(f, 5_000_000), "no dict: over the bound"),
    ("fifo-vocab", _fifo_vocab, "'vocab.json' is a FIFO"),
    ("fifo-config", _fifo_config, "is a FIFO"),
    ("alias-bomb", _alias_bomb, "expands to more than 100,000 values"),
    ("deep-yaml", _deep_yaml, "nested deeper than 64 levels"),
    ("huge-dict-id", _huge_dict_id, "names id 200,000,000, over the bound of 10,000,000"),
    ("schema-text", _schema_text, "hiddenscope_schema='one'"),
    ("relative-outside", _relative_outside, "files.data: 'x.h5' leads outside the data set"),
    ("absolute", _absolute, "files.data: 'data.h5' leads outside the data set folder"),
    ("dangling-link", _dangling_link, "files.data: 'data.h5' does not exist"),
    ("link-outside", _link_outside, "files.data: 'data.h5' leads outside the data set folder"),
    ("truncated", _truncated, "data.h5"),
    ("too-many-cells", _too_many_cells, "2,000,000 cells; a source has 1 to 1,048,576"),
    ("long-sequences", _long_sequences, "word_sequence.sequences"),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """``root/good`` and one folder per HOSTILE case under ``root``."""
    root = tmp_path_factory.mktemp("hostile") / "root"
    write_dataset(root / "good", T=T, D=D, layers=1, sequences=2)
    for name, breaker, _ in HOSTILE:
        breaker(write_dataset(root / name, T=T, D=D, layers=1, sequences=2))
    return root


@pytest.mark.parametrize("name, words", [(n, w) for n, _, w in HOSTILE])
def test_each_hostile_folder_is_refused_naming_the_problem(corpus, name, words):
    began = time.perf_counter()
    dataset, problems = check_dataset(corpus / name)
    assert dataset is None and problems.errors
    text = "\n".join(str(p) for p in problems.errors)
    assert words in text
    assert "Traceback" not in text
    assert time.perf_counter() - began < 5


def test_a_dangling_link_names_the_key_not_the_target(corpus):
    _, problems = check_dataset(corpus / "dangling-link")
    text = "\n".join(str(p) for p in problems.errors)
    assert "target.h5" not in text and "gone" not in text


def test_check_reports_every_folder_and_a_summary(corpus):
    result = CliRunner().invoke(cli.main, ["check", str(corpus), "--timeout", "20"])
    assert result.exit_code == 1
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    assert "ok    good" in result.output
    for name, _, _ in HOSTILE:
        assert f"ERROR {name} (" in result.output, name
    assert f"1 of {len(HOSTILE) + 1} data set(s) ok" in result.output


def test_index_reports_every_folder_and_goes_on(corpus, tmp_path):
    result = CliRunner().invoke(cli.main, ["index", str(corpus)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "good / layer0-cell: index" in result.output
    for name, _, _ in HOSTILE:
        assert f"ERROR {name} (" in result.output, name
    assert f"1 of {len(HOSTILE) + 1} data set(s) indexed" in result.output


def test_the_catalog_serves_the_good_folder_beside_the_hostile_ones(corpus):
    catalog = Catalog([corpus], load_timeout=20)
    try:
        assert catalog.entries["good"].available
        for name, _, _ in HOSTILE:
            entry = catalog.entries[name]
            assert not entry.available and entry.error
            assert str(corpus) not in entry.public_error  # no server paths in the API
    finally:
        catalog.close()


def test_a_slow_folder_is_given_up_and_delays_no_other(tmp_path, monkeypatch):
    write_dataset(tmp_path / "good", T=T, D=D, layers=1)
    write_dataset(tmp_path / "slow", T=T, D=D, layers=1)
    real = catalog_module.check_dataset

    def slow(folder, id=None):
        if Path(folder).name == "slow":
            time.sleep(5)
        return real(folder, id)

    monkeypatch.setattr(catalog_module, "check_dataset", slow)
    began = time.perf_counter()
    catalog = Catalog([tmp_path], load_timeout=1.0)
    elapsed = time.perf_counter() - began
    try:
        assert catalog.entries["good"].available
        assert "loading took longer than 1 s" in catalog.entries["slow"].error
        assert elapsed < 3
    finally:
        catalog.close()
