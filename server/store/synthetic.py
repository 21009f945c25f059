"""A generated data set in the store format: the bracket language with depth-tracking cells.

Tests, benchmarks and the fallback demo all build their data here, so they exercise the
same files the extractor writes. The text is the nested-parenthesis language of the
LSTMVis paper (each digit equals the current nesting depth); the first ``depth_cells``
cells rise with the depth, the others are smoothed noise. Values are pre-activation
(``transform: tanh``), as a model's cell state would be.

Generation is chunked in time, so T = 5,000,000 x D = 650 (13 GB) needs only a few
hundred MB of memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import yaml

SCHEMA_VERSION = 1
VOCAB = ["(", ")", "0", "1", "2", "3", "4"]
DEPTH_LABELS = ["depth 0", "depth 1", "depth 2", "depth 3", "depth 4"]
_CHUNK = 1 << 16
_SMOOTH = 8  # noise cells are a moving average of this many white-noise steps


def bracket_tokens(
    T: int, rng: np.random.Generator, max_depth: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(tokens int32[T], depth int32[T])`` of the bracket language.

    Brackets open or close at random within ``0..max_depth``; after each bracket comes
    one to three digits equal to the depth reached.
    """
    tokens = np.empty(T, dtype=np.int32)
    depth = np.empty(T, dtype=np.int32)
    d, t = 0, 0
    while t < T:
        opening = d == 0 or (d < max_depth and rng.random() < 0.5)
        d += 1 if opening else -1
        tokens[t], depth[t] = (0 if opening else 1), d
        t += 1
        for _ in range(int(rng.integers(1, 4))):
            if t >= T:
                break
            tokens[t], depth[t] = 2 + d, d
            t += 1
    return tokens, depth


def _state_chunks(
    depth: np.ndarray, D: int, depth_cells: int, seed: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, float32[n, D])`` chunks of pre-activation states."""
    rng = np.random.default_rng(seed + 1)
    T = depth.shape[0]
    gains = rng.uniform(0.6, 1.2, size=depth_cells).astype(np.float32)
    tail = rng.standard_normal((_SMOOTH, D)).astype(np.float32)
    for start in range(0, T, _CHUNK):
        stop = min(T, start + _CHUNK)
        noise = np.concatenate([tail, rng.standard_normal((stop - start, D)).astype(np.float32)])
        tail = noise[-_SMOOTH:]
        csum = np.cumsum(noise, axis=0, dtype=np.float32)
        smooth = (csum[_SMOOTH:] - csum[:-_SMOOTH]) * np.float32(1.2 / np.sqrt(_SMOOTH))
        block = smooth
        k = min(depth_cells, D)
        if k:
            level = depth[start:stop, None].astype(np.float32) - 1.5
            block[:, :k] = level * gains[:k] + 0.25 * smooth[:, :k]
        yield start, block


def write_dataset(
    folder: str | os.PathLike,
    *,
    T: int = 2000,
    D: int = 24,
    layers: int = 2,
    kinds: tuple[str, ...] = ("cell", "hidden"),
    sequences: int = 4,
    depth_cells: int = 4,
    seed: int = 0,
    name: str | None = None,
    description: str | None = None,
    progress: bool = False,
) -> Path:
    """Write a complete data set folder (``dataset.yml``, ``data.h5``, ``vocab.json``).

    Up to two sources per layer (``kinds``: ``layer{L}-cell`` with ``transform: tanh`` and
    ``layer{L}-hidden`` with ``transform: none``, already in [-1, 1]); meta tracks ``depth``
    (categorical), ``position`` (scalar: relative position in its sequence) and ``next``
    (top-3 next-token guesses with probabilities). Returns the folder.
    """
    folder = Path(folder)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tokens, depth = bracket_tokens(T, rng)
    inner = np.sort(rng.choice(np.arange(1, T), size=min(sequences, T) - 1, replace=False))
    offsets = np.concatenate([[0], inner, [T]]).astype(np.int64)
    position = np.zeros(T, dtype=np.float32)
    for a, b in zip(offsets[:-1], offsets[1:], strict=True):
        position[a:b] = np.linspace(0.0, 1.0, b - a, dtype=np.float32)
    next_ids = np.stack(
        [np.roll(tokens, -1), (tokens + 1) % len(VOCAB), (tokens + 3) % len(VOCAB)], 1
    )
    probs = np.sort(rng.dirichlet([4.0, 2.0, 1.0], size=T).astype(np.float32), axis=1)[:, ::-1]

    tmp = folder / "data.h5.tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["hiddenscope_schema"] = SCHEMA_VERSION
        f["tokens"] = tokens
        f["sequences"] = offsets
        f["meta/depth"] = depth
        f["meta/position"] = position
        f["meta/next/ids"] = next_ids.astype(np.int32)
        f["meta/next/probs"] = np.ascontiguousarray(probs)
        chunks = [(L, kind) for L in range(layers) for kind in kinds]
        iterator = chunks
        if progress:
            from tqdm import tqdm

            iterator = tqdm(chunks, desc=f"writing {T:,} x {D} states", unit="table")
        for i, (L, kind) in enumerate(iterator):
            ds = f.create_dataset(f"states/layer{L}/{kind}", shape=(T, D), dtype=np.float32)
            for start, block in _state_chunks(depth, D, depth_cells, seed * 100 + i):
                ds[start : start + block.shape[0]] = block if kind == "cell" else np.tanh(block)
    os.replace(tmp, folder / "data.h5")
    (folder / "vocab.json").write_text(json.dumps(VOCAB))
    (folder / "labels" / "depth.json").write_text(json.dumps(DEPTH_LABELS))

    types = [
        {
            "id": f"layer{L}-{kind}",
            "label": f"layer {L} {kind}",
            "type": kind,
            "layer": L,
            "direction": "forward",
            "path": f"states/layer{L}/{kind}",
            "transform": "tanh" if kind == "cell" else "none",
        }
        for L, kind in chunks
    ]
    config = {
        "name": name or folder.name,
        "description": description
        or f"Generated bracket language: {T:,} steps, {D} cells per source; "
        f"cells 0-{depth_cells - 1} track the nesting depth, the rest are smoothed noise.",
        "files": {"data": "data.h5", "vocab": "vocab.json", "depth_labels": "labels/depth.json"},
        "word_sequence": {
            "file": "data",
            "path": "tokens",
            "dict_file": "vocab",
            "sequences": "sequences",
        },
        "states": {"file": "data", "types": types},
        "meta": {
            "depth": {
                "file": "data",
                "path": "meta/depth",
                "dict": "depth_labels",
                "vis": {"type": "discrete", "range": "dict"},
            },
            "position": {
                "file": "data",
                "path": "meta/position",
                "vis": {"type": "scalar", "range": [0, 1]},
            },
            "next": {
                "file": "data",
                "path": "meta/next/ids",
                "type": "wordvec",
                "dict": "vocab",
                "weights_path": "meta/next/probs",
                "vis": {"type": "wordvec"},
            },
        },
        "etc": {"regex_search": True},
    }
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def ensure_dataset(folder: str | os.PathLike, **params) -> Path:
    """Write the data set unless ``folder`` already holds one made with the same parameters.

    Benchmarks share big generated folders this way (T = 5M x D = 650 takes minutes).
    """
    folder = Path(folder)
    stamp = folder / ".params.json"
    wanted = json.dumps(params, sort_keys=True)
    if (folder / "dataset.yml").exists() and stamp.exists() and stamp.read_text() == wanted:
        return folder
    write_dataset(folder, **params)
    stamp.write_text(wanted)
    return folder
