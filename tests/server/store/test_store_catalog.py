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


def test_a_folder_fixed_after_start_is_served_without_restart(tmp_path, monkeypatch):
    from hiddenscope.server.store import catalog as catalog_module

    monkeypatch.setattr(catalog_module, "RETRY_S", 0.0)
    folder = write_dataset(tmp_path / "late", T=100, D=4, layers=1)
    (folder / "data.h5").rename(tmp_path / "aside.h5")
    catalog = Catalog([tmp_path])
    try:
        assert not catalog.entries["late"].available
        assert catalog.current("late") is catalog.entries["late"]  # nothing changed: no reload
        (tmp_path / "aside.h5").rename(folder / "data.h5")
        assert catalog.current("late").available
    finally:
        catalog.close()


def test_listeners_hear_of_replaced_and_removed_data_sets(tmp_path, monkeypatch):
    import shutil

    from hiddenscope.server.store import catalog as catalog_module

    monkeypatch.setattr(catalog_module, "RETRY_S", 0.0)
    folder = write_dataset(tmp_path / "a", T=100, D=4, layers=1)
    catalog = Catalog([tmp_path])
    heard: list[str] = []
    catalog.add_listener(heard.append)
    try:
        first = catalog.entries["a"].dataset
        (folder / "vocab.json").write_text((folder / "vocab.json").read_text() + " ")
        assert catalog.current("a").dataset is not first and heard == ["a"]
        shutil.rmtree(folder)
        assert catalog.rescan()["removed"] == ["a"] and heard == ["a", "a"]
    finally:
        catalog.close()


def test_watch_rescans_in_the_background(tmp_path):
    import threading
    import time

    from hiddenscope.server import cli

    catalog = Catalog([tmp_path])
    stop = threading.Event()
    thread = cli._watch(catalog, 0.1, stop)
    try:
        write_dataset(tmp_path / "new", T=100, D=4, layers=1)
        deadline = time.monotonic() + 20
        while "new" not in catalog.entries and time.monotonic() < deadline:
            time.sleep(0.1)
        assert catalog.entries["new"].available
    finally:
        stop.set()
        thread.join()
        catalog.close()


def _recipe(folder: Path) -> Path:
    """A data set folder holding only its recipe, as the committed demos are before a build."""
    folder.mkdir(parents=True)
    (folder / "dataset.yml").write_text("name: code\nbuild:\n  corpus: python\n", encoding="utf-8")
    return folder


def test_an_unbuilt_recipe_names_the_folder_as_typed_and_logs_a_warning(
    tmp_path, monkeypatch, caplog
):
    import logging

    _recipe(tmp_path / "datasets" / "code")
    broken = write_dataset(tmp_path / "datasets" / "broken", T=100, D=4, layers=1)
    (broken / "data.h5").unlink()
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO, logger="hiddenscope.server.store.catalog")
    catalog = Catalog([Path("datasets")])  # `hiddenscope serve datasets` from tmp_path
    try:
        text = catalog.entries["code"].public_error
        assert "`hiddenscope build datasets/code`" in text.splitlines()[0]
        assert str(tmp_path) not in text
        assert (tmp_path / "datasets" / "code" / "dataset.yml").is_file()  # the hint's folder
        levels = {r.getMessage(): r.levelno for r in caplog.records}
        hint = "data set code is not built yet; build it with `hiddenscope build datasets/code`"
        assert levels[hint] == logging.WARNING
        # a real error (a data set whose data file vanished, no recipe) stays an ERROR
        assert [lvl for msg, lvl in levels.items() if "broken is unavailable" in msg] == [
            logging.ERROR
        ]
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert not any(m.startswith("data set code ") for m in errors)
    finally:
        catalog.close()


def test_the_build_hint_never_shows_an_absolute_server_path(tmp_path, monkeypatch):
    _recipe(tmp_path / "srv" / "datasets" / "code")
    (tmp_path / "elsewhere").mkdir()
    root = tmp_path / "srv" / "datasets"
    # started below the data: the path from there
    monkeypatch.chdir(tmp_path)
    catalog = Catalog([root])
    assert "`hiddenscope build srv/datasets/code`" in catalog.entries["code"].public_error
    catalog.close()
    # started elsewhere with an absolute root: no server path, the root's own name and below
    monkeypatch.chdir(tmp_path / "elsewhere")
    catalog = Catalog([root])
    text = catalog.entries["code"].public_error
    assert "`hiddenscope build datasets/code`" in text and str(tmp_path) not in text
    catalog.close()
    # a relative root that climbs out is shown as typed (relative, so no server path)
    catalog = Catalog([Path("../srv")])
    text = catalog.entries["code"].public_error
    assert "`hiddenscope build ../srv/datasets/code`" in text and str(tmp_path) not in text
    catalog.close()


def test_a_recipe_folder_whose_data_exists_but_is_damaged_is_an_error(tmp_path, caplog):
    import logging

    from hiddenscope.server.store.catalog import unbuilt

    folder = write_dataset(tmp_path / "built", T=100, D=4, layers=1)
    config = folder / "dataset.yml"
    config.write_text(config.read_text(encoding="utf-8") + "build:\n  corpus: x\n", "utf-8")
    (folder / "data.h5").write_bytes(b"not hdf5")
    assert not unbuilt(folder)
    assert unbuilt(_recipe(tmp_path / "fresh"))
    catalog = Catalog([tmp_path])
    try:
        assert not catalog.entries["built"].available
        assert any(
            r.levelno == logging.ERROR and "built is unavailable" in r.getMessage()
            for r in caplog.records
        )
    finally:
        catalog.close()
