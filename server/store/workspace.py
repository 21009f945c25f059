"""The workspace of a catalog: one engine per (data set, source), its index files, the locks,
and the background builder of missing or stale indexes.

A resource has one owner (STYLE.md): handlers and the CLI ask the workspace for an engine
and never build an index themselves. The store does not import the engine: the API layer
hands in ``engine_factory(source, index_files) -> engine``; an engine has
``index_state()`` and ``build_index(progress)``.

Lifecycle of an index as the data set summary shows it: ``missing`` or ``stale`` (queries
scan) -> ``building`` with a percent (queries still scan; they never wait for the build)
-> ``fresh`` (queries use it). ``unavailable``: no writable place for it (queries scan).
Builds run one at a time on one daemon thread; progress goes to the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .catalog import Catalog
from .dataset import Dataset
from .indexfiles import IndexFiles, index_folder

log = logging.getLogger("hiddenscope.index")


@dataclass
class Building:
    """The build in progress: which source and how far (0..1)."""

    key: tuple[str, str]
    fraction: float = 0.0


class Workspace:
    """Engines, index files and builds of the data sets of ``catalog``."""

    def __init__(self, catalog: Catalog, engine_factory: Callable,
                 warm_up: Callable[[], None] | None = None) -> None:
        self.catalog = catalog
        self.engine_factory = engine_factory
        self.warm_up = warm_up
        self._engines: dict[tuple[str, str], tuple[IndexFiles, object]] = {}
        self._files: dict[tuple[str, str], IndexFiles] = {}
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()  # one build at a time, in this process
        self.building: Building | None = None
        self.failed: dict[tuple[str, str], str] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- look-ups --------------------------------------------------------------------
    def index_files(self, ds: Dataset, source_id: str) -> IndexFiles:
        """The index files of a source; made anew when the catalog reloaded the data set
        (a new source object), so nothing keeps reading through a closed file."""
        key, source = (ds.id, source_id), ds.sources[source_id]
        with self._lock:
            files = self._files.get(key)
            if files is None or files.source is not source:
                files = self._files[key] = IndexFiles(
                    index_folder(ds.folder, ds.id, source_id), source)
            return files

    def engine(self, ds: Dataset, source_id: str):
        """The kept engine of a source (created on first use or after a reload of the data
        set; it never builds its index)."""
        files = self.index_files(ds, source_id)
        key = (ds.id, source_id)
        with self._lock:
            kept = self._engines.get(key)
            if kept is None or kept[0] is not files:
                kept = self._engines[key] = (files, self.engine_factory(files.source, files))
            return kept[1]

    def forget(self, dataset_id: str) -> None:
        """Drop the engines and index files of a data set the catalog replaced or removed
        (they hold its old sources); its index on disk stays, checked again on next use."""
        with self._lock:
            for cache in (self._engines, self._files, self.failed):
                for key in [k for k in cache if k[0] == dataset_id]:
                    cache.pop(key, None)

    def index_status(self, ds: Dataset) -> dict[str, dict]:
        """Per source: ``{"state": fresh|missing|stale|building|unavailable, "percent"}``
        (percent of the build in progress, 100 when fresh, else 0)."""
        out = {}
        for source_id in ds.sources:
            files = self.index_files(ds, source_id)
            building = self.building
            if building is not None and building.key == (ds.id, source_id):
                out[source_id] = {"state": "building",
                                  "percent": round(100 * building.fraction, 1)}
                continue
            state = self.engine(ds, source_id).index_state()
            if state != "fresh" and not files.writable():
                state = "unavailable"
            out[source_id] = {"state": state, "percent": 100.0 if state == "fresh" else 0.0}
        return out

    # --- builds ----------------------------------------------------------------------
    def build(self, ds: Dataset, source_id: str, force: bool = False) -> bool:
        """Build one source's index now unless fresh (``force``: always). Returns whether it
        built. Queries keep answering by scanning meanwhile."""
        engine = self.engine(ds, source_id)
        with self._build_lock:
            if not force and engine.index_state() == "fresh":
                return False
            self.building = Building((ds.id, source_id))
            began, last = time.perf_counter(), [0.0]

            def progress(fraction: float) -> None:
                self.building.fraction = max(0.0, min(1.0, fraction))
                if time.perf_counter() - last[0] > 5:
                    last[0] = time.perf_counter()
                    log.info("index %s / %s: %.0f%%", ds.id, source_id, 100 * fraction)

            try:
                engine.build_index(progress)
            finally:
                self.building = None
            log.info("index %s / %s: built in %.1f s", ds.id, source_id,
                     time.perf_counter() - began)
            return True

    def pending(self) -> list[tuple[Dataset, str]]:
        """Sources whose index is missing or stale and could be built (writable folder)."""
        out = []
        for _, entry in sorted(self.catalog.entries.items()):
            ds = entry.dataset
            if ds is None:
                continue
            for source_id in ds.sources:
                if (ds.id, source_id) in self.failed:
                    continue
                if (self.engine(ds, source_id).index_state() != "fresh"
                        and self.index_files(ds, source_id).writable()):
                    out.append((ds, source_id))
        return out

    def start_background(self, poll: float = 30.0) -> threading.Thread:
        """Warm the engine's kernels, then build every pending index, one at a time, and keep
        checking every ``poll`` seconds (an index found stale later is rebuilt too)."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(poll,), daemon=True,
                                        name="hiddenscope-index")
        self._thread.start()
        return self._thread

    def _run(self, poll: float) -> None:
        if self.warm_up is not None:
            try:
                self.warm_up()
            except Exception:  # a failed warm-up costs only the first query's compile time
                log.exception("warming the engine's kernels failed")
        while not self._stop.is_set():
            for ds, source_id in self.pending():
                if self._stop.is_set():
                    return
                try:
                    self.build(ds, source_id)
                except Exception as exc:  # e.g. a full disk: scan, and say why in the log
                    self.failed[(ds.id, source_id)] = str(exc)
                    log.exception("index %s / %s: build failed; queries scan", ds.id, source_id)
            self._stop.wait(poll)

    def idle(self) -> bool:
        """True when nothing is building or waiting to be built."""
        return self.building is None and not self.pending()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the background thread to stop after the current build; wait ``timeout``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
