"""bench/bench_features.py runs through at a tiny size (a benchmark that no longer runs
against the current API is caught here, not by the next person who needs its figures)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_features",
                                               ROOT / "bench" / "bench_features.py")
bench_features = importlib.util.module_from_spec(_spec)
sys.modules["bench_features"] = bench_features
_spec.loader.exec_module(bench_features)


def test_every_figure_is_measured_through_the_api(tmp_path, capsys, monkeypatch):
    # a wait of 0 s: every analysis answers 202 first, as a long one does at scale
    from hiddenscope.server.api import jobs

    monkeypatch.setattr(jobs, "WAIT_S", 0.0)
    bench_features.run(6000, 24, ["pearson", "spearman"], root=tmp_path)
    out = capsys.readouterr().out
    for row in ("one sequential read of the states (floor)", "correlation pearson cold",
                "correlation spearman cached", "top contexts, index missing, 1st cell",
                "words, 2nd cell (cached pass)", "index build",
                "top contexts, index fresh, 3rd cell (codes)", "match + summary"):
        assert row in out, row
    assert "summary adds" in out
