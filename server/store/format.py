"""The store format in one place: schema version, file and table names, the ``dataset.yml``
mapping, and the streaming table writer.

Both writers of data set folders go through this module: the extractor
(``hiddenscope.extract.writer``, which may import this module and nothing else of the
server) and the synthetic data of tests and benchmarks (``synthetic.py``). It imports
h5py, numpy and yaml only: no torch, no web framework, no engine.

Layout of a folder (datasets/README.md documents every key)::

    dataset.yml       the config (written last, atomically: its presence means complete)
    data.h5           tokens int32[T], sequences int64[N+1], states/<layer>/<kind> float32[T, D]
                      (contiguous, uncompressed), meta/<name> [T] or [T, K]; attribute
                      ``hiddenscope_schema`` = SCHEMA_VERSION
    vocab.json        the vocabulary, a JSON list of strings (id = position)
    labels/<n>.json   the labels of a categorical meta track

Tables are preallocated at their final size (``ALLOC_TIME_EARLY``) and filled with
``os.pwrite`` from one background thread (:class:`BackgroundWrites`), so memory stays
bounded whatever ``T`` is and each table is a plain byte range the store reads with pread.
Everything is written into ``<folder>/.build/`` and moved into place by :func:`publish`; an
interrupted run leaves only ``.build/``, which the server never loads.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import yaml

SCHEMA_VERSION = 1
SCHEMA_ATTR = "hiddenscope_schema"
CONFIG_FILE = "dataset.yml"
DATA_FILE = "data.h5"
VOCAB_FILE = "vocab.json"
LABELS_DIR = "labels"
STAGING = ".build"
BUILT_FILES = (DATA_FILE, VOCAB_FILE, LABELS_DIR)
TOKENS, SEQUENCES = "tokens", "sequences"
NEXT_IDS, NEXT_PROBS = "meta/next/ids", "meta/next/probs"


# --- names -------------------------------------------------------------------------------
def state_names(layer: int, kind: str, direction: str = "forward") -> tuple[str, str, str]:
    """``(id, path, label)`` of a state table, e.g. ``layer0-cell``, ``states/layer0/cell``."""
    back = direction == "backward"
    return (
        f"layer{layer}{'-backward' if back else ''}-{kind}",
        f"states/layer{layer}{'/backward' if back else ''}/{kind}",
        f"layer {layer}{' backward' if back else ''} {kind}",
    )


def meta_path(name: str) -> str:
    return f"meta/{name}"


def sequence_meta_path(name: str) -> str:
    """A sequence-level track: ``[N]`` values, one per sequence (gold label, prediction)."""
    return f"sequence_meta/{name}"


def sequence_meta(name: str, kind: str, vis_range=None) -> dict:
    """The ``sequence_meta`` entry of a categorical or scalar sequence-level track."""
    if kind == "categorical":
        return {"file": "data", "path": sequence_meta_path(name),
                "dict": f"sequence_{name}_labels", "vis": {"type": "discrete", "range": "dict"}}
    vis: dict = {"type": "scalar"}
    if vis_range is not None:
        vis["range"] = vis_range
    return {"file": "data", "path": sequence_meta_path(name), "vis": vis}


def labels_file(name: str) -> str:
    """Where a categorical track's labels live, relative to the folder."""
    return f"{LABELS_DIR}/{name}.json"


# --- the dataset.yml mapping ------------------------------------------------------------
def source_entry(layer: int, kind: str, direction: str, transform: str, unsigned: bool) -> dict:
    """One ``states.types`` entry; every writer states ``transform`` and ``unsigned``."""
    sid, path, label = state_names(layer, kind, direction)
    return {"id": sid, "label": label, "type": kind, "layer": layer, "direction": direction,
            "path": path, "transform": transform, "unsigned": bool(unsigned)}


def categorical_meta(name: str, dict_key: str | None = None) -> dict:
    """A ``meta`` entry of int32 ids into a label list (the ``files`` key ``dict_key``)."""
    return {"file": "data", "path": meta_path(name), "dict": dict_key or f"{name}_labels",
            "vis": {"type": "discrete", "range": "dict"}}


def scalar_meta(name: str, vis_range: list[float] | str | None = None) -> dict:
    vis: dict = {"type": "scalar"}
    if vis_range is not None:
        vis["range"] = vis_range
    return {"file": "data", "path": meta_path(name), "vis": vis}


def next_meta() -> dict:
    """The top-K next-token track: ids ``[T, K]`` into the vocabulary with probabilities."""
    return {"file": "data", "path": NEXT_IDS, "type": "wordvec", "dict": "vocab",
            "weights_path": NEXT_PROBS, "vis": {"type": "wordvec"}}


def dataset_config(name: str, description: str, sources: list[dict], meta: dict[str, dict],
                   labels: dict[str, str] | None = None, build: dict | None = None,
                   regex_search: bool = True) -> dict:
    """The ``dataset.yml`` mapping. ``labels``: ``files`` key -> labels file of each
    categorical track."""
    config = {
        "name": name,
        "description": description,
        "files": {"data": DATA_FILE, "vocab": VOCAB_FILE, **(labels or {})},
        "word_sequence": {"file": "data", "path": TOKENS, "dict_file": "vocab",
                          "sequences": SEQUENCES},
        "states": {"file": "data", "types": sources},
        "meta": meta,
        "etc": {"regex_search": regex_search},
    }
    if build is not None:
        config["build"] = build
    return config


def write_json(path: Path, value) -> None:
    Path(path).write_text(json.dumps(value, ensure_ascii=False))


def publish(staging: Path, folder: Path, config: dict) -> Path:
    """Move the built files from ``staging`` into ``folder``, then write ``dataset.yml``.

    What is guaranteed: every file is whole, old or new, never half-written (each is moved
    with one ``os.replace``; the config is written under a temporary name and renamed);
    the config goes last, so on a first build no config points at missing files and once
    this returns the folder holds the complete new set; a process that has the old
    ``data.h5`` open keeps reading the old file.

    What is not (a rebuild over an existing data set): the files are swapped one by one,
    so between the first move and the config's rename a reader can see a mix (new
    ``data.h5`` with the old ``vocab.json`` and the old ``dataset.yml``), and ``labels/``
    is missing between its removal and its replacement; an interrupted publish leaves
    such a mix until the next build. A running server's catalog notices each changed file
    and loads the data set again (at most once a second), so it may list the data set as
    unavailable or serve a mixed load briefly, and ends on the new set after the config's
    rename. Making the swap atomic would need the data files under per-build names named
    by the config, or one rename of the whole folder (which also holds the recipe,
    checkpoints and ``.index/``).
    """
    partial = staging / f"{CONFIG_FILE}.partial"
    partial.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    for item in BUILT_FILES:
        if not (staging / item).exists():
            continue
        target = folder / item
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(staging / item, target)
    os.replace(partial, folder / CONFIG_FILE)
    shutil.rmtree(staging)
    return folder


def fresh_staging(folder: Path) -> Path:
    """An empty ``<folder>/.build/`` with ``labels/`` (leftovers of an interrupted run go)."""
    staging = Path(folder) / STAGING
    if staging.exists():
        shutil.rmtree(staging)
    (staging / LABELS_DIR).mkdir(parents=True)
    return staging


# --- the streaming table writer ---------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """A preallocated table: byte ``offset`` in the file, ``shape``, little-endian ``dtype``."""

    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype
    fill: float | int

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize


def create_table(f: h5py.File, path: str, shape: tuple[int, ...], dtype, fill=0) -> Table:
    """Create a contiguous table with its space allocated now.

    HDF5 itself never writes the table's bytes (no fill at allocation): every raw byte
    comes from :class:`BackgroundWrites`, so no HDF5 raw-data cache can hold stale copies.
    ``fill`` is recorded as the fill value (readers see it) and written by the caller.
    """
    dtype = np.dtype(dtype).newbyteorder("<")
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    if fill != 0:
        dcpl.set_fill_value(np.array(fill, dtype=dtype))
    ds = f.create_dataset(path, shape=shape, dtype=dtype, dcpl=dcpl)
    offset = ds.id.get_offset()
    if offset is None and ds.size:
        raise RuntimeError(f"HDF5 did not allocate {path} contiguously")
    return Table(int(offset or 0), tuple(shape), dtype, fill)


class BackgroundWrites:
    """``os.pwrite`` jobs on one thread, in submission order (a fill before the values
    written over it), at most ``max_pending`` bytes in flight."""

    def __init__(self, path: str | os.PathLike, max_pending: int) -> None:
        self.fd = os.open(path, os.O_WRONLY)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hiddenscope-write")
        self.pending: deque[tuple[Future, int]] = deque()
        self.pending_bytes, self.max_pending = 0, max(1, max_pending)
        self.closed = False

    def submit(self, table: Table, runs: list[tuple[int, np.ndarray]]) -> None:
        """Queue ``(start, rows)`` runs, one job; the arrays must not change afterwards."""
        jobs, nbytes = [], 0
        for start, rows in runs:
            rows = np.ascontiguousarray(rows, dtype=table.dtype)
            if rows.shape[1:] != table.shape[1:] or start < 0 or start + len(rows) > table.shape[0]:
                raise ValueError(
                    f"rows {rows.shape} at {start} do not fit a table of {table.shape}"
                )
            jobs.append((rows, table.offset + start * table.row_bytes))
            nbytes += rows.nbytes
        while self.pending and self.pending_bytes + nbytes > self.max_pending:
            self._wait_oldest()
        self.pending.append((self.pool.submit(self._pwrite, jobs), nbytes))
        self.pending_bytes += nbytes

    def _pwrite(self, jobs: list[tuple[np.ndarray, int]]) -> None:
        for rows, offset in jobs:
            view = memoryview(rows).cast("B")
            while view:
                n = os.pwrite(self.fd, view, offset)
                view, offset = view[n:], offset + n

    def fill(self, table: Table, piece_rows: int = 1 << 22) -> None:
        """Write ``table.fill`` over the whole table, in pieces of bounded size."""
        T = table.shape[0]
        for start in range(0, T, piece_rows):
            rows = min(piece_rows, T - start)
            self.submit(
                table, [(start, np.full((rows,) + table.shape[1:], table.fill, table.dtype))]
            )

    def _wait_oldest(self) -> None:
        job, nbytes = self.pending.popleft()
        self.pending_bytes -= nbytes
        job.result()  # re-raises a failed write (disk full...) here, in the caller

    def close(self, wait: bool = True) -> None:
        """Finish (or, with ``wait=False``, drop) the queued writes and close the file."""
        try:
            while wait and self.pending:
                self._wait_oldest()
        finally:
            self.closed = True
            self.pool.shutdown(wait=True, cancel_futures=not wait)
            self.pending.clear()
            os.close(self.fd)


class DataFile:
    """``data.h5`` being written: the schema attribute, every table allocated at its final
    size up front (``wanted``: ``(path, shape, dtype, fill)``), rows queued to a writer thread.
    """

    def __init__(self, path: Path, wanted: list[tuple[str, tuple, object, float]],
                 max_pending: int = 256 << 20) -> None:
        self.h5 = h5py.File(path, "w")
        self.h5.attrs[SCHEMA_ATTR] = SCHEMA_VERSION
        self.tables = {p: create_table(self.h5, p, shape, dtype, fill)
                       for p, shape, dtype, fill in wanted}
        self.h5.flush()  # the file's structure is on disk before raw bytes are written beside it
        self.writes = BackgroundWrites(path, max_pending)
        for table in self.tables.values():
            if table.fill != 0:
                self.writes.fill(table)

    def write(self, path: str, start: int, rows: np.ndarray) -> None:
        """Queue ``rows`` for steps ``start ..`` of the table at ``path`` (do not change them)."""
        self.writes.submit(self.tables[path], [(start, rows)])

    def write_runs(self, path: str, runs: list[tuple[int, np.ndarray]]) -> None:
        self.writes.submit(self.tables[path], runs)

    @property
    def closed(self) -> bool:
        return self.writes.closed

    def finish(self) -> None:
        """Wait for the queued writes (raising their error, e.g. a full disk); close the file."""
        if not self.writes.closed:
            self.writes.close()
        self.h5.close()

    def abort(self) -> None:
        if not self.writes.closed:
            self.writes.close(wait=False)
        if self.h5.id.valid:
            self.h5.close()
