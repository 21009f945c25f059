"""Typed configuration of a data set folder: `dataset.yml`, or an unchanged LSTMVis `lstm.yml`.

`parse_config` reads the YAML and checks every key and value that can be checked without
opening the data files; `Dataset` (dataset.py) checks the rest (HDF5 paths, shapes).
Every error names the file, the key, the bad value and the fix. `ACCEPTED_KEYS` lists
every key the loader reads; datasets/README.md must document each one (a test checks).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problems
from .models import ModelConfig, parse_model, parse_sequence_meta

CONFIG_NAMES = ("dataset.yml", "lstm.yml")  # dataset.yml wins when a folder has both
HDF5_SUFFIXES = (".h5", ".hdf5")
DICT_SUFFIXES = (".json", ".dict", ".txt")
TRANSFORMS = ("tanh", "none")
DIRECTIONS = ("forward", "backward")
META_TYPES = ("general", "wordvec")
META_INDEX = ("self", "word_sequence")
VIS_TYPES = ("discrete", "scalar", "wordvec")

# Every key the loader reads, as datasets/README.md writes it.
ACCEPTED_KEYS = (
    "name",
    "description",
    "files",
    "build",
    "word_sequence.file",
    "word_sequence.path",
    "word_sequence.dict_file",
    "word_sequence.sequences",
    "word_embedding.file",
    "word_embedding.path",
    "states.file",
    "states.types[].id",
    "states.types[].label",
    "states.types[].type",
    "states.types[].layer",
    "states.types[].direction",
    "states.types[].path",
    "states.types[].file",
    "states.types[].transform",
    "states.types[].unsigned",
    "meta.<name>.file",
    "meta.<name>.path",
    "meta.<name>.type",
    "meta.<name>.dict",
    "meta.<name>.index",
    "meta.<name>.weights_path",
    "meta.<name>.vis.type",
    "meta.<name>.vis.range",
    "etc.regex_search",
    "model.task",
    "model.classes",
    "model.tokenizer",
    "model.lowercase",
    "model.unk",
    "model.extracted",
    "model.checkpoints[].id",
    "model.checkpoints[].label",
    "model.checkpoints[].model",
    "model.checkpoints[].step",
    "model.checkpoints[].architecture",
    "model.checkpoints[].format",
    "model.checkpoints[].file",
    "model.checkpoints[].config",
    "sequence_meta.<name>.file",
    "sequence_meta.<name>.path",
    "sequence_meta.<name>.dict",
    "sequence_meta.<name>.vis.type",
    "sequence_meta.<name>.vis.range",
)


def _keys_under(prefix: str) -> set[str]:
    """The accepted child keys of ``prefix`` (e.g. ``states.types[]`` -> {id, label, ...})."""
    head = prefix + "." if prefix else ""
    return {
        k[len(head) :].split(".")[0].removesuffix("[]") for k in ACCEPTED_KEYS if k.startswith(head)
    }


@dataclass(frozen=True)
class WordSequenceConfig:
    file: str
    path: str
    dict_file: str
    sequences: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    """One `states.types` entry: a (layer, kind) table of states."""

    id: str
    label: str
    type: str
    layer: int
    direction: str
    path: str
    file: str
    transform: str
    unsigned: bool


@dataclass(frozen=True)
class MetaConfig:
    """One `meta.<name>` entry. ``vis_range`` is ``"dict"``, ``(lo, hi)`` or None (data range)."""

    name: str
    file: str
    path: str
    type: str = "general"
    dict: str | None = None
    index: str = "self"
    weights_path: str | None = None
    vis_type: str | None = None
    vis_range: str | tuple[float, float] | None = None


@dataclass(frozen=True)
class DatasetConfig:
    folder: Path
    config_path: Path
    format: str  # "dataset.yml" or "lstm.yml"
    name: str
    description: str
    files: dict[str, Path]
    word_sequence: WordSequenceConfig
    sources: tuple[SourceConfig, ...]
    meta: tuple[MetaConfig, ...]
    regex_search: bool = False
    build: dict[str, Any] | None = None
    model: ModelConfig | None = None  # models.py: the model and checkpoints it may carry
    sequence_meta: tuple[MetaConfig, ...] = ()  # [N] tracks, one value per sequence
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_lstmvis(self) -> bool:
        return self.format == "lstm.yml"


MAX_CONFIG_BYTES = 1 << 20  # a config is a few KB; more is not a config
MAX_YAML_DEPTH = 64  # nesting levels of a config (PyYAML recurses per level)
MAX_YAML_VALUES = 100_000  # values after expanding aliases (a "billion laughs" file is 1 KB)


def find_config(folder: Path) -> Path | None:
    """The config file of ``folder`` (dataset.yml before lstm.yml), or None. A name that exists
    but is no regular file (a FIFO, a device) is returned too, so loading can refuse it."""
    for name in CONFIG_NAMES:
        if os.path.lexists(folder / name):
            return folder / name
    return None


def unreadable(path: Path, folder: Path, max_bytes: int | None = None) -> str | None:
    """Why ``path`` must not be opened as a data file of ``folder``, or None when it may.

    Refused: a path that leads outside the folder (``..``, an absolute name, a link whose
    target is elsewhere), a missing file, anything but a regular file (a FIFO would block the
    reader forever, a device would never end), and a file larger than ``max_bytes``.
    """
    base = Path(os.path.realpath(folder))
    real = Path(os.path.realpath(path))
    if real != base and base not in real.parents:
        return "leads outside the data set folder; copy or move the file into the folder"
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return None  # reported by the caller, which names the missing file and the fix
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        return f"is {kind}; a data file must be an ordinary file"
    if max_bytes is not None and st.st_size > max_bytes:
        return f"is {st.st_size:,} bytes, over the bound of {max_bytes:,} for this kind of file"
    return None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader (no tags executed) with a nesting depth and a bound on the values
    aliases expand to: a YAML file can name one list a billion times in a few lines."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.YAMLError(
                    f"nested deeper than {MAX_YAML_DEPTH} levels (a config needs a handful)"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {})
        return node


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Values in ``node`` once every alias is expanded (memoised per node: linear time)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    if size > MAX_YAML_VALUES:
        raise yaml.YAMLError(
            f"expands to more than {MAX_YAML_VALUES:,} values through its aliases "
            "(*name); write the values out"
        )
    memo[key] = size
    return size


def load_yaml(path: Path) -> Any:
    """The YAML document in ``path`` through :class:`_BoundedLoader`."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_BoundedLoader)  # noqa: S506


class _Reader:
    """Typed access to one YAML mapping, reporting problems under dotted key names."""

    def __init__(self, problems: Problems, strict: bool) -> None:
        self.p = problems
        self.strict = strict  # dataset.yml: unknown keys are errors; lstm.yml: warnings

    def mapping(self, value: Any, key: str, accepted: str | None) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.p.error(
                key or "(top level)",
                f"expected a mapping, got {_show(value)}",
                "write `key: value` lines under it",
            )
            return {}
        if accepted is not None:
            known = _keys_under(accepted)
            for k in value:
                if k not in known:
                    report = self.p.error if self.strict else self.p.warn
                    where = f"{key}.{k}" if key else str(k)
                    report(
                        where,
                        "unknown key",
                        f"use one of {', '.join(sorted(known))} "
                        "(datasets/README.md documents every key)",
                    )
        return value

    def text(
        self,
        m: dict,
        key: str,
        where: str,
        default: str | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        value = m.get(key, default)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and choices is None:
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.p.error(where, f"expected a non-empty text, got {_show(value)}")
            return default
        if choices and value not in choices:
            self.p.error(where, f"{value!r} is not supported", f"use one of {', '.join(choices)}")
            return default
        return value

    def required(self, m: dict, key: str, where: str) -> str:
        if m.get(key) is None:
            self.p.error(where, "missing", "this key is required (see datasets/README.md)")
            return ""
        return self.text(m, key, where) or ""

    def flag(self, m: dict, key: str, where: str, default: bool = False) -> bool:
        value = m.get(key, default)
        if not isinstance(value, bool):
            self.p.error(where, f"expected true or false, got {_show(value)}")
            return default
        return value

    def integer(self, m: dict, key: str, where: str, default: int = 0) -> int:
        value = m.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.p.error(where, f"expected a whole number >= 0, got {_show(value)}")
            return default
        return value

    def file_ref(
        self,
        m: dict,
        key: str,
        where: str,
        files: dict[str, Path],
        suffixes: tuple[str, ...],
        required: bool = True,
    ) -> str | None:
        ref = self.required(m, key, where) if required else self.text(m, key, where)
        if not ref:
            return None
        if ref not in files:
            self.p.error(
                where,
                f"{ref!r} is not a name in `files`",
                f"use one of {', '.join(sorted(files)) or '(files is empty)'}",
            )
            return None
        if files[ref].suffix.lower() not in suffixes:
            self.p.error(
                where,
                f"{ref!r} refers to {files[ref].name}, which is not a {'/'.join(suffixes)} file",
                "point it at a file of that kind",
            )
            return None
        return ref


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_config(config_path: Path) -> tuple[DatasetConfig | None, Problems]:
    """Read ``config_path``; return the typed config (None when unusable) and the problems."""
    config_path = Path(config_path)
    folder = config_path.parent
    problems = Problems(config_path)
    why = unreadable(config_path, folder, MAX_CONFIG_BYTES)
    if why:
        problems.error("", why, "write the config as a plain file in the data set folder")
        return None, problems
    try:
        raw = load_yaml(config_path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        problems.error(
            "",
            f"cannot be read as YAML: {' '.join(str(exc).split())}",
            "fix the syntax (indentation, `key: value`)",
        )
        return None, problems
    r = _Reader(problems, strict=config_path.name == "dataset.yml")
    top = r.mapping(raw, "", "")
    if not top:
        if raw is None or isinstance(raw, dict):
            problems.error("", "is empty", "write the keys described in datasets/README.md")
        return None, problems
    name = r.text(top, "name", "name", default=folder.name) or folder.name
    if "build" in top and not {"files", "word_sequence", "states"} & set(top):
        problems.error(
            "",
            "holds only a `build:` recipe: the data set is not built yet",
            f"build it with `hiddenscope build {folder}`",
        )
        return None, problems
    files = _parse_files(r, top, folder)
    word_sequence = _parse_word_sequence(r, top, files)
    sources = _parse_states(r, top, files)
    meta = _parse_meta(r, top, files)
    r.mapping(top.get("word_embedding"), "word_embedding", "word_embedding")
    etc = r.mapping(top.get("etc"), "etc", "etc")
    build = top.get("build")
    if build is not None and not isinstance(build, dict):
        problems.error("build", f"expected a mapping (the recipe), got {_show(build)}")
        build = None
    config = DatasetConfig(
        folder=folder,
        config_path=config_path,
        format=config_path.name,
        name=name,
        description=r.text(top, "description", "description", default=name) or name,
        files=files,
        word_sequence=word_sequence,
        sources=sources,
        meta=meta,
        regex_search=r.flag(etc, "regex_search", "etc.regex_search"),
        build=build,
        model=parse_model(r, top, folder),
        sequence_meta=parse_sequence_meta(r, top, files, MetaConfig),
        warnings=tuple(str(w) for w in problems.warnings),
    )
    return (None if problems.errors else config), problems


def _parse_files(r: _Reader, top: dict, folder: Path) -> dict[str, Path]:
    if "files" not in top:
        r.p.error(
            "files", "missing", "list the data files: `files: {data: data.h5, vocab: vocab.json}`"
        )
    files: dict[str, Path] = {}
    for ref, name in r.mapping(top.get("files"), "files", None).items():
        if not isinstance(name, str) or not name.strip():
            r.p.error(f"files.{ref}", f"expected a file name, got {_show(name)}")
            continue
        if "\x00" in name:
            r.p.error(f"files.{ref}", "holds a null character", "give a plain file name")
            continue
        # a name leading outside the folder (absolute, '..', a link) is refused on load
        files[str(ref)] = folder / name
    return files


def _parse_word_sequence(r: _Reader, top: dict, files: dict[str, Path]) -> WordSequenceConfig:
    if "word_sequence" not in top:
        r.p.error(
            "word_sequence",
            "missing",
            "name the token ids: `word_sequence: {file, path, dict_file}`",
        )
        return WordSequenceConfig("", "", "")
    m = r.mapping(top.get("word_sequence"), "word_sequence", "word_sequence")
    return WordSequenceConfig(
        file=r.file_ref(m, "file", "word_sequence.file", files, HDF5_SUFFIXES) or "",
        path=r.required(m, "path", "word_sequence.path"),
        dict_file=r.file_ref(m, "dict_file", "word_sequence.dict_file", files, DICT_SUFFIXES) or "",
        sequences=r.text(m, "sequences", "word_sequence.sequences"),
    )


def _parse_states(r: _Reader, top: dict, files: dict[str, Path]) -> tuple[SourceConfig, ...]:
    if "states" not in top:
        r.p.error("states", "missing", "list the state tables under `states: {file, types: [...]}`")
        return ()
    m = r.mapping(top.get("states"), "states", "states")
    default_file = r.file_ref(m, "file", "states.file", files, HDF5_SUFFIXES, required=False)
    types = m.get("types")
    if not isinstance(types, list) or not types:
        r.p.error(
            "states.types",
            f"expected a non-empty list, got {_show(types)}",
            "add one entry per table: `- {type: cell, layer: 0, path: states1}`",
        )
        return ()
    sources: list[SourceConfig] = []
    for i, entry in enumerate(types or []):
        where = f"states.types[{i}]"
        t = r.mapping(entry, where, "states.types[]")
        if not t:
            continue
        file = (
            r.file_ref(t, "file", f"{where}.file", files, HDF5_SUFFIXES)
            if "file" in t
            else default_file
        )
        if file is None and "file" not in t:
            r.p.error(
                f"{where}.file",
                "missing, and there is no states.file",
                "set states.file or this entry's file",
            )
        path = r.required(t, "path", f"{where}.path")
        layer = r.integer(t, "layer", f"{where}.layer")
        kind = r.text(t, "type", f"{where}.type", default="state") or "state"
        source = SourceConfig(
            id=r.text(t, "id", f"{where}.id", default=f"{file}::{path}") or f"{file}::{path}",
            label=r.text(t, "label", f"{where}.label", default=f"layer {layer} {kind}") or "",
            type=kind,
            layer=layer,
            direction=r.text(t, "direction", f"{where}.direction", "forward", DIRECTIONS)
            or "forward",
            path=path,
            file=file or "",
            transform=r.text(t, "transform", f"{where}.transform", "tanh", TRANSFORMS) or "tanh",
            unsigned=r.flag(t, "unsigned", f"{where}.unsigned"),
        )
        if any(s.id == source.id for s in sources):
            r.p.error(f"{where}.id", f"{source.id!r} is used twice", "give each source its own id")
        sources.append(source)
    return tuple(sources)


def _parse_meta(r: _Reader, top: dict, files: dict[str, Path]) -> tuple[MetaConfig, ...]:
    tracks = []
    for name, entry in r.mapping(top.get("meta"), "meta", None).items():
        where = f"meta.{name}"
        if "," in str(name):
            r.p.error(
                where, f"the track id {str(name)!r} holds a comma", "rename it without commas"
            )
        m = r.mapping(entry, where, "meta.<name>")
        if not m:
            r.p.error(where, "is empty", "give at least `file` and `path`")
            continue
        vis = r.mapping(m.get("vis"), f"{where}.vis", "meta.<name>.vis")
        tracks.append(
            MetaConfig(
                name=str(name),
                file=r.file_ref(m, "file", f"{where}.file", files, HDF5_SUFFIXES) or "",
                path=r.required(m, "path", f"{where}.path"),
                type=r.text(m, "type", f"{where}.type", "general", META_TYPES) or "general",
                dict=r.file_ref(m, "dict", f"{where}.dict", files, DICT_SUFFIXES, required=False),
                index=r.text(m, "index", f"{where}.index", "self", META_INDEX) or "self",
                weights_path=r.text(m, "weights_path", f"{where}.weights_path"),
                vis_type=r.text(vis, "type", f"{where}.vis.type", None, VIS_TYPES),
                vis_range=_parse_range(r, vis.get("range"), f"{where}.vis.range"),
            )
        )
    return tuple(tracks)


_RANGE_TEXT = re.compile(r"^\s*(-?[0-9.eE+-]+)\s*\.\.\.\s*(-?[0-9.eE+-]+)\s*$")


def _parse_range(r: _Reader, value: Any, where: str) -> str | tuple[float, float] | None:
    """`dict`, `"a...b"` or `[min, max]` (LSTMVis wrote all three)."""
    if value is None or value == "dict":
        return value
    lo = hi = None
    if isinstance(value, str) and (m := _RANGE_TEXT.match(value)):
        try:
            lo, hi = float(m.group(1)), float(m.group(2))
        except ValueError:
            pass
    elif (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        lo, hi = float(value[0]), float(value[1])
    if lo is None or hi is None or not lo < hi:
        r.p.error(
            where,
            f"{_show(value)} is not a range",
            'write `dict`, "a...b" or [min, max] with min < max',
        )
        return None
    return (lo, hi)
