"""The index (freshness, chunked build) and the plain reads: on_count, values, cell_stats."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from engine_helpers import make_states
from hiddenscope.server.engine import (
    ArraySource,
    EngineError,
    MatchQuery,
    SourceEngine,
    apply_transform,
)
from hiddenscope.server.store import IndexFiles


def indexed(states, offsets, folder, transform="tanh", fingerprint="v1", chunk=7):
    source = ArraySource(states, offsets, transform, fingerprint=fingerprint)
    engine = SourceEngine(source, IndexFiles(folder, source), chunk=chunk)
    engine.build_index()
    assert engine.index_state() == "fresh"
    return engine


def test_stale_index_is_detected_and_never_used(tmp_path):
    states, offsets = make_states(20, [50, 40], 6)
    indexed(states, offsets, tmp_path)
    changed = -states  # different numbers, so a different fingerprint
    source = ArraySource(changed, offsets, "tanh", fingerprint="v2")
    engine = SourceEngine(source, IndexFiles(tmp_path, source))
    assert engine.index_state() == "stale"
    expected = SourceEngine(source).match(MatchQuery([0, 2, 3], 0.2, limit=20))
    assert engine.match(MatchQuery([0, 2, 3], 0.2, limit=20)) == expected
    assert engine.index_state() == "stale"  # a query never builds
    engine.build_index()
    assert engine.index_state() == "fresh"
    assert engine.match(MatchQuery([0, 2, 3], 0.2, limit=20)) == expected


def test_same_fingerprint_other_numbers_is_stale(tmp_path):
    """States edited in place behind an unchanged fingerprint: the content sample differs."""
    states, offsets = make_states(29, [64], 5)
    indexed(states, offsets, tmp_path, fingerprint="same")
    edited = states.copy()
    edited[::7] += 1.0  # rows the sample reads (first, last and spread ones) change
    source = ArraySource(edited, offsets, "tanh", fingerprint="same")
    engine = SourceEngine(source, IndexFiles(tmp_path, source))
    assert engine.index_state() == "stale"
    query = MatchQuery([1, 2], 0.3)
    assert engine.match(query) == SourceEngine(source).match(query)


@pytest.mark.parametrize("change", ["shape", "transform", "version", "checksum"])
def test_manifest_mismatch_is_stale(tmp_path, change):
    states, offsets = make_states(21, [30], 4)
    engine = indexed(states, offsets, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    body = manifest["body"]
    if change == "shape":
        body["source"]["shape"] = [1, 1]
    elif change == "transform":
        body["source"]["transform"] = "none"
    elif change == "version":
        body["layout"]["version"] = -1
    else:
        body["layout"]["lo"][0] = 0.5  # an edit the manifest's own checksum catches
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    if change != "checksum":
        from hiddenscope.server.store.indexfiles import _body_checksum

        manifest["checksum"] = _body_checksum(body)
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert engine.index_state() == "stale"


def _codes_file(folder, name="codes"):
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder / manifest["body"]["files"][name]["name"]


@pytest.mark.parametrize("name", ["codes", "lows", "groups", "checks"])
@pytest.mark.parametrize("keep_times", [False, True])
def test_index_overwritten_with_random_bytes_never_answers_wrong(tmp_path, keep_times, name):
    states, offsets = make_states(30, [300, 200], 9)
    engine = indexed(states, offsets, tmp_path)
    plain = SourceEngine(engine.source)
    codes = _codes_file(tmp_path, name)
    before = os.stat(codes)
    noise = np.random.default_rng(0).integers(0, 256, before.st_size, dtype=np.uint8)
    with open(codes, "r+b") as f:  # same size, same inode
        f.write(noise.tobytes())
    if keep_times:  # as if nothing had changed: only the block checksums can tell
        os.utime(codes, ns=(before.st_atime_ns, before.st_mtime_ns))
        engine.index.storage._check = lambda: ("fresh", engine.index.storage._read(
            tmp_path / "manifest.json"))  # and the file identity check is fooled too
    for cells in ([0, 3, 5], [1]):
        query = MatchQuery(cells, 0.3, limit=30)
        assert engine.match(query) == plain.match(query)
        got, want = engine.cell_stats(cells[0], 7), plain.cell_stats(cells[0], 7)
        assert (got.min, got.max, got.median) == (want.min, want.max, want.median)
        np.testing.assert_array_equal(got.counts, want.counts)
    if not keep_times:
        assert engine.index_state() == "stale"


@pytest.mark.parametrize("name", ["codes", "lows"])
def test_one_changed_byte_anywhere_never_answers_wrong(tmp_path, name):
    """One byte of an index file changed in place (size, times and identity kept): at a
    round threshold, at one a little off and for cell statistics every answer equals the
    scan (a checksum, a head, a section or a count notices, or the byte was not read). In
    ``lows`` the bytes changed are cell 2's, which its statistics read whole (but for the
    round-threshold sections, which only a match at such a threshold reads)."""
    states, offsets = make_states(31, [300, 200], 6, nan_rate=0.02)
    plain = SourceEngine(ArraySource(states, offsets, "tanh", fingerprint="v1"))
    queries = [MatchQuery([0, 2, 5], 0.3, limit=30), MatchQuery([1, 4], 0.3000001, 1, 1)]
    want = [plain.match(q) for q in queries]
    noticed = []
    for k in range(12):
        folder = tmp_path / str(k)
        engine = indexed(states, offsets, folder)
        path = _codes_file(folder, name)
        st = os.stat(path)
        first, end = 0, st.st_size  # codes: the whole file; lows: cell 2's region
        if name == "lows":
            groups = np.fromfile(_codes_file(folder, "groups"), np.uint64).reshape(6, 257)
            first, end = int(groups[2, 0]), int(groups[2, 256])
        at = first + (k * 7919) % (end - first)  # spread over it
        with open(path, "r+b") as f:
            f.seek(at)
            byte = f.read(1)[0]
            f.seek(at)
            f.write(bytes([byte ^ (1 << (k % 8))]))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        files = engine.index.storage
        files._check = lambda files=files, folder=folder: ("fresh", files._read(
            folder / "manifest.json"))
        files.invalidate = noticed.append
        assert [engine.match(q) for q in queries] == want, (name, at)
        got, ref = engine.cell_stats(2, 7), plain.cell_stats(2, 7)
        assert (got.min, got.max, got.median) == (ref.min, ref.max, ref.median)
        np.testing.assert_array_equal(got.counts, ref.counts)
    assert len(noticed) >= 6  # most changes lie in bytes a query or the statistics read


def test_cell_stats_never_come_from_a_corrupt_index(tmp_path):
    states, offsets = make_states(31, [400], 3)
    engine = indexed(states, offsets, tmp_path)
    codes = _codes_file(tmp_path)
    st = os.stat(codes)
    with open(codes, "r+b") as f:
        f.seek(400 + 10)  # inside cell 1 (one high byte per step)
        f.write(b"\x00\x01\x02\x03")
    os.utime(codes, ns=(st.st_atime_ns, st.st_mtime_ns))
    files = engine.index.storage
    files._check = lambda: ("fresh", files._read(tmp_path / "manifest.json"))
    got, want = engine.cell_stats(1, 9), SourceEngine(engine.source).cell_stats(1, 9)
    assert (got.min, got.max, got.median) == (want.min, want.max, want.median)
    np.testing.assert_array_equal(got.counts, want.counts)
    invalid = []
    files.invalidate = invalid.append
    engine.cell_stats(1, 9)
    assert invalid and "checksum" in invalid[0]


def test_leftovers_of_a_killed_build_are_removed(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    dead = tmp_path / "codes-abc.999999999.tmp"  # no such process
    mine = tmp_path / f"codes-def.{os.getpid()}.tmp"  # a build of this process
    dead.write_bytes(b"x" * 100)
    mine.write_bytes(b"y")
    states, offsets = make_states(32, [30], 3)
    files = IndexFiles(tmp_path, ArraySource(states, offsets, "tanh"))
    assert not dead.exists() and mine.exists()
    assert files.state() == "missing"


def test_missing_index_is_never_built_by_a_query(tmp_path):
    states, offsets = make_states(22, [30, 30], 5)
    source = ArraySource(states, offsets, "tanh")
    engine = SourceEngine(source, IndexFiles(tmp_path / "idx", source))
    assert engine.index_state() == "missing"
    result = engine.match(MatchQuery([1, 2], 0.1))
    assert engine.index_state() == "missing"
    plain = SourceEngine(ArraySource(states, offsets, "tanh"))
    assert result == plain.match(MatchQuery([1, 2], 0.1))
    assert not (tmp_path / "idx").exists()


def test_no_index_storage():
    engine = SourceEngine(ArraySource(np.zeros((3, 2), np.float32)))
    assert engine.index_state() == "missing"
    with pytest.raises(EngineError, match="index"):
        engine.build_index()


@pytest.mark.parametrize("transform", ["tanh", "none"])
def test_index_built_in_tiny_chunks_is_identical(tmp_path, transform):
    states, offsets = make_states(23, [37, 26], 7, nan_rate=0.05)
    files = []
    for chunk in (3, 1 << 16):
        folder = tmp_path / str(chunk)
        indexed(states, offsets, folder, transform, "x", chunk)
        manifest = json.loads((folder / "manifest.json").read_text())["body"]
        files.append((_codes_file(folder).read_bytes(), manifest["layout"]))
    assert files[0] == files[1]


def test_rebuild_replaces_the_files(tmp_path):
    states, offsets = make_states(24, [20], 3)
    engine = indexed(states, offsets, tmp_path)
    engine.build_index()
    assert len(list(tmp_path.glob("codes-*.bin"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


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


@pytest.mark.parametrize("n", [500, 64, 1])
def test_compiled_encoder_equals_the_reference(n):
    from hiddenscope.server.engine.index import TOP, encode, encode_chunk

    rng = np.random.default_rng(0)
    values = (rng.standard_normal((n, 7)) * 3).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    if n > 10:
        values[3, 1], values[4, 2], values[5, 6] = np.inf, -np.inf, np.inf
        values[6, 6], values[7, 3] = -np.inf, np.inf  # inf + -inf in one cell: NaN sum
    lo = np.array([-1, -3, 0, -0.5, -9, 0, 2], np.float32)
    scale = np.array([TOP / 2, 1000.5, 0, 7.25, TOP / 18, 1e-3, 0], np.float32)
    out = np.empty((7, n), np.uint16)
    sums = np.ones(7)  # added to
    encode_chunk(values, lo, scale, out, sums)
    np.testing.assert_array_equal(out, encode(values, lo, scale).T)
    with np.errstate(invalid="ignore"):
        want = 1 + np.nansum(values, axis=0, dtype=np.float64)
    np.testing.assert_allclose(sums, want, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("transform, coarse, nan_rate", [
    ("tanh", False, 0.0), ("tanh", False, 0.1), ("none", True, 0.05), ("none", False, 0.0)])
def test_cell_stats_from_the_index_equal_the_scan(tmp_path, transform, coarse, nan_rate):
    states, offsets = make_states(27, [300, 200], 4, nan_rate=nan_rate, coarse=coarse)
    states[:, 3] = 0.25  # a constant cell
    source = ArraySource(states, offsets, transform, fingerprint="x")
    indexed = SourceEngine(source, IndexFiles(tmp_path, source))
    indexed.build_index()
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
    indexed = SourceEngine(source, IndexFiles(tmp_path, source))
    indexed.build_index()
    got, want = indexed.cell_stats(0, 10), SourceEngine(source).cell_stats(0, 10)
    assert (got.min, got.max) == (-np.inf, np.inf) == (want.min, want.max)
    np.testing.assert_array_equal(got.counts, want.counts)
    assert got.counts.sum() == 98  # the histogram holds the finite values


def test_many_blocks_and_segments_equal_the_scan(tmp_path):
    """Several checksum blocks per read, reads not aligned with sequences, two segments."""
    from hiddenscope.server.engine.index import BLOCK

    lengths = [BLOCK + 17, 5, 2 * BLOCK - 40, 3 * BLOCK // 2]
    states, offsets = make_states(33, lengths, 7, nan_rate=0.01, coarse=True)
    engine = indexed(states, offsets, tmp_path, "none", chunk=1 << 16)
    plain = SourceEngine(engine.source)
    for query in (MatchQuery([0, 2, 5], 0.25, limit=40), MatchQuery([1, 6], 0.0, 1, 2, limit=9),
                  MatchQuery([3], 10.0), MatchQuery([4], -10.0, limit=3)):
        assert engine.match(query) == plain.match(query)
        got, want = engine.candidates(query), plain.candidates(query)
        assert np.array_equal(got.start, want.start) and np.array_equal(got.overlap, want.overlap)
    # two flipped high bytes in the third block of cell 5: the match on cell 5 notices, scans
    codes = _codes_file(tmp_path)
    st = os.stat(codes)
    T = states.shape[0]
    with open(codes, "r+b") as f:
        f.seek(5 * T + 2 * BLOCK + 3)
        f.write(b"\xff\xff")
    os.utime(codes, ns=(st.st_atime_ns, st.st_mtime_ns))
    files = engine.index.storage
    files._check = lambda: ("fresh", files._read(tmp_path / "manifest.json"))
    invalid = []
    files.invalidate = invalid.append
    query = MatchQuery([5, 6], 0.1, limit=30)
    assert engine.match(query) == plain.match(query)
    assert invalid and "cell 5, block 2" in invalid[0]


def test_files_replaced_during_a_query_fall_back_to_the_scan(tmp_path):
    states, offsets = make_states(34, [80, 60], 5)
    engine = indexed(states, offsets, tmp_path)
    files = engine.index.storage
    manifest = files.manifest()
    files.manifest = lambda: manifest  # the look-up saw the old build...
    _codes_file(tmp_path).unlink()  # ...whose files a new build has just removed
    query = MatchQuery([0, 1, 4], 0.2, limit=15)
    assert engine.match(query) == SourceEngine(engine.source).match(query)


@pytest.mark.parametrize("transform,read_blocks", [("none", 16), ("tanh", 16), ("none", 1)])
def test_round_thresholds_need_no_exact_reads(tmp_path, monkeypatch, transform, read_blocks):
    """Values packed around round thresholds (0.3, -0.25, 0.5 and the float32 neighbours of
    each): a round threshold is decided from the bits the index stores (no exact read of
    the states), one a little off is decided by exact reads; both equal the scan, also
    from a second segment (with one block per span: one that starts spans in, past
    earlier spans' bits) and after the rows are cached."""
    from hiddenscope.server.engine import index as index_mod

    monkeypatch.setattr(index_mod, "READ_BLOCKS", read_blocks)
    T = 3000 if read_blocks > 1 else 3 * index_mod.BLOCK + 100

    rng = np.random.default_rng(7)
    near = []
    for t in (0.3, -0.25, 0.5):
        f = np.float32(np.arctanh(t) if transform == "tanh" else t)
        near += [np.nextafter(f, np.float32(-1)), f, np.nextafter(f, np.float32(1))]
    states = rng.choice(np.array(near + [-0.9, 0.9], np.float32), (T, 4))
    states[0], states[1] = -3, 3  # the range (-1, 1) after tanh
    exact = []
    real = index_mod.CodeIndex._check_exact
    monkeypatch.setattr(index_mod.CodeIndex, "_check_exact",
                        lambda self, masks, lo, cells, thr, steps, which:
                        exact.append(steps.size) or real(self, masks, lo, cells, thr, steps,
                                                          which))
    engine = indexed(states, np.array([0, 1100, T // 2 + 50, T]), tmp_path, transform)
    engine.threads = 2
    plain = SourceEngine(engine.source)
    for threshold, reads in ((0.3, False), (-0.25, False), (0.5, False), (0.3000001, True),
                             (0.3, False)):
        exact.clear()
        query = MatchQuery([0, 1, 3], threshold, limit=30)
        assert engine.match(query) == plain.match(query)
        assert bool(exact) == reads, threshold
