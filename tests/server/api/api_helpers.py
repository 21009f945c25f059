"""Helpers shared by the API tests."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def problem(response, status: int) -> str:
    """Assert ``response`` is a problem+json error with ``status``; return its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"} and body["status"] == status
    assert "Traceback" not in response.text
    return body["detail"]


def build_sentiment_root(root: Path) -> Path:
    """Fill ``root`` with ``sentiment`` (the repository's recipe, built quick: a model, its
    checkpoints, sequence tracks) and ``plain`` (generated, no model: T=200, D=8, 2
    sequences); return ``root``."""
    from hiddenscope.extract.build import build
    from hiddenscope.server.store.synthetic import write_dataset

    folder = root / "sentiment"
    folder.mkdir()
    shutil.copy(ROOT / "datasets" / "sentiment" / "dataset.yml", folder / "dataset.yml")
    build(folder, quick=True, progress=False, echo=lambda *_: None)
    write_dataset(root / "plain", T=200, D=8, sequences=2)
    return root


# the in-process test client sends ``Host: testserver``: the apps under test allow it by name
# (as `serve --allow-host testserver` would), so the Host and Origin checks stay on
TEST_HOSTS = ["localhost", "127.0.0.1", "::1", "testserver"]
