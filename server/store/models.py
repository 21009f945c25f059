"""The model a data set may carry: its ``model:`` section, its checkpoint files, their safety.

Torch-free: the store reads and checks the declarations; ``hiddenscope.extract.live`` loads
the weights (with torch) when the server's ``run`` operation needs them.

A checkpoint is a TorchScript archive (``format: torchscript``, ``torch.jit.save``) or a
state dict of tensors (``format: state_dict``, ``torch.save(model.state_dict())``) loaded
into an architecture hiddenscope knows (``architecture:``) built from ``config:``. Files
must lie inside the data set folder. A state dict is also scanned here, before torch ever
sees it: its pickle may only rebuild tensors and ordered dicts; any other global (a
function, a class of the user's) means the file could run code when unpickled, and it is
refused (:func:`check_weights_file`).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASKS = ("classifier", "language_model")
TOKENIZERS = ("words", "characters")
FORMATS = ("state_dict", "torchscript")
ARCHITECTURES = ("sequence-classifier", "token-lm")

# The only globals a tensors-only torch.save pickle names (torch's weights_only list, reduced
# to what a state dict of dense tensors needs).
SAFE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch", "FloatStorage"),
    ("torch", "DoubleStorage"),
    ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"),
    ("torch", "LongStorage"),
    ("torch", "IntStorage"),
    ("torch", "ShortStorage"),
    ("torch", "CharStorage"),
    ("torch", "ByteStorage"),
    ("torch", "BoolStorage"),
    ("torch", "float32"),
    ("torch", "int64"),
}
MAX_PICKLE_BYTES = 64 << 20


class UnsafeModelFile(Exception):
    """A checkpoint file that must not be loaded; the message names the file and why."""


@dataclass(frozen=True)
class CheckpointConfig:
    """One ``model.checkpoints[]`` entry."""

    id: str
    label: str
    model: str  # which trained model this is a checkpoint of (e.g. lstm, gru)
    step: int
    architecture: str
    format: str
    file: Path  # resolved, inside the data set folder
    config: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ModelConfig:
    """The ``model:`` section: task, tokenisation and the checkpoints."""

    task: str
    classes: tuple[str, ...]
    tokenizer: str
    lowercase: bool
    unk: str | None
    extracted: str | None  # the checkpoint whose states the data set holds
    checkpoints: tuple[CheckpointConfig, ...]

    def checkpoint(self, id: str | None) -> CheckpointConfig | None:
        """The checkpoint ``id``; None asks for the extracted one (else the last)."""
        wanted = id if id is not None else self.extracted
        for c in self.checkpoints:
            if c.id == wanted:
                return c
        return self.checkpoints[-1] if id is None and self.checkpoints else None


def inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` resolved, or None when it would lie outside ``folder``."""
    folder = folder.resolve()
    if Path(name).is_absolute():
        return None
    path = (folder / name).resolve()
    return path if folder in path.parents else None


def parse_model(r, top: dict, folder: Path) -> ModelConfig | None:
    """Read ``top['model']`` with the config reader ``r`` (config._Reader); problems go to
    ``r.p``. Returns None when the section is absent or unusable."""
    if top.get("model") is None:
        return None
    m = r.mapping(top.get("model"), "model", "model")
    task = r.text(m, "task", "model.task", "classifier", TASKS) or "classifier"
    classes = m.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
        r.p.error("model.classes", f"expected a list of class names, got {classes!r:.60}")
        classes = []
    if task == "classifier" and len(classes) < 2:
        r.p.error("model.classes", "a classifier needs at least two classes",
                  "list them in the order of the model's outputs")  # fmt: skip
    checkpoints = []
    entries = m.get("checkpoints")
    if not isinstance(entries, list) or not entries:
        r.p.error("model.checkpoints", f"expected a non-empty list, got {entries!r:.60}",
                  "add one entry per checkpoint: `- {id, file, format, architecture}`")  # fmt: skip
        entries = []
    for i, entry in enumerate(entries):
        c = _checkpoint(r, entry, f"model.checkpoints[{i}]", folder)
        if c is None:
            continue
        if any(o.id == c.id for o in checkpoints):
            r.p.error(f"model.checkpoints[{i}].id", f"{c.id!r} is used twice",
                      "give each checkpoint its own id")  # fmt: skip
        checkpoints.append(c)
    extracted = r.text(m, "extracted", "model.extracted")
    if extracted is not None and checkpoints and extracted not in {c.id for c in checkpoints}:
        r.p.error("model.extracted", f"{extracted!r} is not a checkpoint id",
                  f"use one of {', '.join(c.id for c in checkpoints)}")  # fmt: skip
    return ModelConfig(
        task=task,
        classes=tuple(classes),
        tokenizer=r.text(m, "tokenizer", "model.tokenizer", "words", TOKENIZERS) or "words",
        lowercase=r.flag(m, "lowercase", "model.lowercase"),
        unk=r.text(m, "unk", "model.unk"),
        extracted=extracted,
        checkpoints=tuple(checkpoints),
    )


def _checkpoint(r, entry: Any, where: str, folder: Path) -> CheckpointConfig | None:
    t = r.mapping(entry, where, "model.checkpoints[]")
    if not t:
        return None
    cid = r.required(t, "id", f"{where}.id")
    fmt = r.text(t, "format", f"{where}.format", "state_dict", FORMATS) or "state_dict"
    arch = r.text(t, "architecture", f"{where}.architecture", None, ARCHITECTURES)
    if fmt == "state_dict" and arch is None:
        r.p.error(f"{where}.architecture", "missing: a state dict needs an architecture",
                  f"use one of {', '.join(ARCHITECTURES)}, or save TorchScript")  # fmt: skip
    name = r.required(t, "file", f"{where}.file")
    path = inside(folder, name) if name else None
    if name and path is None:
        r.p.error(f"{where}.file", f"{name!r} lies outside the data set folder",
                  "keep model files inside the folder (e.g. models/lstm.pt)")  # fmt: skip
    elif path is not None and not path.is_file():
        r.p.error(f"{where}.file", f"{name!r} does not exist in {folder.name}",
                  "build the data set again, or fix the file name")  # fmt: skip
    config = t.get("config", {})
    if not isinstance(config, dict) or not all(
        isinstance(v, (int, float, str, bool)) for v in config.values()
    ):
        r.p.error(f"{where}.config", "expected a mapping of numbers and names",
                  "write e.g. `{embedding: 32, hidden: 64, cell: lstm}`")  # fmt: skip
        config = {}
    if not cid or path is None:
        return None
    return CheckpointConfig(
        id=cid,
        label=r.text(t, "label", f"{where}.label", cid) or cid,
        model=r.text(t, "model", f"{where}.model", "model") or "model",
        step=r.integer(t, "step", f"{where}.step"),
        architecture=arch or "",
        format=fmt,
        file=path,
        config=dict(config),
    )


def check_weights_file(path: Path) -> None:
    """Refuse a state-dict file whose pickle names anything but tensors and dicts.

    ``torch.save`` writes a zip archive with ``<name>/data.pkl``; its opcodes are read
    (never executed) and every GLOBAL / STACK_GLOBAL is checked against SAFE_GLOBALS.
    Raises :class:`UnsafeModelFile`.
    """
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1:
                raise UnsafeModelFile(f"{path.name} is not a torch.save archive (no data.pkl)")
            if z.getinfo(names[0]).file_size > MAX_PICKLE_BYTES:
                raise UnsafeModelFile(f"{path.name}: its pickle is larger than 64 MiB")
            data = z.read(names[0])
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeModelFile(
            f"{path.name} is not a torch.save zip archive ({exc}); save the weights with "
            "torch.save(model.state_dict(), path)"
        ) from None
    for name in _globals(data, path):
        if name not in SAFE_GLOBALS:
            raise UnsafeModelFile(
                f"{path.name} names {'.'.join(name)} in its pickle: only tensors and dicts "
                "may be stored (torch.save(model.state_dict())); it was not loaded"
            )


def _globals(data: bytes, path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` of every global the pickle would import, without running it."""
    found: list[tuple[str, str]] = []
    recent: list[tuple[str, object]] = []  # significant opcodes; memo writes skipped
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                continue
            if op.name == "GLOBAL":
                module, _, name = str(arg).partition(" ")
                found.append((module, name))
            elif op.name == "STACK_GLOBAL":
                # Only two literal strings pushed just before may name it: a name fetched
                # from the memo could be anything, so it is refused.
                names = [a for o, a in recent[-2:] if "UNICODE" in o]
                if len(names) != 2:
                    raise UnsafeModelFile(f"{path.name}: a global built from computed names")
                found.append((str(names[0]), str(names[1])))
            elif op.name in ("INST", "OBJ"):
                raise UnsafeModelFile(f"{path.name}: its pickle builds objects (opcode {op.name})")
            recent = [*recent[-1:], (op.name, arg)]
    except (ValueError, EOFError) as exc:  # a malformed pickle: never hand it to torch
        raise UnsafeModelFile(f"{path.name}: its pickle is malformed ({exc})") from None
    return found


def parse_sequence_meta(r, top: dict, files: dict[str, Path], meta_config: type) -> tuple:
    """``sequence_meta.<name>``: ``[N]`` tables, one value per sequence (gold label,
    prediction, confidence), declared like meta tracks; returned as ``meta_config`` objects."""
    tracks = []
    for name, entry in r.mapping(top.get("sequence_meta"), "sequence_meta", None).items():
        where = f"sequence_meta.{name}"
        m = r.mapping(entry, where, "sequence_meta.<name>")
        if not m:
            r.p.error(where, "is empty", "give at least `file` and `path`")
            continue
        vis = r.mapping(m.get("vis"), f"{where}.vis", "sequence_meta.<name>.vis")
        vis_range = vis.get("range")
        if vis_range is not None and vis_range != "dict":
            ok = isinstance(vis_range, list) and len(vis_range) == 2 and vis_range[0] < vis_range[1]
            if not ok:
                r.p.error(f"{where}.vis.range", f"{vis_range!r:.60} is not a range",
                          "write `dict` or [min, max] with min < max")  # fmt: skip
            vis_range = tuple(vis_range) if ok else None
        tracks.append(
            meta_config(
                name=str(name),
                file=r.file_ref(m, "file", f"{where}.file", files, (".h5", ".hdf5")) or "",
                path=r.required(m, "path", f"{where}.path"),
                dict=r.file_ref(
                    m, "dict", f"{where}.dict", files, (".json", ".dict", ".txt"), required=False
                ),  # fmt: skip
                vis_type=r.text(vis, "type", f"{where}.vis.type", None, ("discrete", "scalar")),
                vis_range=vis_range,
            )
        )
    return tuple(tracks)
