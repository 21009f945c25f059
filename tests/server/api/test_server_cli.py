"""The `hiddenscope` command: check, index, the extractor's commands, and a real `serve`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import httpx
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hiddenscope.server import cli
from hiddenscope.server.store.indexfiles import index_folder
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


def test_check_lists_sequence_level_tracks(tmp_path):
    folder = write_dataset(tmp_path / "seq", T=60, D=4, layers=1, sequences=3)
    with h5py.File(folder / "data.h5", "a") as f:
        f.create_dataset("sequence_meta/gold", data=np.array([0, 1, 1], np.int32))
        f.create_dataset("sequence_meta/confidence", data=np.array([0.9, 0.4, 0.7], np.float32))
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    config["sequence_meta"] = {
        "gold": {"file": "data", "path": "sequence_meta/gold", "vis": {"type": "discrete"}},
        "confidence": {"file": "data", "path": "sequence_meta/confidence"},
    }
    (folder / "dataset.yml").write_text(yaml.safe_dump(config))
    result = run("check", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "sequence meta gold: categorical, one value per sequence" in result.output
    assert "sequence meta confidence: scalar, one value per sequence" in result.output


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
    assert index_folder(folder, "small", "layer0-cell").is_dir()
    again = run("index", str(tmp_path))
    assert "small / layer0-cell: index is fresh" in again.output


def test_index_takes_a_data_set_id_under_datasets(tmp_path, monkeypatch):
    write_dataset(tmp_path / "datasets" / "tiny", T=200, D=4, layers=1, kinds=("cell",))
    monkeypatch.chdir(tmp_path)
    result = run("index", "tiny")
    assert result.exit_code == 0, result.output
    assert "tiny / layer0-cell: index built" in result.output


# runs the hiddenscope command in a Python where torch, spacy and mambapy cannot be imported
WITHOUT_EXTRA = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "spacy", "mambapy"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from hiddenscope.server.cli import main
main(sys.argv[1:], prog_name="hiddenscope")
"""


def without_extra(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA, *args], capture_output=True, text=True, timeout=120
    )


def test_without_the_extra_build_says_how_to_install_and_exits_2(tmp_path):
    done = without_extra("build", str(tmp_path / "folder"))
    assert done.returncode == 2, done.stderr
    assert "install the extract extra: pip install 'hiddenscope[extract]'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    helped = without_extra("--help")
    assert helped.returncode == 0
    assert "build and extract are unavailable: torch, spacy, mambapy missing" in " ".join(
        helped.stdout.split()
    )


def test_with_the_extra_the_entry_points_bring_build_and_extract():
    from importlib.metadata import entry_points

    declared = {ep.name: ep.value for ep in entry_points(group=cli.COMMAND_GROUP)}
    assert declared["build"] == "hiddenscope.extract.cli:build_command [extract]"
    output = run("--help").output
    assert "Train the model of FOLDER/dataset.yml" in output and "unavailable" not in output
    assert "Extract the states of MODEL_FILE" in output


def _capture_serving(monkeypatch) -> dict:
    """Stands in for uvicorn: records the app, the bound socket and the options."""
    served = {}

    def fake_run(app, sock, **options):
        served.update(app=app, bound=sock.getsockname(), **options)
        sock.close()

    monkeypatch.setattr(cli, "_run", fake_run)
    return served


def test_demo_without_extractor_serves_a_generated_data_set(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_extract_commands", lambda: (None, cli.EXTRACT_HINT))
    monkeypatch.setattr(cli, "DEMO_FALLBACK", tmp_path / "build-demo")
    monkeypatch.setattr(cli, "DEMO_SIZE", {"T": 500, "D": 8, "layers": 1, "sequences": 2})
    served = _capture_serving(monkeypatch)
    (tmp_path / "datasets" / "parens").mkdir(parents=True)
    port = free_port()
    result = run("demo", str(tmp_path / "datasets" / "parens"), "--port", str(port))
    assert result.exit_code == 0, result.output
    assert (
        "Serving a GENERATED data set instead" in result.output
        and cli.EXTRACT_HINT in result.output
    )
    assert f"serving on http://127.0.0.1:{port}/" in result.output
    assert served["app"].catalog.entries["generated-parens"].available
    assert (served["host"], served["port"], served["bound"]) == (
        "127.0.0.1",
        port,
        ("127.0.0.1", port),
    )
    served["app"].catalog.close()


def test_demo_builds_without_the_serve_hint_then_serves(tmp_path, monkeypatch):
    folder = tmp_path / "datasets" / "parens"
    folder.mkdir(parents=True)
    (folder / "dataset.yml").write_text("name: parens\nbuild:\n  corpus: parens\n")
    monkeypatch.setattr(cli, "_extract_commands", lambda: ({"build": object()}, None))
    calls = []

    def fake_build(args, **kwargs):  # the build itself is tested in tests/extract
        calls.append(args)
        write_dataset(folder, T=200, D=4, layers=1)
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(cli.subprocess, "run", fake_build)
    served = _capture_serving(monkeypatch)
    result = run("demo", str(folder), "--port", str(free_port()))
    assert result.exit_code == 0, result.output
    assert calls == [
        [sys.executable, "-m", "hiddenscope.server.cli", "build", str(folder), "--no-next-steps"]
    ]
    assert served["app"].catalog.entries["parens"].available
    served["app"].catalog.close()


def test_serve_names_an_unbuilt_recipe_with_the_command_to_type(tmp_path, monkeypatch):
    (tmp_path / "datasets" / "code").mkdir(parents=True)
    (tmp_path / "datasets" / "code" / "dataset.yml").write_text("name: code\nbuild: {corpus: x}\n")
    monkeypatch.chdir(tmp_path)
    served = _capture_serving(monkeypatch)
    result = run("serve", "--port", str(free_port()))  # ./datasets by default
    assert result.exit_code == 0, result.output
    line = "  unavailable: code: not built yet; build it with `hiddenscope build datasets/code`"
    assert line in result.output.splitlines() and str(tmp_path) not in result.output
    served["app"].catalog.close()


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_busy_port_is_one_line_naming_it_and_the_way_out(tmp_path, command):
    write_dataset(tmp_path / "datasets" / "parens", T=200, D=4, layers=1)
    exe = Path(sys.executable).with_name("hiddenscope")
    folder = tmp_path / "datasets" / ("parens" if command == "demo" else "")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [str(exe), command, str(folder), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"hiddenscope: port {port} on 127.0.0.1 is in use (another server?); choose another "
        f"with --port {port + 1} (make demo PORT={port + 1})"
    ]
    assert "serving on" not in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_serve_bad_folder_is_named():
    result = run("serve", "/nonexistent/folder")
    assert result.exit_code == 2 and "/nonexistent/folder is not a folder" in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_get(
    port: int, target: str, host: str = "127.0.0.1", extra: dict | None = None
) -> tuple[int, dict, bytes]:
    """GET ``target`` as written (no client-side URL checks or escaping), with ``host``."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("GET", target, skip_host=True)
    conn.putheader("Host", host)
    for name, value in (extra or {}).items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def assert_hardened(port: int) -> None:
    """What only the real server shows: uvicorn's own limits and the default Host allowlist."""
    status, headers, body = raw_get(port, "/api/v1/datasets?x=" + "a" * 100_000)
    assert status == 414 and headers["content-type"] == "application/problem+json", body[:200]
    assert b"over the bound of 65,536" in body and headers["x-content-type-options"] == "nosniff"
    status, headers, body = raw_get(port, "/api/v1/datasets", extra={"X-Big": "a" * 200_000})
    assert status == 431 and headers["content-type"] == "application/problem+json"
    status, headers, body = raw_get(port, "/api/v1/datasets", host="evil.example")
    assert status == 400 and b"is not served here" in body
    assert raw_get(port, "/api/v1/datasets", host=f"localhost:{port}")[0] == 200
    status, headers, body = raw_get(port, "/client/index.html%00.js")
    assert status == 404 and headers["content-type"] == "application/problem+json"
    status, _, _ = raw_get(port, "/client/" + "b" * 300 + ".js")
    assert status == 404


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
        assert_hardened(port)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()
