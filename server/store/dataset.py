"""One loaded data set: tokens, vocabulary, sequence offsets, state sources and meta tracks."""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np

from .arrays import Hdf5Files, read_vocabulary, uncovered_ids
from .config import DatasetConfig, SourceConfig, find_config, parse_config, unreadable
from .errors import DatasetError, Problems
from .meta import MetaTrack, SequenceTrack, load_sequence_track, load_track
from .source import H5StateSource

SCHEMA_VERSION = 1  # the `hiddenscope_schema` attribute this store reads
SCHEMA_ATTR = "hiddenscope_schema"
# Sanity bounds, checked on shapes before anything is allocated (a table's header can claim
# any size; a .dict line can name any id):
MAX_STEPS = 2**31 - 1  # positions are int32 in the API
MAX_CELLS = 1 << 20  # cells per source
MAX_LABEL_ID = 10_000_000  # ids in a vocabulary or label list (.dict lines, JSON lists)
MAX_LABEL_FILE_BYTES = 512 << 20
_DICT_ID = re.compile(rb"(?m)^[ \t]*\S*[ \t]+(-?[0-9]+)[ \t]*\r?$")


class Dataset:
    """A data set folder, opened read-only. Build it with :func:`open_dataset`."""

    def __init__(
        self,
        id: str,
        config: DatasetConfig,
        files: Hdf5Files,
        tokens: np.ndarray,
        vocab: list[str | None],
        offsets: np.ndarray,
        sources: dict[str, H5StateSource],
        meta: dict[str, MetaTrack],
        warnings: list[str],
        sequence_meta: dict[str, SequenceTrack] | None = None,
    ) -> None:
        self.id = id
        self.config = config
        self.folder = config.folder
        self.name = config.name
        self.description = config.description
        self.tokens = tokens  # int32[T]
        self.vocab = vocab
        self.vocab_array = np.array(
            [f"#{i}" if v is None else v for i, v in enumerate(vocab)], dtype=object
        )
        self.sequence_offsets = offsets  # int64[N+1]
        self.sources = sources
        self.meta = meta
        # `sequence_meta:` tracks, one value per sequence (gold label, prediction, confidence)
        self.sequence_meta = sequence_meta or {}
        self.warnings = warnings
        self._files = files

    @property
    def length(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def sequences(self) -> int:
        return int(self.sequence_offsets.shape[0] - 1)

    @property
    def regex_search(self) -> bool:
        return self.config.regex_search

    @cached_property
    def char_level(self) -> bool:
        """True when (nearly) every vocabulary entry is one character: a character model."""
        entries = [v for v in self.vocab if v is not None]
        return bool(entries) and sum(len(v) == 1 for v in entries) >= 0.9 * len(entries)

    def token_text(self, start: int, end: int) -> list[str]:
        """The tokens of steps ``start .. end`` (inclusive) as strings."""
        return self.vocab_array[self.tokens[start : end + 1]].tolist()

    def sequences_between(self, start: int, end: int) -> np.ndarray:
        """Indices ``int64[k]`` of the sequences that hold a step of ``start .. end``."""
        first = int(np.searchsorted(self.sequence_offsets, start, side="right")) - 1
        last = int(np.searchsorted(self.sequence_offsets, end, side="right")) - 1
        return np.arange(first, min(last, self.sequences - 1) + 1, dtype=np.int64)

    def sequence_bounds(self, step: int) -> tuple[int, int]:
        """(first, last) step of the sequence that holds ``step``."""
        i = int(np.searchsorted(self.sequence_offsets, step, side="right")) - 1
        return int(self.sequence_offsets[i]), int(self.sequence_offsets[i + 1]) - 1

    def close(self) -> None:
        self._files.close()


def open_dataset(folder: Path, id: str | None = None) -> Dataset:
    """Load the data set in ``folder``; raise :class:`DatasetError` listing every problem."""
    dataset, problems = check_dataset(folder, id)
    if dataset is None:
        raise DatasetError(problems.errors)
    return dataset


def check_dataset(folder: Path, id: str | None = None) -> tuple[Dataset | None, Problems]:
    """Load ``folder`` collecting every error and warning (for `hiddenscope check`)."""
    folder = Path(folder).resolve()
    config_path = find_config(folder)
    if config_path is None:
        problems = Problems(folder)
        problems.error(
            "", "has no dataset.yml or lstm.yml", "write a dataset.yml (datasets/README.md)"
        )
        return None, problems
    config, problems = parse_config(config_path)
    if config is None:
        return None, problems
    files = Hdf5Files()
    try:
        dataset = _Loader(config, files, problems).load(id or folder.name)
    except DatasetError as exc:
        problems.errors.extend(exc.problems)
        dataset = None
    except OSError as exc:  # h5py reports damaged or truncated files only when reading them
        problems.error("", f"a data file cannot be read ({exc})", "rebuild or re-copy the data set")
        dataset = None
    if dataset is None:
        files.close()
    return dataset, problems


class _Loader:
    """Opens the files a config names and checks shapes, collecting problems."""

    def __init__(self, config: DatasetConfig, files: Hdf5Files, problems: Problems) -> None:
        self.c = config
        self.files = files
        self.p = problems
        self.strict = not config.is_lstmvis
        self._labels: dict[str, list[str | None] | None] = {}
        self._checked: set[Path] = set()

    def _missing_fix(self) -> str:
        if self.c.build is not None:
            return f"build it with `hiddenscope build {self.c.folder}`"
        return "check the file name in `files`"

    def refuse(self, ref: str, max_bytes: int | None = None) -> bool:
        """Report (once) and return True when the file of ``ref`` must not be opened."""
        path = self.c.files[ref]
        why = unreadable(path, self.c.folder, max_bytes)
        if why and path not in self._checked:
            self.p.error(f"files.{ref}", f"{path.name!r} {why}")
        if why:
            self._checked.add(path)
        return why is not None

    def h5(self, ref: str, key: str) -> h5py.File | None:
        path = self.c.files[ref]
        if self.refuse(ref):
            return None
        if not path.is_file():
            if path not in self._checked:
                self.p.error(
                    f"files.{ref}",
                    f"{path.name!r} does not exist in {path.parent}",
                    self._missing_fix(),
                )
            self._checked.add(path)
            return None
        first = path not in self._checked
        f = self.files.get(path)
        version = f.attrs.get(SCHEMA_ATTR)
        # files without the attribute are LSTMVis's or the user's own: nothing to check
        if first and version is not None and _schema_number(version) != SCHEMA_VERSION:
            self.p.error(
                f"files.{ref}",
                f"{path.name} has {SCHEMA_ATTR}={_show(version)}; this "
                f"server reads version {SCHEMA_VERSION}",
                "rebuild it with this version's `hiddenscope build`, or upgrade hiddenscope",
            )
        self._checked.add(path)
        return f

    def dataset(self, ref: str, path: str, key: str) -> h5py.Dataset | None:
        f = self.h5(ref, key)
        if f is None:
            return None
        node = f.get(path)
        if not isinstance(node, h5py.Dataset):
            found = []
            f.visititems(
                lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None
            )
            self.p.error(
                key,
                f"{path!r} is not a dataset in {f.filename.rsplit('/', 1)[-1]}",
                f"it has {', '.join(found[:12]) or 'no datasets'}",
            )
            return None
        return node

    def labels(self, ref: str, key: str) -> list[str | None] | None:
        if ref not in self._labels:
            path = self.c.files[ref]
            if self.refuse(ref, MAX_LABEL_FILE_BYTES):
                self._labels[ref] = None
                return None
            try:
                _check_label_ids(path)
                self._labels[ref] = read_vocabulary(path)
            except FileNotFoundError:
                self.p.error(
                    f"files.{ref}",
                    f"{path.name!r} does not exist in {path.parent}",
                    self._missing_fix(),
                )
                self._labels[ref] = None
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                self.p.error(
                    key,
                    f"{path.name} cannot be read as a label list ({exc})",
                    "write a JSON list of strings, or `token id` lines",
                )
                self._labels[ref] = None
        return self._labels[ref]

    def load(self, id: str) -> Dataset | None:
        ws = self.c.word_sequence
        tokens_ds = self.dataset(ws.file, ws.path, "word_sequence.path")
        vocab = self.labels(ws.dict_file, "word_sequence.dict_file")
        if tokens_ds is None or vocab is None:
            return None
        tokens = self._tokens(tokens_ds, vocab)
        if tokens is None:
            return None
        tables = self._tables(tokens.shape[0])
        length = min([tokens.shape[0]] + [ds.shape[0] for _, ds in tables])
        tokens = tokens[:length]
        offsets = self._offsets(length)
        if offsets is None or self.p.errors:
            return None
        sources = {
            sc.id: H5StateSource(sc, ds, self.c.files[sc.file], length, offsets)
            for sc, ds in tables
        }
        meta = {}
        for mc in self.c.meta:
            track = load_track(
                mc, self.dataset, self.labels, tokens, vocab, length, self.strict, self.p
            )
            if track is not None:
                meta[mc.name] = track
        sequence_meta = {}
        for mc in self.c.sequence_meta:
            seq_track = load_sequence_track(
                mc, self.dataset, self.labels, offsets.shape[0] - 1, self.p
            )
            if seq_track is not None:
                sequence_meta[mc.name] = seq_track
        if self.p.errors:
            return None
        return Dataset(
            id,
            self.c,
            self.files,
            tokens,
            vocab,
            offsets,
            sources,
            meta,
            [str(w) for w in self.p.warnings],
            sequence_meta,
        )

    def _tokens(self, ds: h5py.Dataset, vocab: list[str | None]) -> np.ndarray | None:
        if ds.ndim == 1 and ds.shape[0] > MAX_STEPS:
            self.p.error(
                "word_sequence.path",
                f"{ds.name!r} claims {ds.shape[0]:,} steps, over the bound of {MAX_STEPS:,}",
                "split the corpus into several data sets",
            )
            return None
        if ds.ndim != 1 or not (
            np.issubdtype(ds.dtype, np.integer) or np.issubdtype(ds.dtype, np.floating)
        ):
            self.p.error(
                "word_sequence.path",
                f"{ds.name!r} has shape {ds.shape} and dtype {ds.dtype}",
                "store the token ids as a 1-D integer table [T]",
            )
            return None
        raw = np.asarray(ds[()])
        tokens = raw.astype(np.int64)
        if raw.dtype.kind == "f" and not np.array_equal(tokens, raw):
            self.p.error(
                "word_sequence.path", f"{ds.name!r} holds non-integer ids", "store integer ids"
            )
            return None
        if tokens.size == 0:
            self.p.error("word_sequence.path", f"{ds.name!r} is empty", "store at least one token")
            return None
        missing = uncovered_ids(tokens, vocab)
        if missing.size:
            self.p.error(
                "word_sequence.dict_file",
                f"token ids {missing[:8].tolist()} ({missing.size} in all) have no entry in "
                f"{self.c.files[self.c.word_sequence.dict_file].name}",
                "add them to the vocabulary, or fix word_sequence.path",
            )
            return None
        return tokens.astype(np.int32)

    def _tables(self, n_tokens: int) -> list[tuple[SourceConfig, h5py.Dataset]]:
        """The checked `[T, D]` table of every `states.types` entry."""
        tables = []
        for i, sc in enumerate(self.c.sources):
            key = f"states.types[{i}].path"
            ds = self.dataset(sc.file, sc.path, key)
            if ds is None:
                continue
            if ds.ndim != 2 or ds.dtype.kind not in "fiu":
                self.p.error(
                    key,
                    f"{sc.path!r} has shape {ds.shape} and dtype {ds.dtype}",
                    "store states as a 2-D float table [T, D]",
                )
                continue
            if not 1 <= ds.shape[1] <= MAX_CELLS:
                self.p.error(
                    key,
                    f"{sc.path!r} has {ds.shape[1]:,} cells; a source has 1 to {MAX_CELLS:,}",
                    "store states as [T, D] with one column per cell",
                )
                continue
            offset, size = ds.id.get_offset(), ds.id.get_storage_size()
            if offset is not None and offset + size > os.path.getsize(ds.file.filename):
                self.p.error(
                    key,
                    f"{sc.path!r} ends past the end of {Path(ds.file.filename).name}: the file "
                    "is cut short (an unfinished copy or a truncation)",
                    "copy or build the data set again",
                )
                continue
            T = ds.shape[0]
            if T != n_tokens and (self.strict or T > n_tokens):
                self.p.error(
                    key,
                    f"{sc.path!r} has {T} steps but there are {n_tokens} tokens",
                    "extract one state row per token",
                )
                continue
            if T < n_tokens:  # LSTMVis's preprocess.py drops the tail that fills no batch
                self.p.warn(
                    key,
                    f"{sc.path!r} has {T} steps, {n_tokens - T} fewer than the tokens",
                    f"serving the first {T} steps",
                )
            tables.append((sc, ds))
        return tables

    def _offsets(self, length: int) -> np.ndarray | None:
        path = self.c.word_sequence.sequences
        if path is None:
            return np.array([0, length], dtype=np.int64)
        ds = self.dataset(self.c.word_sequence.file, path, "word_sequence.sequences")
        if ds is None:
            return None
        if ds.ndim != 1 or not 2 <= ds.shape[0] <= length + 1 or ds.dtype.kind not in "iuf":
            self.p.error(
                "word_sequence.sequences",
                f"{path!r} has shape {ds.shape} and dtype {ds.dtype}; there are {length} steps",
                "store [N+1] integer offsets, N+1 <= T+1",
            )
            return None
        o = np.asarray(ds[()]).astype(np.int64)
        if not self.strict:
            o = np.append(o[o < length], length)
        if o.ndim != 1 or o.size < 2 or o[0] != 0 or o[-1] != length or np.any(np.diff(o) <= 0):
            self.p.error(
                "word_sequence.sequences",
                f"{path!r} = {o.tolist()[:6]}... is not a list of "
                f"offsets rising strictly from 0 to T={length}",
                "store [N+1] offsets: o[0]=0, o[N]=T, sequence i = steps o[i]..o[i+1]-1",
            )
            return None
        return o


def _schema_number(value) -> int | None:
    """The schema attribute as a whole number, or None when it is not one (``b"x"``, 1.5)."""
    try:
        number = int(np.asarray(value).item())
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number == np.asarray(value).item() else None


def _show(value) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_label_ids(path: Path) -> None:
    """Raise ValueError when a ``.dict``/``.txt`` line names an id past :data:`MAX_LABEL_ID`
    (the reader would allocate a list that long); JSON lists are bounded by the file size."""
    if path.suffix.lower() == ".json":
        return
    with open(path, "rb") as f:
        data = f.read()
    for m in _DICT_ID.finditer(data):
        if len(m.group(1)) > 7 and int(m.group(1)) > MAX_LABEL_ID:
            raise ValueError(
                f"the line {m.group(0).strip()[:60].decode('utf-8', 'replace')!r} names id "
                f"{int(m.group(1)):,}, over the bound of {MAX_LABEL_ID:,}; ids number the "
                "entries from 0"
            )
