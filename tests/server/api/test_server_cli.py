"""The `hiddenscope` command: check, index, the extractor's commands, and a real `serve`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hiddenscope.server import cli
from hiddenscope.server.store.synthetic import write_dataset


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def test_check_reports_ok_data_sets(synthetic_root):
    result = run("check", str(synthetic_root))
    assert result.exit_code == 0, result.output
    assert (
        "ok    parens" in result.output
        and "source layer0-cell: 2,000 x 24, transform tanh" in result.output
    )
    assert "1 of 1 data set(s) ok" in result.output


def test_check_lists_every_error_and_fails(tmp_path, lstmvis_folder):
    broken = write_dataset(tmp_path / "broken", T=50, D=4, layers=1)
    text = (broken / "dataset.yml").read_text().replace("transform: tanh", "transform: relu")
    (broken / "dataset.yml").write_text(text)
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert "ERROR broken" in result.output
    assert (
        "states.types[0].transform: 'relu' is not supported; use one of tanh, none" in result.output
    )
    assert "ok    toy" in result.output and "1 of 2 data set(s) ok" in result.output


def test_check_without_data_sets_fails(tmp_path):
    result = run("check", str(tmp_path))
    assert result.exit_code == 1 and "no dataset.yml or lstm.yml" in result.output


def test_index_builds_then_finds_fresh(tmp_path):
    folder = write_dataset(tmp_path / "small", T=300, D=6, layers=1, kinds=("cell",))
    first = run("index", str(folder))
    assert first.exit_code == 0, first.output
    assert "small / layer0-cell: index built (missing before)" in first.output
    assert (folder / ".index" / "layer0-cell").is_dir()
    again = run("index", str(tmp_path))
    assert "small / layer0-cell: index is fresh" in again.output


def test_index_takes_a_data_set_id_under_datasets(tmp_path, monkeypatch):
    write_dataset(tmp_path / "datasets" / "tiny", T=200, D=4, layers=1, kinds=("cell",))
    monkeypatch.chdir(tmp_path)
    result = run("index", "tiny")
    assert result.exit_code == 0, result.output
    assert "tiny / layer0-cell: index built" in result.output


def test_extract_commands_say_how_to_install_when_missing(monkeypatch):
    monkeypatch.setattr(cli, "_extract_commands", lambda: (None, cli.EXTRACT_HINT))
    result = run("build", "datasets/parens")
    assert result.exit_code == 2
    assert "install the extract extra: pip install 'hiddenscope[extract]'" in result.output
    assert "build" in run("--help").output


def test_demo_without_extractor_serves_a_generated_data_set(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_extract_commands", lambda: (None, cli.EXTRACT_HINT))
    monkeypatch.setattr(cli, "DEMO_FALLBACK", tmp_path / "build-demo")
    monkeypatch.setattr(cli, "DEMO_SIZE", {"T": 500, "D": 8, "layers": 1, "sequences": 2})
    served = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.update(app=app, **options))
    (tmp_path / "datasets" / "parens").mkdir(parents=True)
    result = run("demo", str(tmp_path / "datasets" / "parens"), "--port", "9999")
    assert result.exit_code == 0, result.output
    assert (
        "Serving a GENERATED data set instead" in result.output
        and cli.EXTRACT_HINT in result.output
    )
    assert "serving on http://127.0.0.1:9999/" in result.output
    assert served["app"].catalog.entries["generated-parens"].available
    assert (served["host"], served["port"]) == ("127.0.0.1", 9999)
    served["app"].catalog.close()


def test_serve_bad_folder_is_named():
    result = run("serve", "/nonexistent/folder")
    assert result.exit_code == 2 and "/nonexistent/folder is not a folder" in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_on_localhost(synthetic_root):
    port = free_port()
    exe = Path(sys.executable).with_name("hiddenscope")
    proc = subprocess.Popen(
        [str(exe), "serve", str(synthetic_root), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = ""
        deadline = time.time() + 60
        while "serving on" not in line and time.time() < deadline:
            line = proc.stdout.readline()
        assert f"serving on http://127.0.0.1:{port}/" in line
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/datasets", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["datasets"][0]["id"] == "parens"
        error = httpx.get(f"http://127.0.0.1:{port}/api/v1/datasets/nope")
        assert error.headers["content-type"] == "application/problem+json"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()
