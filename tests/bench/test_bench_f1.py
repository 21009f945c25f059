"""bench/bench_f1.py: the best single-cell F1 per label, checked against brute force and on
data sets written by the extractor's writer with a planted cell (F1 1.0) and without one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from hiddenscope.extract.recurrent import StateKey
from hiddenscope.extract.writer import DatasetWriter, Track
from hiddenscope.server.store import open_dataset
from hiddenscope.server.store.synthetic import write_dataset

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_f1", ROOT / "bench" / "bench_f1.py")
bench_f1 = importlib.util.module_from_spec(_spec)
sys.modules["bench_f1"] = bench_f1  # dataclasses look their module up there
_spec.loader.exec_module(bench_f1)

LABELS = ["a", "b", "c"]


def f1_of(on: np.ndarray, y: np.ndarray) -> float:
    """F1 of the detector ``on`` against ``y``, straight from its definition."""
    tp = int((on & y).sum())
    return 0.0 if tp == 0 else 2 * tp / (int(on.sum()) + int(y.sum()))


def brute_force(v: np.ndarray, y: np.ndarray) -> float:
    """Best F1 of one cell over every threshold at a value it takes, both signs."""
    return max(max(f1_of(v >= t, y), f1_of(v <= t, y)) for t in np.unique(v))


@pytest.mark.parametrize("seed", range(6))
def test_sorted_cells_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    T, C = 60, 5
    values = np.round(rng.normal(size=(T, C)), 1).astype(np.float32)  # many ties
    y = rng.random(T) < [0.1, 0.3, 0.5, 0.8][seed % 4]
    y[0] = True
    f1, sign, thr, precision, recall = bench_f1.SortedCells(values).best(y)
    for c in range(C):
        assert f1[c] == pytest.approx(brute_force(values[:, c], y))
        on = values[:, c] >= thr[c] if sign[c] > 0 else values[:, c] <= thr[c]
        # the reported sign and threshold reproduce the figure, precision and recall
        assert f1_of(on, y) == pytest.approx(f1[c])
        assert precision[c] == pytest.approx((on & y).sum() / on.sum())
        assert recall[c] == pytest.approx((on & y).sum() / y.sum())


def write_labelled(folder: Path, labels: np.ndarray, states: dict[str, np.ndarray]) -> Path:
    """A data set with one categorical track ``kind`` (ids into LABELS) and the given
    layer-0 sources, written by the extractor's writer."""
    T = len(labels)
    offsets = np.array([0, T // 3, T], dtype=np.int64)
    keys = {kind: StateKey(0, "forward", kind) for kind in states}
    writer = DatasetWriter(
        folder,
        offsets,
        [(keys[k], v.shape[1]) for k, v in states.items()],
        [Track("kind", "categorical", list(LABELS))],
        ["x", "y"],
    )
    writer.write("tokens", 0, (labels % 2).astype(np.int32))
    for kind, values in states.items():
        writer.write(keys[kind].path, 0, values.astype(np.float32))
    writer.write("meta/kind", 0, labels.astype(np.int32))
    return writer.commit("planted", "test data")


def labels_and_noise(seed: int, T: int = 3000, D: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=T, p=[0.6, 0.3, 0.1])
    return labels, rng.normal(size=(T, D))


def test_planted_cells_are_found_with_f1_one(tmp_path):
    labels, noise = labels_and_noise(1)
    hidden, cell = noise.copy(), noise.copy() * 3
    u = np.random.default_rng(2).random(len(labels)) * 0.5
    hidden[:, 5] = np.where(labels == 1, 0.5 + u, -u)  # on for "b": h >= 0.5
    cell[:, 3] = np.where(labels == 2, -4 - u, u)  # on for "c" below: h <= -4
    write_labelled(tmp_path / "planted", labels, {"hidden": hidden, "cell": cell})
    rows = bench_f1.main([str(tmp_path / "planted"), "--json", str(tmp_path / "out.json")])
    got = {r.label: r for r in rows}
    b, c = got["b"], got["c"]
    assert (b.source, b.cell, b.sign, b.f1) == ("layer0-hidden", 5, "+", 1.0)
    assert (c.source, c.cell, c.sign, c.f1) == ("layer0-cell", 3, "-", 1.0)
    assert b.threshold == pytest.approx(hidden[labels == 1, 5].min(), rel=1e-6)
    assert c.threshold == pytest.approx(cell[labels == 2, 3].max(), rel=1e-6)
    assert b.precision == b.recall == 1.0 and b.share == pytest.approx((labels == 1).mean())
    assert '"label": "c"' in (tmp_path / "out.json").read_text()


def test_no_planted_cell_gives_no_high_f1(tmp_path):
    labels, noise = labels_and_noise(3)
    write_labelled(tmp_path / "noise", labels, {"hidden": noise})
    rows = {r.label: r for r in bench_f1.main([str(tmp_path / "noise"), "--tracks", "kind"])}
    # the rare label: always-on scores 0.18, the best of 16 noise cells barely more
    assert rows["c"].all_on_f1 == pytest.approx(0.18, abs=0.02)
    assert rows["c"].f1 < 0.3
    for row in rows.values():  # no better than always-on by more than chance allows
        assert row.f1 < row.all_on_f1 + 0.1


def test_thresholds_are_in_the_sources_transformed_units(tmp_path):
    # the synthetic data set's cell sources have transform: tanh
    folder = write_dataset(tmp_path / "syn", T=1500, D=8, sequences=3)
    rows = bench_f1.main([str(folder), "--sources", "layer0-cell", "--tracks", "depth"])
    dataset = open_dataset(folder)
    try:
        depth = dataset.meta["depth"].window(0, dataset.length - 1)["values"]
        values = np.tanh(dataset.sources["layer0-cell"].read_rows(0, dataset.length))
        labels = dataset.meta["depth"].labels
    finally:
        dataset.close()
    for row in rows:
        y = depth == labels.index(row.label)
        v = values[:, row.cell]
        on = v >= row.threshold if row.sign == "+" else v <= row.threshold
        assert f1_of(on, y) == pytest.approx(row.f1, abs=1e-9)
        assert row.f1 == pytest.approx(max(brute_force(values[:, c], y) for c in range(8)))


def test_unknown_track_or_source_is_a_clear_error(tmp_path):
    labels, noise = labels_and_noise(4, T=200, D=4)
    write_labelled(tmp_path / "d", labels, {"hidden": noise})
    with pytest.raises(SystemExit, match=r"nope is not a categorical track of d \(it has: kind\)"):
        bench_f1.main([str(tmp_path / "d"), "--tracks", "nope"])
    with pytest.raises(SystemExit, match=r"nope is not a source of d \(it has: layer0-hidden\)"):
        bench_f1.main([str(tmp_path / "d"), "--sources", "nope"])
