"""The index's cached per-cell on-bit rows (index.RowCache): warm queries built from them
equal the scan and the oracle, across overlapping cell sets, thresholds, evictions,
segments and rebuilds; the bit-row kernels equal numpy's packbits."""
from __future__ import annotations

import gc
import tempfile

import numpy as np
import pytest
from engine_helpers import PROPERTY, make_states
from hiddenscope.server.engine import ArraySource, MatchQuery, SourceEngine, apply_transform
from hiddenscope.server.engine import index as index_mod
from hiddenscope.server.engine import scan as scan_mod
from hiddenscope.server.store import IndexFiles
from hypothesis import given
from hypothesis import strategies as st
from oracle import match as oracle_match


def _indexed(states, offsets, transform, folder, rows, threads=None):
    source = ArraySource(states, offsets, transform, fingerprint="rows")
    files = IndexFiles(folder, source)
    engine = SourceEngine(source, files, chunk=5, threads=threads)
    engine.build_index()
    engine.index = index_mod.CodeIndex(source, files, chunk=5, rows=rows)  # this test's cache
    return engine


def _rows(engine, query):
    got = engine.match(query)
    return got.candidates, [(m.start, m.end, m.length, m.overlap, m.union, m.extra)
                            for m in got.matches]


@PROPERTY
@given(st.integers(0, 2**31), st.integers(1, 12), st.sampled_from(["tanh", "none"]),
       st.sampled_from([0, 100, 1 << 20]), st.data())
def test_warm_queries_equal_the_oracle(seed, D, transform, limit_bytes, data):
    """Several queries in a row on one engine (cells shared between them, two thresholds,
    padding): each equals the oracle whether its rows came from codes or from the cache.
    ``limit_bytes`` 0: nothing is kept; 100: rows evicted all the time; 1 MiB: all kept."""
    lengths = data.draw(st.lists(st.integers(1, 50), min_size=1, max_size=4))
    states, offsets = make_states(seed, lengths, D, coarse=data.draw(st.booleans()),
                                  nan_rate=data.draw(st.sampled_from([0.0, 0.05])))
    thresholds = [0.3, data.draw(st.sampled_from([0.0, 0.25, -0.5]))]
    with tempfile.TemporaryDirectory() as folder:
        engine = _indexed(states, offsets, transform, folder, index_mod.RowCache(limit_bytes))
        for _ in range(data.draw(st.integers(2, 5))):
            cells = data.draw(st.lists(st.integers(0, D - 1), min_size=1, max_size=6))
            threshold = data.draw(st.sampled_from(thresholds))
            zl, zr = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
            everything, total = oracle_match(states, offsets, transform, threshold, cells, zl,
                                             zr, 1, 1, None, 10**9)
            query = MatchQuery(cells, threshold, zl, zr, limit=7)
            for _ in range(2):  # the second one reads the cached rows when they were kept
                assert _rows(engine, query) == (total, everything[:7])


@pytest.mark.parametrize("read_blocks", [index_mod.READ_BLOCKS, 1])
def test_many_blocks_two_segments_and_a_rebuild(tmp_path, monkeypatch, read_blocks):
    """Rows filled by two segments (one read block shared), then answered from the cache
    alone (the codes file is gone: any read would fail), then a rebuild over other numbers
    is never answered from the old rows. With one block per read, each segment reads
    several spans, the next one while the last is computed."""
    monkeypatch.setattr(index_mod, "READ_BLOCKS", read_blocks)
    B = index_mod.BLOCK
    lengths = [B + 17, 5, 2 * B - 40, 3 * B // 2]
    states, offsets = make_states(40, lengths, 5, nan_rate=0.01, coarse=True)
    rows = index_mod.RowCache(1 << 24)
    engine = _indexed(states, offsets, "none", tmp_path, rows, threads=2)
    plain = SourceEngine(engine.source)
    queries = [MatchQuery([0, 2, 4], 0.25, limit=40), MatchQuery([1, 2], 0.0, 1, 2, limit=9)]
    first = [engine.match(q) for q in queries]
    assert first == [plain.match(q) for q in queries]
    assert len(rows.rows) == 5 and all(all(done) for _, done in rows.rows.values())
    storage, opened = engine.index.storage, []

    class NoReads:  # only the cache may answer now: a read of codes fails the test
        def __init__(self, manifest, name):
            opened.append(name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, offset, out):
            raise AssertionError(f"codes read at byte {offset}")

    storage.reader = NoReads
    assert [engine.match(q) for q in queries] == first and opened == ["codes", "codes"] * 2
    del storage.reader
    other = ArraySource(states[::-1].copy(), offsets, "none", fingerprint="other")
    rebuilt = _indexed(states[::-1].copy(), offsets, "none", tmp_path / "b", rows, threads=2)
    for q in queries:  # the same cache: another build, other keys
        assert rebuilt.match(q) == SourceEngine(other).match(q)
    assert len(rows.rows) == 10
    del engine  # a dropped engine's rows go with it
    gc.collect()
    assert len(rows.rows) == 5 and rows.used == 5 * 8 * -(-states.shape[0] // 64)


def test_rows_are_evicted_least_recently_used_first():
    cache = index_mod.RowCache(3 * 8 * 2)  # three rows of T = 128 (two words each)
    a, b, c = (cache.get(("x", k), 128) for k in range(3))
    assert cache.get(("x", 0), 128) is a  # used again: 1 is now the oldest
    cache.get(("x", 3), 128)
    assert list(cache.rows) == [("x", 2), ("x", 0), ("x", 3)] and cache.used == 48
    assert index_mod.RowCache(8).get(("x", 0), 128) is None  # larger than the budget


@given(st.integers(1, 70), st.one_of(st.integers(1, 300), st.integers(300, 5000)),
       st.integers(0, 2**31))
def test_row_kernels_equal_packbits(m, n, seed):
    rng = np.random.default_rng(seed)
    on = rng.random((m, n)) < rng.random()
    W = (m + 63) // 64
    bits = np.zeros((W * 64, n), bool)
    bits[:m] = on
    masks = np.packbits(bits.reshape(W, 64, n), axis=1, bitorder="little")  # W, 8, n
    masks = np.ascontiguousarray(masks.transpose(0, 2, 1)).view("<u8")[:, :, 0]
    nw = -(-n // 64)
    rows = np.zeros((m, nw * 64), bool)
    rows[:, :n] = on
    rows = np.packbits(rows, axis=1, bitorder="little").view("<u8")
    got = np.empty((W, n), np.uint64)
    index_mod.rows_to_masks(rows, got)
    np.testing.assert_array_equal(got, masks)
    back = np.empty((m, nw), np.uint64)
    index_mod.masks_to_rows(masks, m, back)
    np.testing.assert_array_equal(back, rows)


def test_a_failed_read_of_codes_is_reported_and_waited_for(tmp_path, monkeypatch):
    """A read of codes that fails on an I/O thread reaches the query (the engine then scans,
    with the same answer), and no prefetched read is left running into a closed file."""
    monkeypatch.setattr(index_mod, "READ_BLOCKS", 1)
    B = index_mod.BLOCK
    states, offsets = make_states(41, [3 * B + 5], 4, coarse=True)
    engine = _indexed(states, offsets, "none", tmp_path, index_mod.RowCache(0), threads=1)
    storage, calls = engine.index.storage, []
    real = storage.reader

    def failing(manifest, name):
        inner = real(manifest, name)
        if name != "codes":
            return inner

        class Reader:
            def __enter__(self):
                inner.__enter__()
                return self

            def __exit__(self, *exc):
                calls.append("closed")
                return inner.__exit__(*exc)

            def read(self, offset, out):
                if offset >= states.shape[0] + B:  # cell 1, second span on
                    calls.append("failed")
                    raise OSError("disk error")
                calls.append("read")
                inner.read(offset, out)

        return Reader()

    storage.reader = failing
    query = MatchQuery([0, 1, 3], 0.25, limit=20)
    assert engine.match(query) == SourceEngine(engine.source).match(query)
    assert "failed" in calls and calls.count("closed") == 1
    assert calls[-1] == "closed"  # the file was closed after every read had finished


@PROPERTY
@given(st.integers(0, 2**31), st.integers(1, 9), st.sampled_from(["tanh", "none"]),
       st.sampled_from([0, 1 << 20]), st.data())
def test_align_after_a_match_counts_from_the_cached_rows(seed, D, transform, limit_bytes,
                                                         data):
    """After a match, align's on-counts come from the cached rows (no state is read then)
    and equal numpy's count over the transformed values; with nothing kept it reads."""
    lengths = data.draw(st.lists(st.integers(1, 90), min_size=1, max_size=4))
    states, offsets = make_states(seed, lengths, D, coarse=data.draw(st.booleans()),
                                  nan_rate=data.draw(st.sampled_from([0.0, 0.05])))
    values = apply_transform(states, transform).astype(np.float64)
    cells = data.draw(st.lists(st.integers(0, D - 1), min_size=1, max_size=6))
    threshold = data.draw(st.sampled_from([0.3, 0.0, -0.5]))
    left, right = data.draw(st.integers(0, 70)), data.draw(st.integers(0, 70))
    query = MatchQuery(cells, threshold, data.draw(st.integers(0, 2)), 0, limit=20)
    with tempfile.TemporaryDirectory() as folder:
        engine = _indexed(states, offsets, transform, folder, index_mod.RowCache(limit_bytes))
        matches = engine.match(query).matches
        read = []
        real = scan_mod.on_count
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(scan_mod, "on_count", lambda *a, **k: read.append(a) or real(*a, **k))
            windows = engine.align(query, matches, left, right, window_max=60)
    assert bool(read) == (limit_bytes == 0 and bool(matches))
    for w in windows:
        on = values[w.window_start : w.window_end + 1][:, sorted(set(cells))] >= threshold
        assert w.on_count.dtype == np.int32 and w.on_count.tolist() == on.sum(1).tolist()


def test_cached_on_counts_need_every_row_and_block(tmp_path):
    """A cell never matched, another threshold, or a block not yet filled: None (the caller
    reads); the rows of a match: counts across words and blocks."""
    B = index_mod.BLOCK
    states, offsets = make_states(5, [B + 100, B // 2], 4, coarse=True)
    rows = index_mod.RowCache(1 << 24)
    engine = _indexed(states, offsets, "none", tmp_path, rows, threads=1)
    index, manifest = engine.index, engine.index.fresh()
    cells = np.array([0, 2])
    engine.match(MatchQuery(cells.tolist(), 0.1, limit=3))
    windows = [(0, 5), (B - 70, B + 60), (len(states) - 9, len(states) - 1)]
    got = index.cached_on_counts(manifest, cells, 0.1, windows)
    for (a, b), counts in zip(windows, got, strict=True):
        assert counts.tolist() == (states[a : b + 1][:, cells] >= np.float32(0.1)).sum(1).tolist()
    assert index.cached_on_counts(manifest, np.array([0, 1]), 0.1, windows) is None
    assert index.cached_on_counts(manifest, cells, 0.2, windows) is None
    for _, done in rows.rows.values():
        done[1] = 0  # the second block not filled
    assert index.cached_on_counts(manifest, cells, 0.1, windows[:1]) is not None
    assert index.cached_on_counts(manifest, cells, 0.1, windows[1:2]) is None
