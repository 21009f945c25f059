"""Fixtures of the client tests: Debian's chromium through Playwright, the client's files on a
private origin (for the pure modules), and the real ``hiddenscope serve`` on a free port."""

from __future__ import annotations

import json
import mimetypes
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from hiddenscope.client import STATIC_DIR
from hiddenscope.server.store.synthetic import write_dataset

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
STATIC_ORIGIN = "http://client.test"
SERVER_START_S = 60


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed: run `make chromium` (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageErrors(list):
    """Uncaught exceptions and console errors of a page; tests assert it stays empty."""


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.errors = PageErrors()
    pg.on("pageerror", lambda e: pg.errors.append(f"uncaught: {e}"))
    pg.on(
        "console",
        lambda m: pg.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
    )
    yield pg
    context.close()


def _serve_static(route):
    """Answer a request to STATIC_ORIGIN from the client folder (a blank page at /)."""
    path = route.request.url[len(STATIC_ORIGIN) :].split("?")[0].lstrip("/")
    if path == "":
        route.fulfill(
            status=200,
            content_type="text/html",
            body='<!doctype html><script src="/vendor/d3.min.js"></script><body></body>',
        )
        return
    file = (Path(STATIC_DIR) / path).resolve()
    if Path(STATIC_DIR).resolve() not in file.parents or not file.is_file():
        route.fulfill(status=404, body=f"no client file {path}")
        return
    ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.suffix == ".js":
        ctype = "text/javascript"
    route.fulfill(status=200, content_type=ctype, body=file.read_bytes())


@pytest.fixture
def module_page(page):
    """A page on a private origin that serves client/, for importing its ES modules."""
    page.route(f"{STATIC_ORIGIN}/**", _serve_static)
    page.goto(f"{STATIC_ORIGIN}/")
    return page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def make_datasets(root: Path) -> Path:
    """Two data sets: `parens` (generated) and `broken` (its config names a missing table)."""
    write_dataset(root / "parens", T=3000, D=24, sequences=4)
    broken = write_dataset(root / "broken", T=200, D=8, sequences=1)
    config = yaml.safe_load((broken / "dataset.yml").read_text())
    config["states"]["types"][0]["path"] = "states/layer9/cell"
    (broken / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


class Server:
    def __init__(self, folder: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("hiddenscope")
        self.log = folder.parent / f"serve-{self.port}.log"
        with self.log.open("wb") as out:  # the child keeps its own copy of the handle
            self.proc = subprocess.Popen(
                [str(exe), "serve", str(folder), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait()

    def _wait(self):
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"hiddenscope serve exited with {self.proc.returncode}:\n{self.log.read_text()}"
                )
            try:
                get_json(f"{self.url}/api/v1/datasets")
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"hiddenscope serve did not answer within {SERVER_START_S} s:\n{self.log.read_text()}"
        )

    def api(self, path: str, **params):
        query = "&".join(
            f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in params.items()
        )
        return get_json(f"{self.url}/api/v1{path}?{query}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real `hiddenscope serve` over generated data sets, one per test module."""
    root = make_datasets(tmp_path_factory.mktemp("datasets"))
    srv = Server(root)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
