"""Write a data set folder in the store format (datasets/README.md), atomically.

Everything is first written into ``<folder>/.build/`` (``data.h5`` with every table
allocated at its final size, then filled run by run from a writer thread, so memory
stays bounded), and moved into place only by :meth:`DatasetWriter.commit`. An
interrupted run leaves only ``.build/``, which the server never loads (its config there
is ``dataset.yml.partial``) and the next run removes. The layout follows
server/store/synthetic.py exactly (contiguous, uncompressed tables; the space is only
allocated earlier).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import yaml

from .rawio import BackgroundWrites, Table, create_table
from .recurrent import UNSIGNED_KINDS, ExtractError, StateKey

SCHEMA_VERSION = 1
STAGING = ".build"
BUILT_FILES = ("data.h5", "vocab.json", "labels")


@dataclass
class Track:
    """A per-step meta track: ``categorical`` (int32 ids into ``labels``) or ``scalar`` (float32).

    A categorical track whose ``labels`` start empty grows them as values appear
    (:meth:`encode`); the list is written to ``labels/<name>.json`` at commit.
    """

    name: str
    kind: str  # "categorical" | "scalar"
    labels: list[str] = field(default_factory=list)
    vis_range: str | list[float] | None = None
    _ids: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("categorical", "scalar"):
            raise ExtractError(
                f"track {self.name!r}: kind {self.kind!r} must be categorical or scalar"
            )
        self._ids = {label: i for i, label in enumerate(self.labels)}

    def encode(self, values: list[str]) -> np.ndarray:
        """Label strings -> ``int32[n]`` ids, adding unseen labels at the end."""
        out = np.empty(len(values), dtype=np.int32)
        for i, value in enumerate(values):
            idx = self._ids.get(value)
            if idx is None:
                idx = self._ids[value] = len(self.labels)
                self.labels.append(value)
            out[i] = idx
        return out

    def config(self) -> dict:
        entry: dict = {"file": "data", "path": f"meta/{self.name}"}
        if self.kind == "categorical":
            entry["dict"] = f"{self.name}_labels"
            entry["vis"] = {"type": "discrete", "range": "dict"}
        else:
            entry["vis"] = {"type": "scalar"}
            if self.vis_range is not None:
                entry["vis"]["range"] = self.vis_range
        return entry


class DatasetWriter:
    """Preallocated HDF5 tables in a staging folder, filled by row ranges, then committed.

    Args:
        folder: the data set folder (created if missing).
        offsets: ``int64[N+1]`` sequence offsets; ``T = offsets[-1]``.
        sources: ``(StateKey, D)`` for every state table.
        tracks: meta tracks; ``top_k`` > 0 adds ``meta/next/{ids,probs}``; ``surprisal``
            adds the scalar ``meta/surprisal`` (NaN at each sequence's first step).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        offsets: np.ndarray,
        sources: list[tuple[StateKey, int]],
        tracks: list[Track],
        vocab: list[str],
        *,
        top_k: int = 0,
        surprisal: bool = False,
        force: bool = False,
        max_pending: int = 256 << 20,
    ) -> None:
        self.folder = Path(folder)
        self.T = int(offsets[-1])
        self.sources, self.tracks, self.vocab = sources, tracks, vocab
        self.top_k, self.surprisal = top_k, surprisal
        check_target(self.folder, force)
        self.staging = self.folder / STAGING
        if self.staging.exists():
            shutil.rmtree(self.staging)  # leftovers of an interrupted run: start clean
        (self.staging / "labels").mkdir(parents=True)
        self.h5 = h5py.File(self.staging / "data.h5", "w")
        self._allocate(offsets)
        # Writes run on a thread; at most ``max_pending`` bytes wait, so memory stays bounded.
        self.writes = BackgroundWrites(self.staging / "data.h5", max_pending)
        self.write("sequences", 0, np.asarray(offsets, dtype=np.int64))
        if surprisal:
            self.writes.fill(self.tables["meta/surprisal"])  # NaN where nothing predicts

    def _allocate(self, offsets: np.ndarray) -> None:
        f, T = self.h5, self.T
        f.attrs["hiddenscope_schema"] = SCHEMA_VERSION
        wanted = [("sequences", (len(offsets),), np.int64, 0), ("tokens", (T,), np.int32, 0)]
        # Contiguous, uncompressed [T, D]: a window of steps is one read, mmap-able.
        wanted += [(key.path, (T, dim), np.float32, 0) for key, dim in self.sources]
        for track in self.tracks:
            dtype = np.int32 if track.kind == "categorical" else np.float32
            wanted.append((f"meta/{track.name}", (T,), dtype, 0))
        if self.top_k:
            wanted.append(("meta/next/ids", (T, self.top_k), np.int32, 0))
            wanted.append(("meta/next/probs", (T, self.top_k), np.float32, 0))
        if self.surprisal:
            wanted.append(("meta/surprisal", (T,), np.float32, np.nan))
        self.tables = {
            path: create_table(f, path, shape, dtype, fill) for path, shape, dtype, fill in wanted
        }
        f.flush()  # the file's structure is on disk before raw bytes are written beside it

    def table(self, path: str) -> Table:
        """Where and how the table at ``path`` is stored."""
        return self.tables[path]

    def write(self, path: str, start: int, rows: np.ndarray) -> None:
        """Queue ``rows`` for steps ``start .. start+len(rows)-1`` of the table at ``path``.

        The write happens on a background thread: ``rows`` must not be changed afterwards.
        """
        self.writes.submit(self.tables[path], [(start, rows)])

    def write_runs(self, path: str, runs: list[tuple[int, np.ndarray]]) -> None:
        """Queue several ``(start, rows)`` runs of one table as one job (see :meth:`write`)."""
        self.writes.submit(self.tables[path], runs)

    def finish(self) -> None:
        """Wait for the queued writes (raising their error, e.g. a full disk) and close data.h5."""
        self.writes.close()
        self.h5.close()

    def commit(self, name: str, description: str, build: dict | None = None) -> Path:
        """Write the JSON files and dataset.yml and move everything into place."""
        if not self.writes.closed:
            self.finish()
        (self.staging / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False))
        for track in self.tracks:
            if track.kind == "categorical":
                (self.staging / "labels" / f"{track.name}.json").write_text(
                    json.dumps(track.labels)
                )
        config = self.config(name, description, build)
        (self.staging / "dataset.yml.partial").write_text(
            yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        )
        for item in BUILT_FILES:
            target = self.folder / item
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(self.staging / item, target)
        os.replace(self.staging / "dataset.yml.partial", self.folder / "dataset.yml")
        shutil.rmtree(self.staging)
        return self.folder

    def abort(self) -> None:
        """Drop the writes, close and remove the staging folder (a previous data set stays)."""
        if not self.writes.closed:
            self.writes.close(wait=False)
        if self.h5.id.valid:
            self.h5.close()
        shutil.rmtree(self.staging, ignore_errors=True)

    def config(self, name: str, description: str, build: dict | None) -> dict:
        """The dataset.yml mapping: same layout as server/store/synthetic.py writes."""
        files = {"data": "data.h5", "vocab": "vocab.json"}
        for track in self.tracks:
            if track.kind == "categorical":
                files[f"{track.name}_labels"] = f"labels/{track.name}.json"
        types = [
            {
                "id": key.id,
                "label": key.label,
                "type": key.kind,
                "layer": key.layer,
                "direction": key.direction,
                "path": key.path,
                "transform": "none",  # see datasets/README.md: raw values, c included
                "unsigned": key.kind in UNSIGNED_KINDS,
            }
            for key, _ in self.sources
        ]
        meta = {track.name: track.config() for track in self.tracks}
        if self.top_k:
            meta["next"] = {
                "file": "data",
                "path": "meta/next/ids",
                "type": "wordvec",
                "dict": "vocab",
                "weights_path": "meta/next/probs",
                "vis": {"type": "wordvec"},
            }
        if self.surprisal:
            meta["surprisal"] = {
                "file": "data",
                "path": "meta/surprisal",
                "vis": {"type": "scalar"},
            }
        config = {
            "name": name,
            "description": description,
            "files": files,
            "word_sequence": {
                "file": "data",
                "path": "tokens",
                "dict_file": "vocab",
                "sequences": "sequences",
            },
            "states": {"file": "data", "types": types},
            "meta": meta,
            "etc": {"regex_search": True},
        }
        if build is not None:
            config["build"] = build
        return config


def check_target(folder: Path, force: bool) -> None:
    """Refuse to overwrite a built data set unless ``force``; refuse a file in the way."""
    if folder.exists() and not folder.is_dir():
        raise ExtractError(f"output {folder} exists and is not a folder; choose another path")
    if not force and (folder / "data.h5").exists():
        raise ExtractError(
            f"{folder} already holds a data set (data.h5); pass force=True (CLI: --force) "
            "to replace it, or choose another folder"
        )
