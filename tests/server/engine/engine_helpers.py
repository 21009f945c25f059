"""Shared helpers for the engine tests: small random states and engines with/without index."""
from __future__ import annotations

import numpy as np
from hiddenscope.server.engine import ArraySource, SourceEngine
from hiddenscope.server.store import IndexFiles
from hypothesis import HealthCheck, settings

# One settings object for the property tests (a profile would change other suites too).
PROPERTY = settings(max_examples=120, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow])


def make_states(seed: int, lengths: list[int], D: int, nan_rate: float = 0.0,
                coarse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(float32[T, D], offsets int64[N+1])``: smoothed noise (so cells have runs),
    optionally rounded to a coarse grid (ties with the threshold) and with NaN."""
    rng = np.random.default_rng(seed)
    T = sum(lengths)
    noise = rng.standard_normal((T + 3, D))
    states = (noise[:-3] + noise[1:-2] + noise[2:-1] + noise[3:]) / 2
    if coarse:
        states = np.round(states * 4) / 4
    states = states.astype(np.float32)
    if nan_rate:
        states[rng.random((T, D)) < nan_rate] = np.nan
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return states, offsets


def engines(states, offsets, transform, index_dir, chunk=7) -> list[SourceEngine]:
    """The same source answered by the chunked scan, by a freshly built index (the store's
    files), and by an engine whose index went stale (the states changed after the build:
    it must scan, never read the old index)."""
    source = ArraySource(states, offsets, transform, fingerprint="test")
    plain = SourceEngine(source, chunk=chunk)
    indexed = SourceEngine(source, IndexFiles(index_dir, source), chunk=chunk)
    indexed.build_index()
    assert indexed.index_state() == "fresh"
    old = ArraySource(-states, offsets, transform, fingerprint="test-old")
    stale_files = IndexFiles(f"{index_dir}/stale", old)
    SourceEngine(old, stale_files).build_index()
    stale_files.source = source  # the same folder, now describing other numbers
    stale = SourceEngine(source, stale_files, chunk=chunk)
    assert stale.index_state() == "stale"
    return [plain, indexed, stale]
