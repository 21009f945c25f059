"""Fixtures of the client tests: Debian's chromium through Playwright, the client's files on a
private origin (for the pure modules), and the real ``hiddenscope serve`` on a free port."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import pytest
import yaml
from browser_harness import CHROMIUM, Server, launch  # tests/client/browser_harness.py
from hiddenscope.client import STATIC_DIR
from hiddenscope.server.store.synthetic import write_dataset

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
STATIC_ORIGIN = "http://client.test"


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Playwright's sync API keeps an asyncio loop running in
    this thread while it is open; a session-wide browser would leave that loop running into
    the server tests collected after tests/client, whose in-process clients call asyncio.run."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed: run `make chromium` (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def new_context(browser):
    """A browser context whose every action and wait may take 60 s (Playwright's default is
    30 s): CI runs the whole suite on 2 busy cores, where a first page load can be slow."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    return context


class PageErrors(list):
    """Uncaught exceptions and console errors of a page; tests assert it stays empty."""


@pytest.fixture
def page(browser):
    context = new_context(browser)
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


def make_datasets(root: Path) -> Path:
    """Two data sets: `parens` (generated) and `broken` (its config names a missing table)."""
    write_dataset(root / "parens", T=3000, D=24, sequences=4)
    broken = write_dataset(root / "broken", T=200, D=8, sequences=1)
    config = yaml.safe_load((broken / "dataset.yml").read_text())
    config["states"]["types"][0]["path"] = "states/layer9/cell"
    (broken / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


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
