"""The API under test: one app over a generated data set, an LSTMVis folder and a broken one."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import TEST_HOSTS
from hiddenscope.server.api import create_app
from hiddenscope.server.store.synthetic import write_dataset


@pytest.fixture(scope="session")
def api_root(tmp_path_factory, lstmvis_writer) -> Path:
    """``parens`` (T=2000, D=24, 4 sequences), ``toy`` (LSTMVis) and ``broken`` (no data.h5)."""
    root = tmp_path_factory.mktemp("api-datasets")
    write_dataset(root / "parens", T=2000, D=24, sequences=4)
    lstmvis_writer(root / "lstmvis" / "toy")
    broken = write_dataset(root / "broken", T=50, D=4, layers=1)
    (broken / "data.h5").unlink()
    return root


@pytest.fixture(scope="session")
def app(api_root):
    app = create_app([api_root], hosts=TEST_HOSTS)
    yield app
    app.catalog.close()


@pytest.fixture(scope="session")
def client(app):
    return app.test_client()


@pytest.fixture
def patient(app, monkeypatch):
    """Tiny data: every analysis answers within the jobs' wait (200, never 202), even on a
    loaded machine; tests/server/api/test_api_jobs.py covers the 202 answers. ``app`` is the
    requesting module's own where it has one. Use: pytestmark = usefixtures("patient")."""
    monkeypatch.setattr(app.handlers.jobs, "wait", 120.0)


@pytest.fixture(scope="session")
def parens(app):
    """The loaded ``parens`` Dataset, to compare answers with."""
    return app.catalog.entries["parens"].dataset
