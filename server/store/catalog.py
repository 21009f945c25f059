"""Finding data sets: roots scanned recursively; a data set's id is its folder's name."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .config import CONFIG_NAMES, find_config
from .dataset import Dataset, open_dataset
from .errors import DatasetError

log = logging.getLogger(__name__)


@dataclass
class Entry:
    """One data set folder: loaded, or unavailable with the reason."""

    id: str
    folder: Path
    dataset: Dataset | None = None
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.dataset is not None

    @property
    def public_error(self) -> str | None:
        """The error as clients see it: paths relative to the folder holding the data set,
        so the API never shows where the server keeps its files (the log has them whole)."""
        if self.error is None:
            return None
        text = self.error
        # absolute forms only: a relative parent such as "." would also eat "../" in a message
        for parent in {self.folder.absolute().parent, self.folder.resolve().parent}:
            text = text.replace(str(parent) + os.sep, "")
        return text


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


class Catalog:
    """The data sets under some roots, loaded once. Broken ones stay listed with their error."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self.entries: dict[str, Entry] = {}
        by_id: dict[str, list[Path]] = {}
        for folder in find_folders(self.roots):
            by_id.setdefault(folder.name, []).append(folder)
        for id, folders in sorted(by_id.items()):
            if len(folders) > 1:
                paths = " and ".join(str(f) for f in folders)
                self.entries[id] = Entry(
                    id,
                    folders[0],
                    error=(
                        f"two data set folders are named {id!r}: {paths}; rename one of them "
                        "(a data set's id is its folder name)"
                    ),
                )
                log.error("data set %s: %s", id, self.entries[id].error)
                continue
            self.entries[id] = self._load(id, folders[0])

    @staticmethod
    def _load(id: str, folder: Path) -> Entry:
        try:
            dataset = open_dataset(folder, id)
        except DatasetError as exc:
            log.error("data set %s is unavailable:\n%s", id, exc)
            return Entry(id, folder, error=str(exc))
        except Exception as exc:  # a loader bug must not keep the other data sets from serving
            log.exception("data set %s could not be loaded", id)
            return Entry(
                id,
                folder,
                error=f"{folder}: could not be loaded ({type(exc).__name__}: "
                f"{exc}); the server log has the details",
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
        return Entry(id, folder, dataset=dataset)

    def close(self) -> None:
        for entry in self.entries.values():
            if entry.dataset is not None:
                entry.dataset.close()
