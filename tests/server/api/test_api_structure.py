"""GET projection, coclusters and align: answers against direct computations on the files,
caching, and the errors that name the bad value."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from api_helpers import TEST_HOSTS, problem
from hiddenscope.server.api import create_app
from hiddenscope.server.api import structure as S
from hiddenscope.server.api.cache import ResultCache
from hiddenscope.server.engine.projection import sample_steps
from hiddenscope.server.store.synthetic import write_dataset

BASE = "/api/v1/datasets/corpus"


# tiny data: every analysis answers within the jobs' wait (200, never 202)
pytestmark = pytest.mark.usefixtures("patient")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """``corpus`` (60 sequences), ``twin`` (same tokens, other states), ``shifted`` (other
    tokens)."""
    root = tmp_path_factory.mktemp("structure-datasets")
    write_dataset(root / "corpus", T=2400, D=20, sequences=60, seed=0)
    write_dataset(root / "twin", T=2400, D=12, sequences=60, seed=0, depth_cells=2)
    write_dataset(root / "shifted", T=2400, D=12, sequences=60, seed=5)
    return root


@pytest.fixture(scope="module")
def app(root):
    app = create_app([root], hosts=TEST_HOSTS)
    yield app
    app.catalog.close()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def states(root: Path, name: str, path: str = "states/layer0/cell") -> np.ndarray:
    """Transformed float64[T, D] read straight from the file (tanh: the cell sources)."""
    with h5py.File(root / name / "data.h5", "r") as f:
        return np.tanh(f[path][()].astype(np.float64))


def tokens_of(root: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(root / name / "data.h5", "r") as f:
        return f["tokens"][()], f["sequences"][()]


# --- projection ----------------------------------------------------------------------------
def test_pca_of_sequence_ends_against_numpy(client, root):
    body = client.get(f"{BASE}/projection", params={"source": "layer0-cell", "n": 25,
                                                    "seed": 4}).json()
    _, offsets = tokens_of(root, "corpus")
    order = np.random.default_rng(4).permutation(60)[:25]
    steps = offsets[order + 1] - 1
    assert [p["pos"] for p in body["points"]] == steps.tolist()
    assert [p["seq"] for p in body["points"]] == order.tolist()
    X = states(root, "corpus")[steps]
    centred = X - X.mean(0)
    evals, evecs = np.linalg.eigh(centred.T @ centred)
    ref = centred @ evecs[:, ::-1][:, :2]
    xy = np.array([[p["x"], p["y"]] for p in body["points"]])
    for i in range(2):
        np.testing.assert_allclose(np.abs(xy[:, i]), np.abs(ref[:, i]), atol=1e-4)
    np.testing.assert_allclose(body["explained"], evals[::-1][:2] / evals.sum(), rtol=1e-4)
    mean, axes = np.array(body["pca"]["mean"]), np.array(body["pca"]["axes"])
    np.testing.assert_allclose((X - mean) @ axes.T, xy, atol=1e-4)
    assert body["method"] == "pca" and body["sampling"] == "sequence_end"


def test_points_carry_their_text_and_the_requested_track_values(client, root, app):
    params = {"source": "layer0-cell", "points": "steps", "n": 30, "meta": "depth,position"}
    body = client.get(f"{BASE}/projection", params=params).json()
    steps = sample_steps(tokens_of(root, "corpus")[1], "steps", 30, 0)
    assert [p["pos"] for p in body["points"]] == steps.tolist()
    with h5py.File(root / "corpus" / "data.h5", "r") as f:
        depth, position = f["meta/depth"][()], f["meta/position"][()]
    assert body["meta"]["depth"]["values"] == depth[steps].tolist()
    np.testing.assert_allclose(body["meta"]["position"]["values"], position[steps], rtol=1e-6)
    ds = app.catalog.entries["corpus"].dataset
    for p in body["points"]:
        first, _ = ds.sequence_bounds(p["pos"])
        start = max(first, p["pos"] - 15)
        text = "".join(ds.token_text(start, p["pos"]))  # character-level: no separator
        assert p["text"] == ("…" if start > first else "") + text


@pytest.mark.parametrize("method", ["isomap", "tsne"])
def test_neighbourhood_methods_return_every_point(client, method):
    body = client.get(f"{BASE}/projection", params={"source": "layer1-hidden", "method": method,
                                                    "points": "steps", "n": 60}).json()
    assert len(body["points"]) == 60 and body["explained"] is None and body["pca"] is None
    assert all(np.isfinite([p["x"], p["y"]]).all() for p in body["points"])


def test_projection_errors_name_the_value(client):
    detail = problem(client.get(f"{BASE}/projection", params={"source": "layer0-cell",
                                                               "method": "tsne", "n": 1500}), 400)
    assert "n 1500" in detail and "1000" in detail
    detail = problem(client.get(f"{BASE}/projection", params={"source": "layer0-cell",
                                                               "method": "lda"}), 400)
    assert "method 'lda'" in detail
    detail = problem(client.get(f"{BASE}/projection", params={"source": "layer0-cell",
                                                               "meta": "next"}), 400)
    assert "meta 'next' is a topk track" in detail
    detail = problem(client.get(f"{BASE}/projection", params={"source": "layer0-cell",
                                                               "meta": "colour"}), 400)
    assert "meta 'colour'" in detail and "depth" in detail
    detail = problem(client.get(f"{BASE}/projection", params={"source": "layer7"}), 404)
    assert "layer7" in detail


def test_umap_without_the_extra_is_a_400_naming_the_install(client):
    try:
        import umap  # noqa: F401
    except ImportError:
        detail = problem(client.get(f"{BASE}/projection", params={"source": "layer0-cell",
                                                                   "method": "umap"}), 400)
        assert "pip install 'hiddenscope[umap]'" in detail
    else:
        pytest.skip("umap-learn is installed")


# --- co-clusters ---------------------------------------------------------------------------
def direct_response(root: Path, name: str, words: int, min_count: int):
    """(word ids, float64[D, W]) by a plain loop over the steps: mean h[t] - h[t-1] per word,
    h[-1] = 0 at a sequence start."""
    h = states(root, name)
    tokens, offsets = tokens_of(root, name)
    counts = np.bincount(tokens)
    ids = [w for w in sorted(range(counts.size), key=lambda w: (-counts[w], w))
           if counts[w] >= min_count][:words]
    starts = set(offsets[:-1].tolist())
    sums = {w: np.zeros(h.shape[1]) for w in ids}
    for t in range(h.shape[0]):
        if tokens[t] in sums:
            sums[tokens[t]] += h[t] - (0 if t in starts else h[t - 1])
    return ids, np.column_stack([sums[w] / counts[w] for w in ids])


def test_coclusters_partition_cells_and_words_and_response_is_direct(client, root, app):
    body = client.get(f"{BASE}/coclusters", params={"source": "layer0-cell", "k": 3,
                                                    "words": 5, "min_count": 2}).json()
    ids, R = direct_response(root, "corpus", 5, 2)
    vocab = app.catalog.entries["corpus"].dataset.vocab
    assert body["response"]["word_ids"] == ids
    assert body["response"]["words"] == [vocab[w] for w in ids]
    np.testing.assert_allclose(np.array(body["response"]["values"]), R, atol=1e-6)
    cells = sorted(c for cluster in body["cell_clusters"] for c in cluster)
    assert cells == list(range(20))
    words = sorted(w for cluster in body["word_clusters"] for w in cluster)
    assert words == sorted(vocab[w] for w in ids)
    assert all(body["cell_clusters"]) and all(body["word_clusters"])
    n_links = len(body["cell_clusters"]) * len(body["word_clusters"])
    assert len(body["links"]) == n_links
    for link in body["links"]:
        rows = body["cell_clusters"][link["cells"]]
        cols = [body["response"]["words"].index(w) for w in body["word_clusters"][link["words"]]]
        block = R[np.ix_(rows, cols)]
        assert link["strength"] == pytest.approx(block.mean(), abs=1e-6)
        assert link["weight"] == pytest.approx(np.abs(block).mean(), abs=1e-6)


def test_coclusters_are_cached_per_parameters(client, monkeypatch):
    calls = []
    real = S.expected_response

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(S, "expected_response", counting)
    params = {"source": "layer1-cell", "k": 2, "words": 6, "min_count": 3, "seed": 1}
    first = client.get(f"{BASE}/coclusters", params=params).json()
    again = client.get(f"{BASE}/coclusters", params=params).json()
    assert first == again and len(calls) == 1
    # another k reuses the response matrix (one pass per source, words and min_count)
    client.get(f"{BASE}/coclusters", params={**params, "k": 3})
    assert len(calls) == 1


def test_coclusters_errors_name_the_value(client):
    detail = problem(client.get(f"{BASE}/coclusters", params={"source": "layer0-cell",
                                                               "k": 9}), 400)
    assert "k: 9 is more than the 7 words" in detail and "min_count" in detail
    detail = problem(client.get(f"{BASE}/coclusters", params={"source": "layer0-cell",
                                                               "min_count": 99999}), 400)
    assert "min_count 99999" in detail
    detail = problem(client.get(f"{BASE}/coclusters", params={"source": "layer0-cell",
                                                               "k": 0}), 400)
    assert "k 0" in detail


# --- align ---------------------------------------------------------------------------------
def test_align_against_numpy_pearson(client, root):
    body = client.get(f"{BASE}/align", params={"source": "layer0-cell", "cells": "7,0,3",
                                               "to_source": "layer1-cell", "limit": 4}).json()
    a = states(root, "corpus")
    b = states(root, "corpus", "states/layer1/cell")
    assert [p["cell"] for p in body["pairs"]] == [0, 3, 7]
    for pair in body["pairs"]:
        r = np.array([np.corrcoef(a[:, pair["cell"]], b[:, c])[0, 1] for c in range(b.shape[1])])
        best = np.argsort(-r, kind="stable")[:4]
        assert [m["cell"] for m in pair["matches"]] == best.tolist()
        np.testing.assert_allclose([m["r"] for m in pair["matches"]], r[best], atol=1e-5)
    assert body["to_dataset"] == "corpus" and body["limit"] == 4


def test_align_within_one_source_skips_the_cell_itself(client):
    body = client.get(f"{BASE}/align", params={"source": "layer0-cell", "cells": "1",
                                               "to_source": "layer0-cell", "limit": 50}).json()
    matches = [m["cell"] for m in body["pairs"][0]["matches"]]
    assert 1 not in matches and len(matches) == 19


def test_align_carries_cells_to_a_data_set_over_the_same_tokens(client, root):
    body = client.get(f"{BASE}/align", params={"source": "layer0-cell", "cells": "0,1",
                                               "to_dataset": "twin", "to_source": "layer0-cell",
                                               "limit": 1}).json()
    a, b = states(root, "corpus"), states(root, "twin")
    for pair in body["pairs"]:
        r = [np.corrcoef(a[:, pair["cell"]], b[:, c])[0, 1] for c in range(b.shape[1])]
        assert pair["matches"][0]["cell"] == int(np.argmax(r))
    assert body["to_dataset"] == "twin"


def test_align_to_other_tokens_names_the_first_difference(client, root):
    detail = problem(client.get(f"{BASE}/align", params={
        "source": "layer0-cell", "cells": "0", "to_dataset": "shifted",
        "to_source": "layer0-cell"}), 400)
    ta, _ = tokens_of(root, "corpus")
    tb, _ = tokens_of(root, "shifted")
    t = int(np.flatnonzero(ta != tb)[0])  # both use the same vocabulary file
    assert f"step {t} reads" in detail and "'shifted'" in detail


def test_align_errors_name_the_value(client):
    detail = problem(client.get(f"{BASE}/align", params={"source": "layer0-cell", "cells": "20",
                                                          "to_source": "layer1-cell"}), 400)
    assert "cells: 20 is out of range" in detail
    detail = problem(client.get(f"{BASE}/align", params={"source": "layer0-cell", "cells": "1",
                                                          "to_source": "layer1-cell",
                                                          "to_dataset": "nope"}), 404)
    assert "'nope'" in detail
    detail = problem(client.get(f"{BASE}/align", params={"source": "layer0-cell",
                                                          "to_source": "layer1-cell"}), 400)
    assert "cells" in detail


def test_the_cache_drops_the_oldest_answers_past_its_byte_bound():
    cache = ResultCache(size=10, max_bytes=2000)
    for i in range(4):
        assert cache.get(("k", i), lambda i=i: np.full(100, i, np.float64)).tolist() == [i] * 100
    assert list(cache._items) == [("k", 2), ("k", 3)]  # 800 bytes each: three would pass 2000
    calls = []
    cache.get(("k", 3), lambda: calls.append(1))
    assert calls == []  # a hit
    with pytest.raises(ZeroDivisionError):
        cache.get(("bad",), lambda: 1 / 0)
    assert ("bad",) not in cache._items and ("bad",) not in cache._key_locks


def test_the_cache_drops_a_keys_lock_only_once_its_answer_is_in():
    """A request arriving as the first one finishes finds the answer or the key's lock, never
    neither (which would start the same computation again)."""
    cache = ResultCache()
    seen = []

    class Locks(dict):
        def pop(self, key, *default):
            seen.append(key in cache._items)  # under the cache's lock, as the key's lock goes
            return super().pop(key, *default)

    cache._key_locks = Locks()
    assert cache.get(("k",), lambda: 7) == 7
    assert seen == [True]


def test_the_cache_drops_the_answers_of_one_data_set():
    cache = ResultCache()
    for key in [("a", "one", 1), ("a", "two", 1), ("align", "two", 1, "x", "one", 1)]:
        cache.get(key, lambda: 0)
    cache.drop("one")
    assert list(cache._items) == [("a", "two", 1)]
