"""Finding data sets: roots scanned recursively; a data set's id is its folder's name.

Each folder is loaded in its own thread with a time limit, so one folder (a slow disk, a
file that never ends) cannot delay the others. The catalog notices when a data set's files
change under a running server (:meth:`Catalog.current`): the data set is loaded again, or
becomes unavailable with the reason until its folder is valid again; :meth:`Catalog.rescan`
also finds folders added or removed since the start.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import CONFIG_NAMES, find_config, load_yaml, parse_config, unreadable
from .dataset import Dataset, check_dataset
from .errors import DatasetError, Problems

log = logging.getLogger(__name__)

LOAD_TIMEOUT_S = 60.0  # one folder's load; past it the folder is listed as unavailable
RETRY_S = 1.0  # a changed folder is loaded again at most once a second
RETIRE_S = 60.0  # a replaced data set stays open this long for requests still reading it

Stamp = tuple[tuple[str, int, int, int], ...]


@dataclass
class Entry:
    """One data set folder: loaded, or unavailable with the reason."""

    id: str
    folder: Path
    dataset: Dataset | None = None
    error: str | None = None
    stamp: Stamp = ()  # what the files looked like at the last load attempt
    watched: tuple[Path, ...] = ()  # the config and the data files it names
    tried: float = field(default=0.0, compare=False)
    duplicate: bool = False  # two folders share the id: listed, never loaded
    shown: Path | None = None  # the folder as typed from where the server started

    @property
    def available(self) -> bool:
        return self.dataset is not None

    @property
    def public_error(self) -> str | None:
        """The error as clients see it: the folder as it was typed from where the server was
        started (``datasets/code``, so a `hiddenscope build` hint works when pasted there), other
        paths relative to the folder holding the data set. The API never shows where the
        server keeps its files (the log has them whole)."""
        if self.error is None:
            return None
        text = self.error
        if self.shown is not None:
            for folder in {self.folder.absolute(), self.folder.resolve()}:
                # the whole folder name only: not the start of a sibling's (code2)
                text = re.sub(re.escape(str(folder)) + r"(?![\w.-])", str(self.shown), text)
        # absolute forms only: a relative parent such as "." would also eat "../" in a message
        for parent in {self.folder.absolute().parent, self.folder.resolve().parent}:
            text = text.replace(str(parent) + os.sep, "")
        return text


def unbuilt(folder: Path) -> bool:
    """True when ``folder`` holds a dataset.yml with a ``build:`` recipe and its data file
    (``files.data``, else data.h5) is not there yet: a recipe waiting for `hiddenscope build`,
    not a broken data set."""
    config = find_config(folder)
    if config is None or config.name != "dataset.yml" or unreadable(config, folder, 1 << 20):
        return False
    try:
        raw = load_yaml(config)
    except Exception:  # a config that cannot be read is an error, reported by the load
        return False
    if not isinstance(raw, dict) or not isinstance(raw.get("build"), dict):
        return False
    files = raw.get("files")
    data = files.get("data", "data.h5") if isinstance(files, dict) else "data.h5"
    return isinstance(data, str) and not os.path.lexists(folder / data)


def typed_path(folder: Path, roots: list[Path], cwd: Path) -> Path:
    """``folder`` (a resolved path found under one of ``roots``) as a user would type it in
    ``cwd``, the folder the server was started in, without an absolute server path: under a
    root typed relative, that root joined with the rest (``datasets/code``); else relative to
    ``cwd`` when it lies below it; else relative to the root's parent (``code``)."""
    for root in roots:
        try:
            rest = folder.relative_to(Path(cwd, root).resolve())
        except ValueError:
            continue
        if not root.is_absolute():
            return Path(os.path.normpath(root / rest))
        try:
            return folder.relative_to(Path(cwd).resolve())
        except ValueError:
            return Path(root.name) / rest
    return Path(folder.name)


def find_folders(roots: list[Path]) -> list[Path]:
    """Every folder under ``roots`` (or a root itself) holding dataset.yml or lstm.yml.

    Hidden folders (``.index``, ``.venv``...) are skipped, and so is everything inside a data set
    folder (its ``.build`` or checkpoints are not data sets).
    """
    found: set[Path] = set()
    seen: set[Path] = set()  # real paths walked: linked folders are followed once, loops never
    for root in roots:
        root = Path(root).resolve()
        if not root.is_dir():
            raise DatasetError(f"{root}: is not a folder; name a folder that holds data sets")
        for here, dirs, names in os.walk(root, followlinks=True):
            real = Path(here).resolve()
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if any(n in names for n in CONFIG_NAMES):
                found.add(real)
                dirs[:] = []
    return sorted(found)


def load_folder(
    folder: Path, id: str | None = None, timeout: float = LOAD_TIMEOUT_S
) -> tuple[Dataset | None, Problems]:
    """:func:`check_dataset` in a thread of its own, given ``timeout`` seconds; any exception
    becomes a problem (never a traceback). A load that runs late is abandoned: its thread
    ends on its own and closes what it opened."""
    box: dict = {}
    abandoned = threading.Event()

    def work() -> None:
        try:
            box["result"] = check_dataset(folder, id)
        except Exception as exc:  # a loader bug must not keep the other data sets from serving
            log.exception("data set folder %s could not be loaded", folder)
            problems = Problems(folder)
            problems.error(
                "", f"could not be loaded ({type(exc).__name__}: {exc})", "the log has the details"
            )
            box["result"] = (None, problems)
        if abandoned.is_set() and box["result"][0] is not None:
            box["result"][0].close()

    thread = threading.Thread(target=work, name=f"load {Path(folder).name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if "result" in box:
        return box["result"]
    abandoned.set()
    problems = Problems(folder)
    problems.error(
        "",
        f"loading took longer than {timeout:g} s and was given up",
        "check the folder's files (a FIFO, a file on a slow or hung disk)",
    )
    return None, problems


def _watched(folder: Path) -> tuple[Path, ...]:
    """The config file and every data file it names (what a change of the data set touches)."""
    config = find_config(folder)
    if config is None:
        return ()
    try:
        parsed, _ = parse_config(config)
    except Exception:  # the load reports the problem; here only the stamp is at stake
        parsed = None
    files = sorted(set(parsed.files.values())) if parsed is not None else []
    return (config, *files)


def _stamp(paths: tuple[Path, ...]) -> Stamp:
    """(path, size, mtime, ctime) of each path; -1s for one that is missing."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append((str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            out.append((str(path), -1, -1, -1))
    return tuple(out)


class Catalog:
    """The data sets under some roots. Broken ones stay listed with their error; a data set
    whose files change is loaded again on its next use (:meth:`current`)."""

    def __init__(self, roots: list[Path], load_timeout: float = LOAD_TIMEOUT_S) -> None:
        self.roots = [Path(r) for r in roots]
        self.cwd = Path.cwd()  # where the server started: the base of the paths users type
        self.load_timeout = load_timeout
        self.entries: dict[str, Entry] = {}
        self._lock = threading.Lock()  # guards entries and the listeners
        self._loading: dict[str, threading.Lock] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._retired: list[tuple[float, Dataset]] = []
        self.rescan()

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(id)`` is called after data set ``id`` was replaced or removed (caches
        of its engines and search text must be dropped)."""
        self._listeners.append(listener)

    def rescan(self) -> dict[str, list[str]]:
        """Find the data set folders again: load new ones, drop removed ones, reload changed
        ones. Returns the ids ``added``, ``removed`` and ``reloaded``."""
        by_id: dict[str, list[Path]] = {}
        for folder in find_folders(self.roots):
            by_id.setdefault(folder.name, []).append(folder)
        report: dict[str, list[str]] = {"added": [], "removed": [], "reloaded": []}
        for id in sorted(set(self.entries) - set(by_id)):
            self._replace(id, None)
            report["removed"].append(id)
        fresh = {}
        for id, folders in sorted(by_id.items()):
            old = self.entries.get(id)
            if len(folders) > 1:
                fresh[id] = self._duplicate(id, folders)
            elif old is None or old.folder != folders[0] or old.duplicate:
                fresh[id] = None  # loaded below, in parallel
            elif self._changed(old):
                report["reloaded"].append(id)
                self.current(id, force=True)
        loaded = self._load_many({id: by_id[id][0] for id, e in fresh.items() if e is None})
        for id, entry in fresh.items():
            entry = entry or loaded[id]
            report["added" if id not in self.entries else "reloaded"].append(id)
            self._replace(id, entry)
        return report

    def current(self, id: str, force: bool = False) -> Entry | None:
        """The entry of ``id``, loaded again first when its files changed since the last load
        (at most once per :data:`RETRY_S`); None for an unknown id."""
        entry = self.entries.get(id)
        if entry is None or not (force or self._changed(entry)):
            return entry
        lock = self._loading.setdefault(id, threading.Lock())
        with lock:
            entry = self.entries.get(id)
            if entry is None or not (force or self._changed(entry)):
                return entry
            if not force and time.monotonic() - entry.tried < RETRY_S:
                return entry
            log.warning("data set %s: its files changed; loading it again", id)
            fresh = self._load(id, entry.folder)
            self._replace(id, fresh)
            return fresh

    def _changed(self, entry: Entry) -> bool:
        return _stamp(entry.watched) != entry.stamp

    def _replace(self, id: str, entry: Entry | None) -> None:
        with self._lock:
            old = self.entries.pop(id, None) if entry is None else self.entries.get(id)
            if entry is not None:
                self.entries[id] = entry
            now = time.monotonic()
            if old is not None and old.dataset is not None:
                # requests may still read the old files: close them a while later
                self._retired.append((now, old.dataset))
            keep = [(t, ds) for t, ds in self._retired if now - t < RETIRE_S]
            done = [ds for t, ds in self._retired if now - t >= RETIRE_S]
            self._retired = keep
            listeners = list(self._listeners) if old is not None else []
        for ds in done:
            ds.close()
        for listener in listeners:
            listener(id)

    def _duplicate(self, id: str, folders: list[Path]) -> Entry:
        paths = " and ".join(str(self._shown(f)) for f in folders)
        entry = Entry(
            id,
            folders[0],
            error=(
                f"two data set folders are named {id!r}: {paths}; rename one of them "
                "(a data set's id is its folder name)"
            ),
            duplicate=True,
        )
        log.error("data set %s: %s", id, entry.error)
        return entry

    def _shown(self, folder: Path) -> Path:
        """``folder`` as typed from where the server started (the API shows no server paths)."""
        return typed_path(folder, self.roots, self.cwd)

    def _load_many(self, folders: dict[str, Path]) -> dict[str, Entry]:
        """Load ``folders`` at the same time (each bounded by the load timeout)."""
        out: dict[str, Entry] = {}
        threads = [
            threading.Thread(target=lambda i=id, f=folder: out.__setitem__(i, self._load(i, f)))
            for id, folder in folders.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    def _load(self, id: str, folder: Path) -> Entry:
        watched = _watched(folder)
        stamp = _stamp(watched)
        dataset, problems = load_folder(folder, id, self.load_timeout)
        tried = time.monotonic()
        shown = self._shown(folder)
        if dataset is None:
            error = str(DatasetError(problems.errors))
            if unbuilt(folder):
                # a recipe waiting for its build is the normal state of a fresh checkout
                hint = f"build it with `hiddenscope build {shown}`"
                log.warning("data set %s is not built yet; %s", id, hint)
                error = f"not built yet; build it with `hiddenscope build {folder}`\n{error}"
            else:
                log.error("data set %s is unavailable:\n%s", id, error)
            return Entry(
                id, folder, error=error, stamp=stamp, watched=watched, tried=tried, shown=shown
            )
        for warning in dataset.warnings:
            log.warning("data set %s: %s", id, warning)
        log.info(
            "data set %s: %s steps, %d sources, config %s",
            id,
            f"{dataset.length:,}",
            len(dataset.sources),
            find_config(folder),
        )
        return Entry(
            id, folder, dataset=dataset, stamp=stamp, watched=watched, tried=tried, shown=shown
        )

    def close(self) -> None:
        with self._lock:
            datasets = [e.dataset for e in self.entries.values() if e.dataset is not None]
            datasets += [ds for _, ds in self._retired]
            self._retired = []
        for ds in datasets:
            ds.close()
