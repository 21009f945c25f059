"""The index (freshness, chunked build) and the plain reads: on_count, values, cell_stats."""
from __future__ import annotations

import json

import numpy as np
import pytest
from engine_helpers import make_states
from hiddenscope.server.engine import ArraySource, EngineError, SourceEngine, apply_transform
from hiddenscope.server.engine.index import CodeIndex


def test_stale_index_is_detected_and_never_used(tmp_path, monkeypatch):
    states, offsets = make_states(20, [50, 40], 6)
    old = SourceEngine(ArraySource(states, offsets, "tanh", fingerprint="v1"), tmp_path)
    old.build_index(progress=False)
    assert old.index_state() == "fresh"

    changed = -states  # different numbers, so a different fingerprint
    source = ArraySource(changed, offsets, "tanh", fingerprint="v2")
    engine = SourceEngine(source, tmp_path)
    assert engine.index_state() == "stale"
    monkeypatch.setattr(CodeIndex, "writable", lambda self: False)
    expected = SourceEngine(source).match([0, 2, 3], 0.2, limit=20)
    assert engine.match([0, 2, 3], 0.2, limit=20) == expected
    assert engine.index_state() == "stale"  # not rebuilt, not used
    monkeypatch.undo()
    assert engine.match([0, 2, 3], 0.2, limit=20) == expected  # rebuilt on first match
    assert engine.index_state() == "fresh"


@pytest.mark.parametrize("change", ["shape", "transform", "version", "codes"])
def test_manifest_mismatch_is_stale(tmp_path, change):
    states, offsets = make_states(21, [30], 4)
    engine = SourceEngine(ArraySource(states, offsets, "tanh", fingerprint="same"), tmp_path)
    engine.build_index(progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    if change == "codes":
        (tmp_path / manifest["codes"]).write_bytes(b"short")
    else:
        manifest[change] = {"shape": [1, 1], "transform": "none", "version": -1}[change]
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert engine.index_state() == "stale"


def test_missing_index_is_built_on_first_match(tmp_path):
    states, offsets = make_states(22, [30, 30], 5)
    engine = SourceEngine(ArraySource(states, offsets, "tanh"), tmp_path / "idx")
    assert engine.index_state() == "missing"
    result = engine.match([1, 2], 0.1)
    assert engine.index_state() == "fresh"
    assert result == SourceEngine(ArraySource(states, offsets, "tanh")).match([1, 2], 0.1)
    assert not list((tmp_path / "idx").glob("*.tmp"))


def test_no_index_folder():
    engine = SourceEngine(ArraySource(np.zeros((3, 2), np.float32)))
    assert engine.index_state() == "missing"
    with pytest.raises(EngineError, match="index_dir"):
        engine.build_index(progress=False)


@pytest.mark.parametrize("transform", ["tanh", "none"])
def test_index_built_in_tiny_chunks_is_identical(tmp_path, transform):
    states, offsets = make_states(23, [37, 26], 7, nan_rate=0.05)
    files = []
    for chunk in (3, 1 << 16):
        folder = tmp_path / str(chunk)
        SourceEngine(ArraySource(states, offsets, transform, fingerprint="x"), folder,
                     chunk=chunk).build_index(progress=False)
        manifest = json.loads((folder / "manifest.json").read_text())
        files.append(((folder / manifest["codes"]).read_bytes(), manifest["lo"], manifest["hi"]))
    assert files[0] == files[1]


def test_rebuild_replaces_the_codes_file(tmp_path):
    states, offsets = make_states(24, [20], 3)
    engine = SourceEngine(ArraySource(states, offsets, "tanh"), tmp_path)
    engine.build_index(progress=False)
    engine.build_index(progress=False)
    assert len(list(tmp_path.glob("codes-*.npy"))) == 1


def test_on_count_and_values_follow_the_rule():
    states, offsets = make_states(25, [30, 30], 6, nan_rate=0.05)
    engine = SourceEngine(ArraySource(states, offsets, "tanh"), chunk=7)
    values = apply_transform(states, "tanh")
    with np.errstate(invalid="ignore"):
        on = values.astype(np.float64) >= 0.2
    assert engine.on_count([5, 1], 0.2, 3, 50).tolist() == on[3:51][:, [1, 5]].sum(1).tolist()
    np.testing.assert_array_equal(engine.values(10, 40, [4, 0]), values[10:41, [0, 4]].T)
    np.testing.assert_array_equal(engine.values(0, 59), values.T)
    assert engine.values(0, 59).dtype == np.float32


def test_cell_stats():
    states, offsets = make_states(26, [200, 100], 3, nan_rate=0.1)
    engine = SourceEngine(ArraySource(states, offsets, "tanh"), chunk=16)
    stats = engine.cell_stats(2, bins=10)
    column = apply_transform(states, "tanh")[:, 2].astype(np.float64)
    finite = column[~np.isnan(column)]
    assert stats.nan_count == int(np.isnan(column).sum()) > 0
    assert (stats.min, stats.max) == (finite.min(), finite.max())
    assert stats.mean == pytest.approx(finite.mean())
    assert stats.median == pytest.approx(np.median(finite))
    assert stats.percentiles[95] == pytest.approx(np.percentile(finite, 95))
    assert stats.counts.sum() == finite.size and stats.counts.size == 10
    assert stats.edges[0] == finite.min() and stats.edges[-1] == finite.max()


def test_cell_stats_of_an_all_nan_cell():
    states = np.full((5, 1), np.nan, np.float32)
    stats = SourceEngine(ArraySource(states)).cell_stats(0)
    assert stats.nan_count == 5 and np.isnan(stats.mean) and stats.counts.sum() == 0


def test_compiled_encoder_equals_the_reference():
    from hiddenscope.server.engine.index import TOP, encode, encode_transposed

    rng = np.random.default_rng(0)
    values = (rng.standard_normal((500, 7)) * 3).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    values[3, 1], values[4, 2], values[5, 6] = np.inf, -np.inf, np.inf
    lo = np.array([-1, -3, 0, -0.5, -9, 0, 2], np.float32)
    scale = np.array([TOP / 2, 1000.5, 0, 7.25, TOP / 18, 1e-3, 0], np.float32)
    out = np.empty((7, 500), np.uint16)
    encode_transposed(values, lo, scale, out)
    np.testing.assert_array_equal(out, encode(values, lo, scale).T)


@pytest.mark.parametrize("transform, coarse, nan_rate", [
    ("tanh", False, 0.0), ("tanh", False, 0.1), ("none", True, 0.05), ("none", False, 0.0)])
def test_cell_stats_from_the_index_equal_the_scan(tmp_path, transform, coarse, nan_rate):
    states, offsets = make_states(27, [300, 200], 4, nan_rate=nan_rate, coarse=coarse)
    states[:, 3] = 0.25  # a constant cell
    source = ArraySource(states, offsets, transform, fingerprint="x")
    indexed = SourceEngine(source, tmp_path)
    indexed.build_index(progress=False)
    plain = SourceEngine(source)
    for cell in range(4):
        for bins in (1, 7, 50):
            got, want = indexed.cell_stats(cell, bins), plain.cell_stats(cell, bins)
            assert (got.min, got.max, got.median, got.nan_count) == (want.min, want.max,
                                                                     want.median, want.nan_count)
            assert got.percentiles == pytest.approx(want.percentiles, rel=1e-12, abs=1e-12)
            assert got.mean == pytest.approx(want.mean, rel=1e-12, abs=1e-12)
            np.testing.assert_array_equal(got.counts, want.counts)
            np.testing.assert_array_equal(got.edges, want.edges)


def test_cell_stats_with_infinite_values(tmp_path):
    states, offsets = make_states(28, [100], 2)
    states[5, 0], states[9, 0] = np.inf, -np.inf
    source = ArraySource(states, offsets, "none", fingerprint="x")
    indexed = SourceEngine(source, tmp_path)
    indexed.build_index(progress=False)
    got, want = indexed.cell_stats(0, 10), SourceEngine(source).cell_stats(0, 10)
    assert (got.min, got.max) == (-np.inf, np.inf) == (want.min, want.max)
    np.testing.assert_array_equal(got.counts, want.counts)
    assert got.counts.sum() == 98  # the histogram holds the finite values
