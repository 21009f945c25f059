"""Write a data set folder in the store format (datasets/README.md), atomically.

Everything is first written into ``<folder>/.build/`` (``data.h5`` with every table
allocated at its final size, then filled run by run from a writer thread, so memory
stays bounded), and moved into place only by :meth:`DatasetWriter.commit`. An
interrupted run leaves only ``.build/``, which the server never loads (its config there
is ``dataset.yml.partial``) and the next run removes. Names, tables and the config
mapping come from ``hiddenscope.server.store.format``, the module the synthetic writer
uses too (the only part of the server the extractor imports).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import hiddenscope.server.store.format as fmt
import numpy as np

from .recurrent import UNSIGNED_KINDS, ExtractError, StateKey

SCHEMA_VERSION = fmt.SCHEMA_VERSION
STAGING = fmt.STAGING


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
        if self.kind == "categorical":
            return fmt.categorical_meta(self.name)
        return fmt.scalar_meta(self.name, self.vis_range)


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
        sequence_tracks: list[Track] = (),
    ) -> None:
        self.folder = Path(folder)
        self.sequence_tracks = list(sequence_tracks)  # [N] tables under sequence_meta/
        self.T = int(offsets[-1])
        self.sources, self.tracks, self.vocab = sources, tracks, vocab
        self.top_k, self.surprisal = top_k, surprisal
        check_target(self.folder, force)
        self.staging = fmt.fresh_staging(self.folder)
        self.data = fmt.DataFile(self.staging / fmt.DATA_FILE, self._wanted(offsets), max_pending)
        self.tables = self.data.tables
        self.write(fmt.SEQUENCES, 0, np.asarray(offsets, dtype=np.int64))

    def _wanted(self, offsets: np.ndarray) -> list[tuple[str, tuple, object, float]]:
        """Every table of data.h5 with its final shape (the surprisal track starts as NaN,
        where nothing predicts)."""
        T = self.T
        wanted = [(fmt.SEQUENCES, (len(offsets),), np.int64, 0), (fmt.TOKENS, (T,), np.int32, 0)]
        wanted += [(key.path, (T, dim), np.float32, 0) for key, dim in self.sources]
        for track in self.tracks:
            dtype = np.int32 if track.kind == "categorical" else np.float32
            wanted.append((fmt.meta_path(track.name), (T,), dtype, 0))
        if self.top_k:
            wanted.append((fmt.NEXT_IDS, (T, self.top_k), np.int32, 0))
            wanted.append((fmt.NEXT_PROBS, (T, self.top_k), np.float32, 0))
        if self.surprisal:
            wanted.append((fmt.meta_path("surprisal"), (T,), np.float32, np.nan))
        for track in self.sequence_tracks:
            dtype = np.int32 if track.kind == "categorical" else np.float32
            wanted.append((fmt.sequence_meta_path(track.name), (len(offsets) - 1,), dtype, 0))
        return wanted

    def table(self, path: str) -> fmt.Table:
        """Where and how the table at ``path`` is stored."""
        return self.tables[path]

    def write(self, path: str, start: int, rows: np.ndarray) -> None:
        """Queue ``rows`` for steps ``start .. start+len(rows)-1`` of the table at ``path``.

        The write happens on a background thread: ``rows`` must not be changed afterwards.
        """
        self.data.write(path, start, rows)

    def write_runs(self, path: str, runs: list[tuple[int, np.ndarray]]) -> None:
        """Queue several ``(start, rows)`` runs of one table as one job (see :meth:`write`)."""
        self.data.write_runs(path, runs)

    def finish(self) -> None:
        """Wait for the queued writes (raising their error, e.g. a full disk) and close data.h5."""
        self.data.finish()

    def commit(
        self, name: str, description: str, build: dict | None = None, extra: dict | None = None
    ) -> Path:
        """Write the JSON files and dataset.yml (with the ``extra`` top-level sections, e.g.
        ``model:``) and move everything into place."""
        if not self.data.closed:
            self.finish()
        fmt.write_json(self.staging / fmt.VOCAB_FILE, self.vocab)
        for track in self.tracks:
            if track.kind == "categorical":
                fmt.write_json(self.staging / fmt.labels_file(track.name), track.labels)
        for track in self.sequence_tracks:
            if track.kind == "categorical":
                path = fmt.labels_file(f"sequence_{track.name}")
                fmt.write_json(self.staging / path, track.labels)
        config = {**self.config(name, description, build), **(extra or {})}
        return fmt.publish(self.staging, self.folder, config)

    def abort(self) -> None:
        """Drop the writes, close and remove the staging folder (a previous data set stays)."""
        self.data.abort()
        shutil.rmtree(self.staging, ignore_errors=True)

    def config(self, name: str, description: str, build: dict | None) -> dict:
        """The dataset.yml mapping (server/store/format.py, as the synthetic writer's)."""
        sources = [
            # raw values, c included (datasets/README.md); gates are unsigned
            fmt.source_entry(key.layer, key.kind, key.direction, "none", key.kind in UNSIGNED_KINDS)
            for key, _ in self.sources
        ]
        meta = {track.name: track.config() for track in self.tracks}
        if self.top_k:
            meta["next"] = fmt.next_meta()
        if self.surprisal:
            meta["surprisal"] = fmt.scalar_meta("surprisal")
        labels = {f"{t.name}_labels": fmt.labels_file(t.name)
                  for t in self.tracks if t.kind == "categorical"}
        labels.update({f"sequence_{t.name}_labels": fmt.labels_file(f"sequence_{t.name}")
                       for t in self.sequence_tracks if t.kind == "categorical"})
        config = fmt.dataset_config(name, description, sources, meta, labels, build)
        if self.sequence_tracks:
            config["sequence_meta"] = {
                t.name: fmt.sequence_meta(t.name, t.kind, t.vis_range) for t in self.sequence_tracks
            }
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
