"""engine/detectors.py: a cell as a threshold detector of each label, against the rule read
literally (every threshold at a value the cell takes, both signs, F1 from its definition)."""

from __future__ import annotations

import numpy as np
import pytest
from hiddenscope.server.engine.detectors import MAX_LABELS, label_detectors


def f1_of(on: np.ndarray, y: np.ndarray) -> float:
    tp = int((on & y).sum())
    return 0.0 if tp == 0 else 2 * tp / (int(on.sum()) + int(y.sum()))


def brute_force(v: np.ndarray, y: np.ndarray) -> float:
    """Best F1 over every threshold at a value the cell takes; NaN is never on."""
    best = 0.0
    for t in np.unique(v[np.isfinite(v)]):
        with np.errstate(invalid="ignore"):
            best = max(best, f1_of(v >= t, y), f1_of(v <= t, y))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_every_label_scores_its_brute_force_best(seed):
    rng = np.random.default_rng(seed)
    T = 120
    v = np.round(rng.normal(size=T), 1)  # ties
    if seed % 2:
        v[rng.choice(T, 9, replace=False)] = np.nan  # never on
    kind = rng.choice(4, size=T, p=[0.5, 0.3, 0.15, 0.05])
    flag = (rng.random(T) < 0.2).astype(np.int64)
    flag[0] = -1  # no label at this step
    tracks = {"kind": (kind, ["a", "b", "c", "d"]), "flag": (flag, ["no", "yes"])}
    got = label_detectors(v, tracks, 100)
    for d in got:
        ids, labels = tracks[d.track]
        y = ids == labels.index(d.label)
        assert d.f1 == pytest.approx(brute_force(v, y))
        with np.errstate(invalid="ignore"):
            on = v >= d.threshold if d.sign == "+" else v <= d.threshold
        # the reported rule reproduces the figures
        assert f1_of(on, y) == pytest.approx(d.f1)
        assert d.precision == pytest.approx((on & y).sum() / max(on.sum(), 1))
        assert d.recall == pytest.approx((on & y).sum() / y.sum())
        assert d.share == pytest.approx(y.mean()) and d.all_on_f1 == pytest.approx(
            2 * y.mean() / (1 + y.mean())
        )
    present = {(t, lab) for t, (ids, labels) in tracks.items() for i, lab in enumerate(labels)
               if 0 < (ids == i).sum() < T}  # fmt: skip
    assert {(d.track, d.label) for d in got} == present
    gains = [d.f1 - d.all_on_f1 for d in got]
    assert gains == sorted(gains, reverse=True)


def test_a_planted_cell_detects_its_label_and_the_limit_holds():
    rng = np.random.default_rng(5)
    labels = rng.choice(3, size=500)
    v = np.where(labels == 2, 1.0 + rng.random(500), rng.random(500))
    got = label_detectors(v, {"t": (labels, ["x", "y", "z"])}, 1)
    assert len(got) == 1
    (d,) = got
    assert (d.label, d.sign, d.f1, d.precision, d.recall) == ("z", "+", 1.0, 1.0, 1.0)
    assert d.threshold == pytest.approx(v[labels == 2].min())


def test_labels_per_track_are_capped_at_the_most_frequent():
    T = 3 * (MAX_LABELS + 10)
    ids = np.arange(T) % (MAX_LABELS + 10)
    ids[: MAX_LABELS * 3] = np.repeat(np.arange(MAX_LABELS), 3)  # the first ones more often
    ids[MAX_LABELS * 3 :] = MAX_LABELS + np.arange(T - MAX_LABELS * 3) % 10
    counts = np.bincount(ids)
    names = [f"l{i}" for i in range(MAX_LABELS + 10)]
    got = label_detectors(np.linspace(0, 1, T), {"many": (ids, names)}, 1000)
    assert len(got) == MAX_LABELS
    kept = {names.index(d.label) for d in got}
    assert min(counts[i] for i in kept) >= max(
        counts[i] for i in range(len(names)) if i not in kept
    )


def test_all_nan_or_single_label_cells_give_nothing_to_detect():
    assert label_detectors(np.full(10, np.nan), {"t": (np.zeros(10, int), ["a"])}, 5) == []
    assert label_detectors(np.arange(10.0), {"t": (np.zeros(10, int), ["a", "b"])}, 5) == []
