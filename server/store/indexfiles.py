"""The match index's files: where they live, the manifest, atomic writes and integrity.

The index is derived data owned by the store (DESIGN.md): the engine computes what goes in
it and reads it back through :class:`IndexFiles` (the ``IndexStorage`` protocol of
``hiddenscope.server.engine.source``), never opening a path itself.

Integrity, all checked cheaply:

* *What it was built from.* The manifest records the source's fingerprint (file identity:
  device, inode, size, mtime and ctime in ns, table path, transform, shape) and a CRC-32 of
  a sample of its rows (first, last and 62 spread rows), recomputed once per process and
  fingerprint. Editing the states in place changes the identity (ctime cannot be set back)
  and usually the sample: the index is then ``stale``.
* *Itself.* Each data file's identity (inode, size, mtime) is recorded after its rename and
  checked on every look-up (a few ``stat`` calls); the manifest carries a CRC-32 of its own
  body; the engine verifies a checksum of every block of codes it reads against the
  checksums it wrote at build time and calls :meth:`IndexFiles.invalidate` on a mismatch.
* *Interrupted builds.* Data files are written under ``<name>.<pid>.tmp`` and renamed only
  when complete and fsynced; the manifest goes last. Leftover ``.tmp`` files of processes
  that no longer run are removed when the folder is opened.

A ``stale`` or ``missing`` index is never read: queries scan the states meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .arrays import pread_into

INDEX_DIR = ".index"
MANIFEST = "manifest.json"
SAMPLE_ROWS = 64
log = logging.getLogger("hiddenscope.index")


def index_folder(dataset_folder: Path, dataset_id: str, source_id: str) -> Path:
    """``<data set>/.index/<source>-<hash>/`` when the data set folder is writable, else
    ``$XDG_CACHE_HOME/hiddenscope/<id>-<hash>/<source>-<hash>/`` (or ~/.cache). Not created here.

    ``<source>`` is the id made safe for a file name; the 8 hex digits after it are a hash of
    the raw id, because making it safe is not one-to-one (``a/b`` and ``a_b`` would otherwise
    share one folder and each build would make the other's index stale)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", source_id).strip("._") or "source"
    safe = f"{safe}-{hashlib.sha1(source_id.encode()).hexdigest()[:8]}"
    local = Path(dataset_folder) / INDEX_DIR
    if os.access(local if local.exists() else dataset_folder, os.W_OK):
        return local / safe
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = hashlib.sha1(str(dataset_folder).encode()).hexdigest()[:10]
    return cache / "hiddenscope" / f"{dataset_id}-{tag}" / safe


def content_sample(source) -> int:
    """CRC-32 of the raw bytes of ``SAMPLE_ROWS`` rows spread over the source (first and last
    included) and of its sequence offsets: a cheap check that the numbers are the same."""
    T = int(source.shape[0])
    steps = np.unique(np.linspace(0, T - 1, min(T, SAMPLE_ROWS)).astype(np.int64))
    # 8 rows per read_steps call, the calls concurrent: a cold disk serves them far faster
    # (the store may not use the engine's scan.IO pool: its own, for this one sample)
    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(lambda i: np.asarray(source.read_steps(steps[i : i + 8])),
                              range(0, steps.size, 8)))
    rows = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
    offsets = np.ascontiguousarray(source.sequence_offsets, dtype=np.int64)
    return zlib.crc32(offsets.tobytes(), zlib.crc32(rows.tobytes()))


def _identity(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _body_checksum(body: dict) -> int:
    return zlib.crc32(json.dumps(body, sort_keys=True).encode())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class IndexFiles:
    """The index files of one source in ``folder`` (see the module docstring).

    ``source`` is the :class:`StateSource` the index describes (``shape``, ``transform``,
    ``sequence_offsets``, ``fingerprint``, ``read_steps``).
    """

    def __init__(self, folder: Path, source) -> None:
        self.folder = Path(folder)
        self.source = source
        self._lock = threading.Lock()
        self._sample: tuple[str, int] | None = None
        self._cache: tuple[tuple, dict] | None = None
        self._invalid: tuple | None = None  # manifest key that was found corrupt
        self.remove_leftovers()

    # --- freshness -------------------------------------------------------------------
    def _source_sample(self) -> int:
        fp = self.source.fingerprint
        if self._sample is None or self._sample[0] != fp:
            self._sample = (fp, content_sample(self.source))
        return self._sample[1]

    def _expected_source(self) -> dict:
        T, D = self.source.shape
        return {"fingerprint": self.source.fingerprint, "sample": self._source_sample(),
                "shape": [int(T), int(D)], "transform": self.source.transform}

    def manifest(self) -> dict | None:
        """The manifest when the index is fresh, else None (missing, stale or corrupt)."""
        return self._check()[1]

    def state(self) -> str:
        """``"fresh"``, ``"missing"`` or ``"stale"``."""
        return self._check()[0]

    def _check(self) -> tuple[str, dict | None]:
        path = self.folder / MANIFEST
        try:
            key = (*_identity(path), self.source.fingerprint)
        except OSError:
            return "missing", None
        with self._lock:
            if self._invalid == key:
                return "stale", None
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, self._read(path))
            manifest = self._cache[1]
        if manifest is None:
            return "stale", None
        try:  # a changed data file (overwritten, truncated, replaced) makes the index stale
            if any(_identity(self.folder / f["name"]) != f["identity"]
                   for f in manifest["files"].values()):
                return "stale", None
        except OSError:
            return "stale", None
        return "fresh", manifest

    def _read(self, path: Path) -> dict | None:
        try:
            manifest = json.loads(path.read_text())
            body = manifest["body"]
            if manifest["checksum"] != _body_checksum(body):
                return None
            if body["source"] != self._expected_source():
                return None
            return body
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def invalidate(self, why: str) -> None:
        """Mark the current index stale (a block failed its checksum); a rebuild replaces it."""
        try:
            key = (*_identity(self.folder / MANIFEST), self.source.fingerprint)
        except OSError:
            return
        with self._lock:
            self._invalid = key
        log.warning("index %s is stale: %s; scanning until it is rebuilt", self.folder, why)

    def writable(self) -> bool:
        folder = self.folder
        while not folder.exists():
            folder = folder.parent
        return folder.is_dir() and os.access(folder, os.W_OK)

    # --- reading ---------------------------------------------------------------------
    def path(self, manifest: dict, name: str) -> Path:
        return self.folder / manifest["files"][name]["name"]

    def read_into(self, manifest: dict, name: str, offset: int, out: np.ndarray) -> None:
        """Fill ``out`` with the bytes of file ``name`` from ``offset`` (pread, nothing mapped)."""
        with self.reader(manifest, name) as reader:
            reader.read(offset, out)

    def reader(self, manifest: dict, name: str) -> IndexReader:
        """File ``name`` opened once for many reads (use as a context manager)."""
        return IndexReader(self.path(manifest, name))

    # --- writing ---------------------------------------------------------------------
    def new_build(self) -> IndexBuild:
        self.folder.mkdir(parents=True, exist_ok=True)
        return IndexBuild(self)

    def remove_leftovers(self) -> list[Path]:
        """Delete ``*.<pid>.tmp`` files whose process is gone (killed builds); return them."""
        removed = []
        if not self.folder.is_dir():
            return removed
        for tmp in self.folder.glob("*.tmp"):
            m = re.search(r"\.(\d+)\.tmp$", tmp.name)
            if m and int(m.group(1)) == os.getpid():
                continue  # a build of this process may be writing it
            if m and _pid_alive(int(m.group(1))):
                continue
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        return removed


class IndexReader:
    """One data file open read-only; :meth:`read` fills arrays with pread."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    def read(self, offset: int, out: np.ndarray) -> None:
        pread_into(self.fd, offset, out, "an index file is shorter than its manifest says")

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class IndexBuild:
    """Files of one build, written under temporary names and published by :meth:`commit`."""

    def __init__(self, files: IndexFiles) -> None:
        self.files = files
        self.tag = uuid.uuid4().hex[:10]
        self._fds: dict[str, tuple[int, Path]] = {}

    def create(self, name: str, nbytes: int) -> None:
        """A new data file of ``nbytes`` (zeros until written)."""
        tmp = self.files.folder / f"{name}-{self.tag}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(fd, nbytes)
        self._fds[name] = (fd, tmp)

    def write(self, name: str, offset: int, data: np.ndarray) -> None:
        """Write ``data``'s bytes at ``offset`` (thread-safe: pwrite)."""
        fd = self._fds[name][0]
        view = memoryview(np.ascontiguousarray(data)).cast("B")
        while view:
            n = os.pwrite(fd, view, offset)
            view, offset = view[n:], offset + n

    def read(self, name: str, offset: int, out: np.ndarray) -> None:
        """Fill ``out`` with bytes this build wrote to ``name`` from ``offset`` (pread)."""
        pread_into(self._fds[name][0], offset, out, f"index build file {name} is too short")

    def discard(self, name: str) -> None:
        """Close and remove the (scratch) file ``name``: it is not published."""
        fd, tmp = self._fds.pop(name)
        os.close(fd)
        tmp.unlink(missing_ok=True)

    def commit(self, layout: dict) -> None:
        """fsync and rename every file, then write the manifest (atomically, last) and remove
        the files of earlier builds."""
        folder = self.files.folder
        entries = {}
        for name, (fd, tmp) in self._fds.items():
            os.fsync(fd)
            os.close(fd)
            final = folder / f"{name}-{self.tag}.bin"
            os.replace(tmp, final)
            entries[name] = {"name": final.name, "identity": _identity(final)}
        self._fds.clear()
        body = {"source": self.files._expected_source(), "files": entries, "layout": layout}
        tmp = folder / f"{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"checksum": _body_checksum(body), "body": body}))
        os.replace(tmp, folder / MANIFEST)
        keep = {e["name"] for e in entries.values()}
        for old in folder.glob("*.bin"):
            if old.name not in keep:
                old.unlink(missing_ok=True)

    def abort(self) -> None:
        for fd, tmp in self._fds.values():
            os.close(fd)
            tmp.unlink(missing_ok=True)
        self._fds.clear()
