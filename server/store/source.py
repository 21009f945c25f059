"""The store's StateSource: one `[T, D]` table of states in an HDF5 file, read-only."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .arrays import ContiguousTable, direct_or_dataset, file_fingerprint, read_rows, read_sorted
from .config import SourceConfig


class H5StateSource:
    """A :class:`hiddenscope.server.engine.StateSource` over one HDF5 dataset.

    Contiguous, unfiltered tables (what the extractor writes) are read straight from the
    file's bytes (:class:`ContiguousTable`, ``pread``), so a window of steps is one contiguous
    read, nothing is cached in Python and scans leave no file pages in the resident memory;
    chunked or compressed tables (LSTMVis files) go through h5py. float64 and other
    real dtypes are converted to float32 on read.

    Attributes:
        shape: ``(T, D)``; T is the data set's length (it may be shorter than the table for
            LSTMVis folders whose tokens are shorter).
        sequence_offsets: ``int64[N+1]`` of the data set.
    """

    def __init__(
        self,
        config: SourceConfig,
        ds: h5py.Dataset,
        file: Path,
        length: int,
        sequence_offsets: np.ndarray,
    ) -> None:
        self.config = config
        self.id = config.id
        self._array = direct_or_dataset(ds)
        self.direct = isinstance(self._array, ContiguousTable)
        self._convert = ds.dtype != np.float32
        self.shape = (int(length), int(ds.shape[1]))
        self.transform = config.transform
        self.sequence_offsets = sequence_offsets
        self._file = Path(file)

    @property
    def fingerprint(self) -> str:
        """Identity of the numbers: the file's (re-read on every call, one ``stat``), the
        table path, the transform and the shape. The match index records it."""
        return (
            f"{file_fingerprint(self._file)}:{self.config.path}:{self.transform}:"
            f"{self.shape[0]}x{self.shape[1]}"
        )

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Raw ``float32[stop-start, D]`` for steps ``start .. stop-1`` (clipped to T)."""
        rows = read_rows(self._array, max(0, start), min(stop, self.shape[0]))
        return rows.astype(np.float32) if self._convert else rows

    def forget_rows(self, start: int, stop: int) -> None:
        """A hint: rows ``start .. stop-1`` will not be read again soon (the index build,
        having encoded them; see ``StateSource``). Only a contiguous table acts on it."""
        if self.direct:
            self._array.forget(max(0, start), min(stop, self.shape[0]))

    def read_steps(self, steps: np.ndarray) -> np.ndarray:
        """Raw ``float32[len(steps), D]`` for sorted, unique step ids."""
        rows = read_sorted(self._array, steps)
        return rows.astype(np.float32) if self._convert else rows

    def summary(self) -> dict:
        c = self.config
        return {
            "id": c.id,
            "label": c.label,
            "layer": c.layer,
            "kind": c.type,
            "direction": c.direction,
            "shape": list(self.shape),
            "transform": c.transform,
            "unsigned": c.unsigned,
        }
