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

import numpy as np

from . import format as fmt

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
    """Write a complete data set folder through format.py (as the extractor does).

    Up to two sources per layer (``kinds``: ``layer{L}-cell`` with ``transform: tanh`` and
    ``layer{L}-hidden`` with ``transform: none``, already in [-1, 1]); meta tracks ``depth``
    (categorical), ``position`` (scalar: relative position in its sequence) and ``next``
    (top-3 next-token guesses with probabilities). Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
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

    chunks = [(L, kind) for L in range(layers) for kind in kinds]
    sources = [fmt.source_entry(L, kind, "forward", "tanh" if kind == "cell" else "none", False)
               for L, kind in chunks]
    staging = fmt.fresh_staging(folder)
    wanted = [(fmt.SEQUENCES, (offsets.size,), np.int64, 0), (fmt.TOKENS, (T,), np.int32, 0),
              (fmt.meta_path("depth"), (T,), np.int32, 0),
              (fmt.meta_path("position"), (T,), np.float32, 0),
              (fmt.NEXT_IDS, (T, 3), np.int32, 0), (fmt.NEXT_PROBS, (T, 3), np.float32, 0)]
    wanted += [(s["path"], (T, D), np.float32, 0) for s in sources]
    data = fmt.DataFile(staging / fmt.DATA_FILE, wanted)
    try:
        data.write(fmt.SEQUENCES, 0, offsets)
        data.write(fmt.TOKENS, 0, tokens)
        data.write(fmt.meta_path("depth"), 0, depth)
        data.write(fmt.meta_path("position"), 0, position)
        data.write(fmt.NEXT_IDS, 0, next_ids.astype(np.int32))
        data.write(fmt.NEXT_PROBS, 0, np.ascontiguousarray(probs))
        iterator = list(zip(sources, chunks, strict=True))
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc=f"writing {T:,} x {D} states", unit="table")
        for i, (source, (_, kind)) in enumerate(iterator):
            for start, block in _state_chunks(depth, D, depth_cells, seed * 100 + i):
                data.write(source["path"], start, block if kind == "cell" else np.tanh(block))
        data.finish()
    except BaseException:
        data.abort()
        raise
    fmt.write_json(staging / fmt.VOCAB_FILE, VOCAB)
    fmt.write_json(staging / fmt.labels_file("depth"), DEPTH_LABELS)
    meta = {
        "depth": fmt.categorical_meta("depth", "depth_labels"),
        "position": fmt.scalar_meta("position", [0, 1]),
        "next": fmt.next_meta(),
    }
    description = description or (
        f"Generated bracket language: {T:,} steps, {D} cells per source; "
        f"cells 0-{depth_cells - 1} track the nesting depth, the rest are smoothed noise."
    )
    config = fmt.dataset_config(name or folder.name, description, sources, meta,
                                {"depth_labels": fmt.labels_file("depth")})
    return fmt.publish(staging, folder, config)


def ensure_dataset(folder: str | os.PathLike, **params) -> Path:
    """Write the data set unless ``folder`` already holds one made with the same parameters.

    Benchmarks share big generated folders this way (T = 5M x D = 650 takes minutes).
    ``progress`` (a progress bar while writing) is not part of what was made.
    """
    folder = Path(folder)
    stamp = folder / ".params.json"
    wanted = json.dumps({k: v for k, v in params.items() if k != "progress"}, sort_keys=True)
    if (folder / "dataset.yml").exists() and stamp.exists() and stamp.read_text() == wanted:
        return folder
    write_dataset(folder, **params)
    stamp.write_text(wanted)
    return folder
