"""Answers after a data set is loaded again: a changed vocabulary (or any file beside data.h5)
is never answered from the caches of the previous load, and the catalog's reload drops them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from api_helpers import TEST_HOSTS
from hiddenscope.server.api import create_app
from hiddenscope.server.api.cache import ResultCache
from hiddenscope.server.store import catalog as catalog_module
from hiddenscope.server.store import format as fmt
from hiddenscope.server.store.synthetic import write_dataset

BASE = "/api/v1/datasets/live"
SRC = "layer0-cell"

pytestmark = pytest.mark.usefixtures("patient")


@pytest.fixture
def app(tmp_path, monkeypatch):
    """An app over a folder this test changes; reloads are not throttled."""
    monkeypatch.setattr(catalog_module, "RETRY_S", 0.0)
    write_dataset(tmp_path / "root" / "live", T=600, D=6, layers=1, sequences=6)
    app = create_app([tmp_path / "root"], hosts=TEST_HOSTS)
    yield app
    app.catalog.close()


def swap_parens(folder: Path) -> None:
    """Swap the names of token ids 0 and 1 ("(" and ")") in the vocabulary file."""
    path = folder / fmt.VOCAB_FILE
    vocab = json.loads(path.read_text())
    i, j = vocab.index("("), vocab.index(")")
    vocab[i], vocab[j] = vocab[j], vocab[i]
    path.write_text(json.dumps(vocab))


def correlation(client, feature: str) -> list:
    r = client.get(f"{BASE}/correlation", params={"source": SRC, "feature": feature,
                                                   "limit": 6})
    assert r.status_code == 200, r.text
    return r.json()["cells"]


def test_a_changed_vocabulary_is_never_answered_from_the_old_load(app, tmp_path):
    client = app.test_client()
    opening, closing = correlation(client, r"regex:^\($"), correlation(client, r"regex:^\)$")
    assert opening != closing
    words = {"source": SRC, "k": 2, "words": 7, "min_count": 1}
    clusters = client.get(f"{BASE}/coclusters", params=words).json()
    swap_parens(tmp_path / "root" / "live")
    # what was "(" is ")" now: the same indicator, so the old answer of the other pattern
    assert correlation(client, r"regex:^\($") == closing
    assert correlation(client, r"regex:^\)$") == opening
    swapped = client.get(f"{BASE}/coclusters", params=words).json()
    fresh = create_app([tmp_path / "root"], hosts=TEST_HOSTS)  # a server started on them now
    try:
        fresh.handlers.jobs.wait = 120.0
        expected = fresh.test_client().get(f"{BASE}/coclusters", params=words).json()
    finally:
        fresh.catalog.close()
    # the expected response of each word, named by the vocabulary read now
    assert swapped["response"] == expected["response"]
    assert swapped["response"]["words"] != clusters["response"]["words"]


def test_a_reload_drops_the_previous_loads_answers(app, tmp_path):
    client = app.test_client()
    h = app.handlers
    correlation(client, "meta:depth=depth 1")
    client.get(f"{BASE}/projection", params={"source": SRC, "n": 5})
    client.get(f"{BASE}/cells/0/words", params={"source": SRC, "min_count": 1})
    cached = [c for k, c in vars(h).items() if isinstance(c, ResultCache)]
    assert sum(len(c._items) for c in cached) >= 3
    swap_parens(tmp_path / "root" / "live")
    assert client.get(BASE).status_code == 200  # the catalog sees the change and reloads
    assert h.catalog.current("live") is not None
    assert all(len(c._items) == 0 for c in cached)


def test_the_words_of_cells_count_the_distinct_tokens_once_per_load(app, monkeypatch):
    client = app.test_client()
    ds = app.catalog.entries["live"].dataset
    passes = []
    unique = np.unique

    def counting(a, *args, **kwargs):
        if a is ds.tokens:
            passes.append(1)
        return unique(a, *args, **kwargs)

    monkeypatch.setattr(np, "unique", counting)
    for cell in range(4):
        r = client.get(f"{BASE}/cells/{cell}/words", params={"source": SRC, "min_count": 1})
        assert r.status_code == 200, r.text
    assert len(passes) <= 1
