"""Scanning roots: recursive, ids from folder names, duplicates and broken data sets reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from hiddenscope.server.store import Catalog, DatasetError, find_folders
from hiddenscope.server.store.synthetic import write_dataset


def test_scan_is_recursive_and_skips_hidden_and_nested(tmp_path, make_lstmvis_folder):
    write_dataset(tmp_path / "a" / "deep" / "parens", T=100, D=4, layers=1)
    write_dataset(tmp_path / ".hidden" / "ignored", T=100, D=4, layers=1)
    write_dataset(tmp_path / "a" / "deep" / "parens" / "inner", T=100, D=4, layers=1)
    lstm = make_lstmvis_folder("toy")
    found = find_folders([tmp_path])
    assert found == sorted([tmp_path / "a" / "deep" / "parens", lstm])


def test_linked_folders_are_followed_once_and_loops_end(tmp_path):
    real = write_dataset(tmp_path / "data" / "parens", T=100, D=4, layers=1)
    (tmp_path / "data" / "again").symlink_to(real)
    (tmp_path / "data" / "loop").symlink_to(tmp_path / "data")
    assert find_folders([tmp_path]) == [real]


def test_duplicate_names_are_rejected_naming_both(tmp_path):
    one = write_dataset(tmp_path / "x" / "same", T=100, D=4, layers=1)
    two = write_dataset(tmp_path / "y" / "same", T=100, D=4, layers=1)
    write_dataset(tmp_path / "fine", T=100, D=4, layers=1)
    catalog = Catalog([tmp_path])
    entry = catalog.entries["same"]
    assert not entry.available
    assert one.relative_to(tmp_path).as_posix() in entry.error and "rename one" in entry.error
    assert two.relative_to(tmp_path).as_posix() in entry.error
    assert str(tmp_path) not in entry.error  # the API shows no server paths
    assert catalog.entries["fine"].available
    catalog.close()


def test_broken_data_set_is_listed_and_logged_while_others_serve(tmp_path, caplog):
    write_dataset(tmp_path / "good", T=100, D=4, layers=1)
    broken = write_dataset(tmp_path / "broken", T=100, D=4, layers=1)
    (broken / "data.h5").unlink()
    catalog = Catalog([tmp_path])
    assert catalog.entries["good"].available
    assert not catalog.entries["broken"].available
    assert "files.data: 'data.h5' does not exist" in catalog.entries["broken"].error
    assert any("broken is unavailable" in r.getMessage() for r in caplog.records)
    catalog.close()


def test_a_damaged_file_makes_only_its_data_set_unavailable(tmp_path):
    write_dataset(tmp_path / "good", T=100, D=4, layers=1)
    damaged = write_dataset(tmp_path / "damaged", T=5000, D=4, layers=1)
    data = (damaged / "data.h5").read_bytes()
    (damaged / "data.h5").write_bytes(data[: len(data) // 2])
    catalog = Catalog([tmp_path])
    assert catalog.entries["good"].available
    assert not catalog.entries["damaged"].available and catalog.entries["damaged"].error
    catalog.close()


def test_a_root_that_is_not_a_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="is not a folder"):
        Catalog([tmp_path / "missing"])


def test_public_error_strips_only_absolute_parents(tmp_path, monkeypatch):
    from hiddenscope.server.store.catalog import Entry

    monkeypatch.chdir(tmp_path)
    relative = Entry("code", Path("code"), error="code/dataset.yml: '../data.h5' is outside")
    assert relative.public_error == "code/dataset.yml: '../data.h5' is outside"
    absolute = Entry("code", tmp_path / "code", error=f"{tmp_path}/code/dataset.yml: bad")
    assert absolute.public_error == "code/dataset.yml: bad"
