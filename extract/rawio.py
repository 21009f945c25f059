"""Streaming writes into preallocated contiguous HDF5 tables, on a background thread.

The tables are created with their file space allocated up front (``ALLOC_TIME_EARLY``),
contiguous and uncompressed, so each one is a plain row-major byte range at a known file
offset: the same bytes h5py would write. Writing them with ``os.pwrite`` from a thread
lets the next batch compute meanwhile (``pwrite`` releases the GIL, and a disk that is
busy throttles only the writer), while pending bytes are bounded, so memory stays bounded.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import h5py
import numpy as np


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
