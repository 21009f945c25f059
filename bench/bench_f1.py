"""Best single-cell F1 per label of a built data set's categorical meta tracks.

For every label of every categorical track (or those named by ``--tracks``) and every
state source, each cell is read as a detector: ``on(t) := s * h[t, c] >= s * l`` with sign
``s = +1`` (the select view's ``h >= l``) or ``s = -1`` (``h <= l``), ``h`` after the
source's transform. The script reports the cell, sign and threshold with the highest F1
against "the step has this label". Exact over every threshold, not a grid: the steps are
sorted by value once per cell, and each cut between two distinct values is scored from a
cumulative count of the label's steps (ties stay on the same side of the threshold).

    .venv/bin/python bench/bench_f1.py datasets/code [--tracks in_string,in_brackets]

It reads the data set through the server's store (``hiddenscope.server.store``), so any
folder the server opens works, LSTMVis ones included. Besides F1 it prints precision,
recall, the label's share of the steps and the F1 of "every step on" (the figure any cell
gets for free, so a high F1 on a frequent label means less than on a rare one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from hiddenscope.server.engine.detectors import SortedCells
from hiddenscope.server.store import DatasetError, open_dataset

ELEMENTS = 1 << 23  # cells per chunk are chosen so one [T, cells] float64 array is 64 MiB


@dataclass
class Best:
    """The best single cell for one label."""

    track: str
    label: str
    source: str
    cell: int
    sign: str  # "+": on when h >= threshold; "-": on when h <= threshold
    threshold: float
    f1: float
    precision: float
    recall: float
    share: float  # fraction of the steps with the label
    all_on_f1: float  # F1 of a detector that is always on


def _transformed(source, start: int, stop: int, cells: slice) -> np.ndarray:
    rows = source.read_rows(start, stop)[:, cells]
    return np.tanh(rows) if source.transform == "tanh" else rows


def source_values(source, T: int, cells: slice, block: int = 1 << 16) -> np.ndarray:
    """``float32[T, len(cells)]``: the source's values after its transform, read in blocks."""
    out = np.concatenate(
        [_transformed(source, a, min(a + block, T), cells) for a in range(0, T, block)]
    )
    if not np.isfinite(out).all():
        bad = int(np.argwhere(~np.isfinite(out))[0][1]) + (cells.start or 0)
        raise SystemExit(f"source {source.id}: cell {bad} has non-finite values; F1 needs numbers")
    return out


def label_masks(dataset, tracks: list[str] | None, T: int, min_steps: int) -> list[tuple]:
    """``(track, label, bool[T])`` of every label with at least ``min_steps`` steps."""
    names = [m for m, track in dataset.meta.items() if track.kind == "categorical"]
    if tracks:
        unknown = sorted(set(tracks) - set(names))
        if unknown:
            raise SystemExit(
                f"--tracks: {', '.join(unknown)} is not a categorical track of {dataset.id} "
                f"(it has: {', '.join(names) or 'none'})"
            )
        names = [n for n in names if n in tracks]
    out = []
    for name in names:
        track = dataset.meta[name]
        ids = track.window(0, T - 1)["values"]
        for i, label in enumerate(track.labels):
            mask = ids == i
            if min_steps <= int(mask.sum()) < T:  # a label on every step has no detector to find
                out.append((name, label, mask))
    return out


def best_cells(
    dataset, tracks=None, sources=None, steps=None, min_steps=1, echo=print
) -> list[Best]:
    """The best cell per (track, label) over the chosen sources (default: all)."""
    T = min(dataset.length, steps or dataset.length)
    masks = label_masks(dataset, tracks, T, min_steps)
    chosen = sources or list(dataset.sources)
    unknown = sorted(set(chosen) - set(dataset.sources))
    if unknown:
        raise SystemExit(
            f"--sources: {', '.join(unknown)} is not a source of {dataset.id} "
            f"(it has: {', '.join(dataset.sources)})"
        )
    best: dict[tuple[str, str], Best] = {}
    for sid in chosen:
        source = dataset.sources[sid]
        started, D = time.perf_counter(), source.shape[1]
        width = max(1, ELEMENTS // max(T, 1))
        for c0 in range(0, D, width):
            cells = slice(c0, min(D, c0 + width))
            sorted_cells = SortedCells(source_values(source, T, cells))
            for track, label, mask in masks:
                f1, sign, thr, precision, recall = sorted_cells.best(mask)
                j = int(f1.argmax())
                current = best.get((track, label))
                if current is None or f1[j] > current.f1:
                    share = float(mask.mean())
                    best[(track, label)] = Best(
                        track,
                        label,
                        sid,
                        c0 + j,
                        "+" if sign[j] > 0 else "-",
                        float(thr[j]),
                        float(f1[j]),
                        float(precision[j]),
                        float(recall[j]),
                        share,
                        2 * share / (1 + share),
                    )
        seconds = time.perf_counter() - started
        echo(f"# {sid}: {D} cells x {T:,} steps x {len(masks)} labels in {seconds:.1f} s")
    return [best[(t, lab)] for t, lab, _ in masks if (t, lab) in best]


def main(argv: list[str] | None = None) -> list[Best]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a data set folder (dataset.yml or lstm.yml)")
    parser.add_argument("--tracks", help="comma-separated categorical tracks (default: all)")
    parser.add_argument("--sources", help="comma-separated source ids (default: all)")
    parser.add_argument("--steps", type=int, help="use only the first STEPS steps (default: all)")
    parser.add_argument(
        "--min-steps", type=int, default=1, help="skip labels on fewer steps (default 1)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    try:
        dataset = open_dataset(args.folder)
    except DatasetError as exc:
        raise SystemExit(f"{args.folder}: {exc}") from None
    split = lambda text: [x for x in text.split(",") if x] if text else None  # noqa: E731
    try:
        rows = best_cells(
            dataset, split(args.tracks), split(args.sources), args.steps, args.min_steps
        )
    finally:
        dataset.close()
    w = max([14] + [len(r.track) for r in rows])  # long track names keep the columns
    print(
        f"{'track':<{w}} {'label':<18} {'F1':>6} {'prec':>6} {'recall':>6} {'share':>6} "
        f"{'all-on':>6}  source, cell, sign, threshold"
    )
    for r in rows:
        print(
            f"{r.track:<{w}} {r.label[:18]:<18} {r.f1:6.3f} {r.precision:6.3f} {r.recall:6.3f} "
            f"{r.share:6.3f} {r.all_on_f1:6.3f}  {r.source} cell {r.cell} "
            f"{'h >=' if r.sign == '+' else 'h <='} {r.threshold:.4g}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
