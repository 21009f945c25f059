"""Cells read as threshold detectors of a label: the best F1 over every threshold.

A cell with sign ``s`` and threshold ``l`` is on at step t when ``s * h[t] >= s * l``
(``s = +1``: the select view's ``h >= l``; ``s = -1``: ``h <= l``). Against a label (the
steps where a categorical track has it), the best threshold is found exactly, not on a
grid: the steps are sorted by value once, and each cut between two distinct values is
scored from a cumulative count of the label's steps (ties stay on the same side).
bench/bench_f1.py ranks every cell this way; the cell view (``GET …/cells/{cell}/labels``)
ranks every label for one cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LABELS = 64  # labels per track scored for one cell: the most frequent ones


class SortedCells:
    """Values of some cells sorted in time, descending, per cell.

    Args:
        values: ``float[T, C]``, finite.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.T = values.shape[0]
        self.order = np.argsort(-values, axis=0, kind="stable")  # int64[T, C]
        self.sorted = np.take_along_axis(values, self.order, axis=0)  # [T, C] descending
        # a cut after sorted row k is a real threshold only between two distinct values
        self.boundary = self.sorted[:-1] > self.sorted[1:]  # bool[T-1, C]

    def best(self, y: np.ndarray, positives: int | None = None) -> tuple[np.ndarray, ...]:
        """Per cell: ``(f1, sign, threshold, precision, recall)``, each ``[C]``, for the
        label mask ``y`` (``bool[T]``); sign is +1 or -1. ``positives``: the label's steps
        in all (default ``y.sum()``; more when steps left out of ``values`` have it: they
        count as missed)."""
        T = self.T
        npos = int(y.sum()) if positives is None else int(positives)
        tp = np.cumsum(y[self.order], axis=0, dtype=np.int64)  # label steps among the top k+1
        on = np.arange(1, T + 1, dtype=np.float64)[:, None]
        # "+": the top k+1 steps are on (h >= sorted[k]); k = T-1 (all on) is always allowed
        f1_pos = 2 * tp / (on + npos)
        f1_pos[:-1][~self.boundary] = -1.0
        # "-": the steps after row k are on (h <= sorted[k+1]), k = 0 .. T-2
        tp_neg = int(y.sum()) - tp[:-1]
        f1_neg = 2 * tp_neg / ((T - on[:-1]) + npos)
        f1_neg[~self.boundary] = -1.0
        cells = np.arange(tp.shape[1])
        k_pos = f1_pos.argmax(axis=0)
        best_pos = f1_pos[k_pos, cells]
        if T > 1:
            k_neg = f1_neg.argmax(axis=0)
            best_neg = f1_neg[k_neg, cells]
        else:  # one step: only "all on"
            k_neg, best_neg = np.zeros_like(k_pos), np.full(best_pos.shape, -1.0)
        negative = best_neg > best_pos
        f1 = np.where(negative, best_neg, best_pos)
        threshold = np.where(
            negative, self.sorted[np.minimum(k_neg + 1, T - 1), cells], self.sorted[k_pos, cells]
        ).astype(np.float64)
        hits = np.where(negative, tp_neg[k_neg, cells] if T > 1 else 0, tp[k_pos, cells])
        predicted = np.where(negative, T - 1 - k_neg, k_pos + 1)
        precision = hits / np.maximum(predicted, 1)
        recall = hits / max(npos, 1)
        return f1, np.where(negative, -1, 1), threshold, precision, recall


@dataclass(frozen=True)
class LabelDetector:
    """How well one cell detects one label of one track."""

    track: str
    label: str
    f1: float
    sign: str  # "+": on when h >= threshold; "-": on when h <= threshold
    threshold: float
    precision: float
    recall: float
    share: float  # fraction of the steps with the label
    all_on_f1: float  # F1 of a detector on at every step (what a frequent label gets free)


def label_detectors(
    values: np.ndarray, tracks: dict[str, tuple[np.ndarray, list[str]]], limit: int
) -> list[LabelDetector]:
    """The ``limit`` labels one cell detects best over every categorical track: by the F1
    gained over a detector that is always on (``f1 - all_on_f1``), highest first.

    Args:
        values: ``float[T]``, the cell after its transform; NaN steps are never on (they
            count as missed when they have the label).
        tracks: ``{name: (ids int[T], labels)}``, ``ids`` indexing ``labels`` (-1 or out
            of range: no label).
        limit: how many detectors to return.

    Per track, the :data:`MAX_LABELS` most frequent labels are scored; a label on no step
    or on every step has nothing to detect and is skipped.
    """
    T = values.shape[0]
    finite = np.isfinite(values)
    if not finite.any():
        return []
    sorted_cells = SortedCells(values[finite].astype(np.float64)[:, None])
    out = []
    for name, (ids, labels) in tracks.items():
        counts = np.bincount(ids[(ids >= 0) & (ids < len(labels))], minlength=len(labels))
        frequent = [i for i in np.argsort(-counts, kind="stable")[:MAX_LABELS] if counts[i]]
        kept = ids[finite]
        for i in frequent:
            if counts[i] == T:
                continue
            f1, sign, thr, precision, recall = sorted_cells.best(kept == i, int(counts[i]))
            share = counts[i] / T
            out.append(LabelDetector(
                name, str(labels[i]), float(f1[0]), "+" if sign[0] > 0 else "-", float(thr[0]),
                float(precision[0]), float(recall[0]), float(share), 2 * share / (1 + share),
            ))  # fmt: skip
    # by the F1 gained over "always on", so a frequent label does not rank high for free
    out.sort(key=lambda d: (-(d.f1 - d.all_on_f1), d.track, d.label))
    return out[:limit]
