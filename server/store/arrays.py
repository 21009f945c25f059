"""Read-only access to the data files: HDF5 tables (read directly when contiguous), vocabularies."""

from __future__ import annotations

import json
import mmap
import os
import weakref
from pathlib import Path

import h5py
import numpy as np

from .errors import DatasetError, Problem


class Hdf5Files:
    """The HDF5 files of one data set, each opened read-only once and kept open."""

    def __init__(self) -> None:
        self._open: dict[Path, h5py.File] = {}

    def get(self, path: Path) -> h5py.File:
        if path not in self._open:
            try:
                self._open[path] = h5py.File(path, "r")
            except (OSError, ValueError) as exc:
                raise DatasetError(
                    Problem(
                        str(path),
                        "",
                        f"cannot be opened as HDF5 ({exc})",
                        "check that the file is complete",
                    )
                ) from exc
        return self._open[path]

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()


_PREAD_RUNS = 256  # above this many runs of consecutive ids, gather through a short-lived map


def pread_into(fd: int, offset: int, out: np.ndarray, short: str) -> None:
    """Fill ``out``'s bytes from ``fd`` at ``offset`` (pread may return fewer bytes than
    asked: it is called again); OSError(``short``) at the file's end."""
    view, done = memoryview(out).cast("B"), 0
    while done < view.nbytes:
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            raise OSError(short)
        done += n


class ContiguousTable:
    """A read-only ``[T, ...]`` table whose bytes lie contiguous in a file, read with ``pread``.

    Reads copy just the asked rows into fresh arrays: unlike a lasting ``np.memmap``, a scan
    over the whole table leaves no file pages counted in the server's resident memory (the
    kernel's page cache still keeps them warm). Answers ``t[start:stop]`` and ``t[sorted_ids]``.
    """

    def __init__(self, path: str | os.PathLike, offset: int, shape: tuple, dtype) -> None:
        self.shape, self.dtype, self._offset = tuple(shape), np.dtype(dtype), int(offset)
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def _read(self, start: int, count: int, out: np.ndarray) -> None:
        pread_into(self._fd, self._offset + start * self._row_bytes, out,
                   f"unexpected end of file reading rows {start}..{start + count - 1}")

    def forget(self, start: int, stop: int) -> None:
        """Hint that rows ``start .. stop-1`` will not be read again soon: the kernel may drop
        them from the page cache (a pass over the whole table need not push out what is
        read next; a no-op where the system has no ``posix_fadvise``, as on macOS)."""
        if stop > start and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, self._offset + start * self._row_bytes,
                             (stop - start) * self._row_bytes, os.POSIX_FADV_DONTNEED)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[0 : self.shape[0]]
        return whole if dtype is None else whole.astype(dtype)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, _ = key.indices(self.shape[0])
            out = np.empty((max(0, stop - start),) + self.shape[1:], dtype=self.dtype)
            if out.size:
                self._read(start, out.shape[0], out)
            return out
        ids = np.asarray(key, dtype=np.int64)
        out = np.empty((ids.size,) + self.shape[1:], dtype=self.dtype)
        if ids.size == 0:
            return out
        breaks = np.flatnonzero(np.diff(ids) != 1) + 1
        if breaks.size < _PREAD_RUNS:  # one read per run of consecutive ids
            for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, ids.size], strict=True):
                self._read(int(ids[lo]), int(hi - lo), out[lo:hi])
            return out
        # Many short runs: a map of just their span, populated in one go and dropped at once,
        # gathers them faster than a system call per run and leaves nothing resident after.
        first, last = int(ids[0]), int(ids[-1])
        start = self._offset + first * self._row_bytes
        aligned = start - start % mmap.ALLOCATIONGRANULARITY
        length = start - aligned + (last - first + 1) * self._row_bytes
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        with mmap.mmap(self._fd, length, flags=flags, prot=mmap.PROT_READ, offset=aligned) as m:
            span = np.frombuffer(m, dtype=self.dtype, offset=start - aligned)
            np.take(
                span.reshape((last - first + 1,) + self.shape[1:]), ids - first, axis=0, out=out
            )
            del span  # the buffer must be released before the map closes
        return out


def direct_or_dataset(ds: h5py.Dataset) -> ContiguousTable | h5py.Dataset:
    """A :class:`ContiguousTable` over ``ds`` when its bytes lie contiguous and unfiltered in
    the file (what the extractor writes); otherwise ``ds`` itself (chunked or compressed
    LSTMVis files), which h5py slices. Both answer ``a[start:stop]`` and ``a[sorted_ids]``."""
    offset = ds.id.get_offset()
    native = ds.dtype.byteorder in ("=", "<", "|") or ds.dtype.itemsize == 1
    if offset is None or ds.chunks is not None or ds.compression or not native or ds.size == 0:
        return ds
    return ContiguousTable(ds.file.filename, offset, ds.shape, ds.dtype)


def read_rows(array: np.ndarray | h5py.Dataset, start: int, stop: int) -> np.ndarray:
    """Rows ``start .. stop-1`` as an in-memory array."""
    return np.asarray(array[start:stop])


def read_sorted(array: np.ndarray | h5py.Dataset, ids: np.ndarray) -> np.ndarray:
    """Rows at sorted, unique ``ids`` (h5py needs increasing indices)."""
    ids = np.asarray(ids, dtype=np.int64)
    if isinstance(array, (np.ndarray, ContiguousTable)):
        return array[ids]
    if ids.size == 0:
        return np.empty((0,) + array.shape[1:], dtype=array.dtype)
    return array[ids.tolist()]


def file_fingerprint(path: Path) -> str:
    """Identity of a file's current contents: path, device, inode, size, and the modification
    and change times in ns (a write changes ctime, which no one can set back)."""
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}:gone"
    return f"{path}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def read_vocabulary(path: Path) -> list[str | None]:
    """Labels indexed by id: a JSON list (id = position) or LSTMVis ``token id`` lines.

    In a ``.dict``/``.txt`` file a line with two fields is ``token id``; a line starting with a
    space whose rest is an id is the space token (LSTMVis PR #48); other lines are skipped, as
    LSTMVis did. Ids that no line names are None.
    """
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        labels = json.loads(text)
        if not isinstance(labels, list):
            raise ValueError(f"expected a JSON list of strings, got {type(labels).__name__}")
        return [None if v is None else str(v) for v in labels]
    pairs: dict[int, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if line.startswith(" ") and len(fields) == 1 and fields[0].lstrip("-").isdigit():
            pairs[int(fields[0])] = " "
        elif len(fields) == 2 and fields[1].lstrip("-").isdigit():
            pairs[int(fields[1])] = fields[0]
    if not pairs:
        raise ValueError("has no `token id` lines")
    if min(pairs) < 0:
        raise ValueError(f"has a negative id {min(pairs)}")
    labels: list[str | None] = [None] * (max(pairs) + 1)
    for i, token in pairs.items():
        labels[i] = token
    return labels


def uncovered_ids(ids: np.ndarray, labels: list[str | None]) -> np.ndarray:
    """The distinct values of ``ids`` that have no label (outside the list or a gap)."""
    known = np.array([lab is not None for lab in labels] + [False], dtype=bool)
    flat = np.asarray(ids).ravel()
    idx = np.where((flat >= 0) & (flat < len(labels)), flat, len(labels)).astype(np.int64)
    return np.unique(flat[~known[idx]])
