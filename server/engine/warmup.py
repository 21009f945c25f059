"""Compile the engine's numba kernels ahead of the first query.

The kernels are compiled with ``cache=True``, so a process finds them on disk after the
first compilation (at install time through ``python -m hiddenscope.server.engine.warmup``,
or in the server's background at start); :func:`warm_up` runs a tiny select, match and
cell statistics through both paths (scan and index), with the argument types real
queries use, so every kernel specialisation is compiled or loaded before a user waits.
"""
from __future__ import annotations

import numpy as np

from . import summary
from .engine import SourceEngine
from .query import MatchQuery, SelectQuery
from .source import ArraySource


class MemoryStorage:
    """An ``IndexStorage`` held in memory (warm-up and tests; nothing is written to disk)."""

    def __init__(self) -> None:
        self._manifest: dict | None = None
        self._files: dict[str, bytearray] = {}
        self.invalid = False

    def manifest(self) -> dict | None:
        return None if self.invalid else self._manifest

    def state(self) -> str:
        if self._manifest is None:
            return "missing"
        return "stale" if self.invalid else "fresh"

    def invalidate(self, why: str) -> None:
        self.invalid = True

    def writable(self) -> bool:
        return True

    def read_into(self, manifest: dict, name: str, offset: int, out: np.ndarray) -> None:
        view = memoryview(out).cast("B")
        view[:] = self._files[name][offset : offset + view.nbytes]

    def reader(self, manifest: dict, name: str):
        storage = self

        class Reader:
            def read(self, offset: int, out: np.ndarray) -> None:
                storage.read_into(manifest, name, offset, out)

            def __enter__(self):
                return self

            def __exit__(self, *exc) -> None:
                return None

        return Reader()

    def new_build(self):
        storage, files = self, {}

        class Build:
            def create(self, name: str, nbytes: int) -> None:
                files[name] = bytearray(nbytes)

            def write(self, name: str, offset: int, data: np.ndarray) -> None:
                raw = np.ascontiguousarray(data).tobytes()
                files[name][offset : offset + len(raw)] = raw

            def read(self, name: str, offset: int, out: np.ndarray) -> None:
                view = memoryview(out).cast("B")
                view[:] = files[name][offset : offset + view.nbytes]

            def discard(self, name: str) -> None:
                del files[name]

            def commit(self, layout: dict) -> None:
                storage._files = files
                storage._manifest = {"files": {n: {"name": n} for n in files}, "layout": layout}
                storage.invalid = False

            def abort(self) -> None:
                files.clear()

        return Build()


def warm_up() -> None:
    """Run every kernel once on tiny data (about a second once compiled; minutes the first
    time on a fresh install, which is why the server does it in the background)."""
    rng = np.random.default_rng(0)
    states = rng.standard_normal((300, 70)).astype(np.float32)
    for transform in ("tanh", "none"):
        source = ArraySource(states, np.array([0, 120, 300]), transform, fingerprint="warm-up")
        storage = MemoryStorage()
        indexed = SourceEngine(source, storage)
        indexed.build_index()
        for engine in (SourceEngine(source), indexed):
            for pads in ((0, 0), (1, 0), (0, 1), (1, 1), (2, 2)):
                query = MatchQuery(tuple(range(0, 70, 3)), 0.3, *pads, limit=5)
                engine.align(query, engine.match(query).matches, 3, 20)
                engine.match(MatchQuery((1, 2), 0.3, *pads, limit=5))  # pairs.py
                engine.match(MatchQuery((1, 2), 0.3, *pads, max_len=4, limit=5))  # sweep.py
            found = engine.candidates(MatchQuery((1, 2), 0.3))
            summary.phrases(np.arange(300) % 7, np.array(list("abcdefg"), dtype=object),
                            found.start, found.end)  # match?summary=true's kernels
            engine.select(SelectQuery(10, 12, 0.3, 1, 1))
            engine.cell_stats(3)
            engine.on_count([1, 2], 0.3, 0, 50)


if __name__ == "__main__":
    warm_up()
