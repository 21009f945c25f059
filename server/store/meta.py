"""Meta tracks: per-step annotations (categorical, scalar, top-K) aligned with the tokens."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import h5py
import numpy as np

from .arrays import direct_or_dataset, read_rows, uncovered_ids
from .config import MetaConfig
from .errors import Problems

KINDS = ("categorical", "scalar", "topk")
_CHUNK = 1 << 20
# A categorical track's labels go out with every data set summary: a track with more labels
# than this is not a category (it would send megabytes per request); make it scalar or top-K.
MAX_CATEGORIES = 65_536


def track_kind(config: MetaConfig, ds: h5py.Dataset) -> str:
    """categorical | scalar | topk, from `vis.type`, then `type`, then the data."""
    if config.vis_type:
        return {"discrete": "categorical", "scalar": "scalar", "wordvec": "topk"}[config.vis_type]
    if config.type == "wordvec":
        return "topk"
    if config.dict or np.issubdtype(ds.dtype, np.integer):
        return "categorical"
    return "scalar"


def _labels_array(labels: list[str | None]) -> np.ndarray:
    """Object array of labels; ids no line names read ``#id`` (never None in the JSON)."""
    return np.array([f"#{i}" if lab is None else lab for i, lab in enumerate(labels)], dtype=object)


class _Summarised:
    """What the data set summary lists of a track, step-level or sequence-level alike."""

    def summary(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "labels": self.labels,
            "range": list(self.range) if self.range else None,
        }


class MetaTrack(_Summarised):
    """One meta track. ``window(start, end)`` gives the MetaValues JSON of steps start..end."""

    def __init__(
        self,
        config: MetaConfig,
        kind: str,
        data: np.ndarray | h5py.Dataset,
        tokens: np.ndarray,
        labels: list[str | None] | None,
        weights: np.ndarray | h5py.Dataset | None = None,
    ) -> None:
        self.config = config
        self.id = config.name
        self.kind = kind
        self._data = data
        self._weights = weights
        self._tokens = tokens  # int32[T], for per-vocabulary tracks (index: word_sequence)
        self._labels = labels
        self._label_array = _labels_array(labels) if labels is not None else None
        self._range: tuple[float, float] | None = (
            config.vis_range if isinstance(config.vis_range, tuple) else None
        )

    @cached_property
    def labels(self) -> list[str] | None:
        """The label of each id (categorical tracks); computed once, sent with every window."""
        if self.kind != "categorical":
            return None
        if self._label_array is None:  # no dict: the ids themselves are the labels
            used = _ids_in_use(self._data, self._tokens, self.config.index == "word_sequence")
            top = int(used.max()) if used.size else 0
            self._label_array = _labels_array([str(i) for i in range(max(top, 0) + 1)])
        return self._label_array.tolist()

    @property
    def range(self) -> tuple[float, float] | None:
        if self.kind != "scalar":
            return None
        if self._range is None:
            self._range = self._full_range()
        return self._range

    def _rows(self, array: np.ndarray | h5py.Dataset, start: int, end: int) -> np.ndarray:
        if self.config.index == "word_sequence":
            return np.asarray(array)[self._tokens[start : end + 1]]
        return read_rows(array, start, end + 1)

    def window(self, start: int, end: int) -> dict:
        """MetaValues for steps ``start .. end`` (inclusive)."""
        values = self._rows(self._data, start, end)
        if self.kind == "categorical":
            return {"kind": "categorical", "values": values.astype(np.int64), "labels": self.labels}
        if self.kind == "scalar":
            return {
                "kind": "scalar",
                "values": values.astype(np.float64),
                "range": list(self.range),
            }
        ids = values.astype(np.int64)
        probs = (
            self._rows(self._weights, start, end).astype(np.float32)
            if self._weights is not None
            else np.full(ids.shape, np.nan, dtype=np.float32)
        )
        tokens = self._label_array[np.clip(ids, 0, len(self._label_array) - 1)]
        return {"kind": "topk", "ids": ids, "tokens": tokens.tolist(), "probs": probs}

    def _full_range(self) -> tuple[float, float]:
        """(min, max) over the whole track, read in chunks; (0, 1) when it is all NaN."""
        lo, hi = np.inf, -np.inf
        for a in range(0, len(self._data), _CHUNK):
            block = np.asarray(self._data[a : a + _CHUNK], dtype=np.float64)
            finite = block[np.isfinite(block)]
            if finite.size:
                lo, hi = min(lo, finite.min()), max(hi, finite.max())
        if lo > hi:
            return (0.0, 1.0)
        return (float(lo), float(hi) if hi > lo else float(lo) + 1.0)


def load_track(
    config: MetaConfig,
    get_dataset: Callable[[str, str, str], h5py.Dataset | None],
    get_labels: Callable[[str, str], list[str | None] | None],
    tokens: np.ndarray,
    vocab: list[str | None],
    length: int,
    strict: bool,
    problems: Problems,
) -> MetaTrack | None:
    """Check one track's shapes against the data set and build it; None after an error."""
    where = f"meta.{config.name}"
    ds = get_dataset(config.file, config.path, f"{where}.path")
    if ds is None:
        return None
    kind = track_kind(config, ds)
    want_ndim = 2 if kind == "topk" else 1
    if ds.ndim != want_ndim:
        problems.error(
            f"{where}.path",
            f"{config.path!r} has shape {ds.shape}, but a {kind} track "
            f"needs {'[T, K]' if want_ndim == 2 else '[T]'}",
            "fix vis.type/type or point path at the right table",
        )
        return None
    per_vocab = config.index == "word_sequence"
    n = ds.shape[0]
    if per_vocab and tokens.size and n <= int(tokens.max()):
        problems.error(
            f"{where}.index",
            f"per-vocabulary track {config.path!r} has {n} rows but the "
            f"token ids reach {int(tokens.max())}",
            f"give it at least {int(tokens.max()) + 1} rows",
        )
        return None
    if not per_vocab and (n < length or (strict and n != length)):
        problems.error(
            f"{where}.path",
            f"{config.path!r} has {n} steps; the tokens have {length}",
            "write one value per token (or set index: word_sequence for per-word values)",
        )
        return None
    weights = None
    if kind == "topk" and config.weights_path:
        weights = get_dataset(config.file, config.weights_path, f"{where}.weights_path")
        if weights is not None and weights.shape != ds.shape:
            problems.error(
                f"{where}.weights_path",
                f"shape {weights.shape} differs from the ids' {ds.shape}",
                "write one weight per id",
            )
            return None
    labels = get_labels(config.dict, f"{where}.dict") if config.dict else None
    if kind == "topk" and labels is None:
        labels = vocab  # top-K ids are token ids unless a dict says otherwise
    data = direct_or_dataset(ds)
    if kind == "categorical" and not _categories_bounded(config, data, tokens, labels, problems):
        return None
    if kind == "categorical" and labels is not None:
        missing = uncovered_ids(_ids_in_use(data, tokens, per_vocab), labels)
        if missing.size:
            problems.error(
                f"{where}.dict",
                f"ids {missing[:5].tolist()} of {config.path!r} have no label in {config.dict!r}",
                "add them to the label list",
            )
            return None
    return MetaTrack(
        config,
        kind,
        data,
        tokens,
        labels,
        direct_or_dataset(weights) if weights is not None else None,
    )


def _categories_bounded(
    config: MetaConfig,
    data: np.ndarray | h5py.Dataset,
    tokens: np.ndarray,
    labels: list[str | None] | None,
    problems: Problems,
    where: str | None = None,
) -> bool:
    """A categorical track has at most :data:`MAX_CATEGORIES` labels and ids >= 0."""
    where = where or f"meta.{config.name}"
    if labels is not None and len(labels) > MAX_CATEGORIES:
        problems.error(
            f"{where}.dict",
            f"{config.dict!r} has {len(labels):,} labels, over the bound of {MAX_CATEGORIES:,} "
            "for a categorical track (its labels go out with every data set summary)",
            "set vis.type: scalar, or use a shorter label list",
        )
        return False
    used = _ids_in_use(data, tokens, config.index == "word_sequence")
    if not used.size:
        return True
    low, high = used.min(), used.max()
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high != np.floor(high):
        problems.error(
            f"{where}.path",
            f"{config.path!r} holds values from {low} to {high}; a categorical track holds "
            "whole-number ids >= 0",
            "store label ids, or set vis.type: scalar",
        )
        return False
    if labels is None and high >= MAX_CATEGORIES:
        problems.error(
            f"{where}.path",
            f"{config.path!r} has ids up to {int(high):,} and no dict: over the bound of "
            f"{MAX_CATEGORIES:,} labels for a categorical track",
            "give it a dict with the labels, or set vis.type: scalar",
        )
        return False
    return True


def _ids_in_use(data: np.ndarray | h5py.Dataset, tokens: np.ndarray, per_vocab: bool) -> np.ndarray:
    """The distinct ids a categorical track uses, read in chunks."""
    if per_vocab:
        return np.unique(np.asarray(data)[np.unique(tokens)])
    parts = [np.unique(np.asarray(data[a : a + _CHUNK])) for a in range(0, len(data), _CHUNK)]
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


class SequenceTrack(_Summarised):
    """A sequence-level track (``sequence_meta:``): one value per sequence, ``[N]``, held in
    memory (N <= T, and the tracks are a gold label, a prediction and a confidence)."""

    def __init__(
        self, config: MetaConfig, kind: str, data: np.ndarray, labels: list[str | None] | None
    ) -> None:
        self.config = config
        self.id = config.name
        self.kind = kind  # categorical | scalar
        # categorical: int64[N] ids; scalar: float64[N] (NaN where a sequence has no value)
        self.data = data.astype(np.int64 if kind == "categorical" else np.float64)
        self.labels: list[str] | None = None
        self.range: tuple[float, float] | None = None
        if kind == "categorical":
            if labels is None:  # no dict: the ids themselves are the labels
                top = int(self.data.max()) if self.data.size else 0
                labels = [str(i) for i in range(top + 1)]
            self.labels = _labels_array(labels).tolist()
        else:
            self.range = config.vis_range if isinstance(config.vis_range, tuple) else None
            if self.range is None:
                finite = self.data[np.isfinite(self.data)]
                lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
                self.range = (lo, hi if hi > lo else lo + 1.0)

    def values(self, sequences: np.ndarray) -> dict:
        """MetaValues of the given sequence indices ``int[k]`` (in that order)."""
        picked = self.data[np.asarray(sequences, dtype=np.int64)]
        if self.kind == "categorical":
            return {"kind": "categorical", "values": picked, "labels": self.labels}
        return {"kind": "scalar", "values": picked, "range": list(self.range)}


def load_sequence_track(
    config: MetaConfig,
    get_dataset: Callable[[str, str, str], h5py.Dataset | None],
    get_labels: Callable[[str, str], list[str | None] | None],
    sequences: int,
    problems: Problems,
) -> SequenceTrack | None:
    """Check one ``sequence_meta`` table against the data set's N sequences and read it;
    None after an error (the problem names ``sequence_meta.<name>.<key>`` and the fix)."""
    where = f"sequence_meta.{config.name}"
    ds = get_dataset(config.file, config.path, f"{where}.path")
    if ds is None:
        return None
    if ds.ndim != 1 or ds.dtype.kind not in "iuf":
        problems.error(
            f"{where}.path",
            f"{config.path!r} has shape {ds.shape} and dtype {ds.dtype}, but a sequence-level "
            "track is a 1-D number table [N]",
            "store one integer label id or one number per sequence",
        )
        return None
    if ds.shape[0] != sequences:
        problems.error(
            f"{where}.path",
            f"{config.path!r} has {ds.shape[0]:,} values; there are {sequences:,} sequences",
            "write one value per sequence, in the order of word_sequence.sequences",
        )
        return None
    kind = track_kind(config, ds)
    data = np.asarray(ds[()])  # [N] with N <= T: the bound on T bounds it
    labels = get_labels(config.dict, f"{where}.dict") if config.dict else None
    if kind == "categorical":
        if config.dict and labels is None:
            return None
        if not _categories_bounded(config, data, data, labels, problems, where):
            return None
        if labels is not None:
            missing = uncovered_ids(np.unique(data).astype(np.int64), labels)
            if missing.size:
                problems.error(
                    f"{where}.dict",
                    f"ids {missing[:5].tolist()} of {config.path!r} have no label in "
                    f"{config.dict!r}",
                    "add them to the label list",
                )
                return None
    return SequenceTrack(config, kind, data, labels)
