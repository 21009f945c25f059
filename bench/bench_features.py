"""Benchmark the cells-and-features analyses through the API (prints figures; not a test).

Data: the bracket language of hiddenscope.server.store.synthetic (one `layer0-cell` source,
tanh), written once under bench/data/features/parens-T-D/ (gitignored). Each figure is one request
through the in-process app (JSON included):

- correlation of every cell with `meta:depth=depth 4` (pearson, spearman, mi): cold (first
  request) and cached (the same request again);
- top contexts of a cell without an index (its whole column read) and with a fresh index
  (its codes plus a few exact reads); expected response words of a first cell (one pass for
  every cell) and of a second (cached);
- match of the depth cells with and without `summary=true` (the summary's share of the
  match time), warm, with the index fresh;
- the floor: one sequential read of all the states (what any exact whole-source statistic
  must at least read).

An analysis that runs as a background job answers 202 until it is done; each figure is the
time until its 200 (asked again every 20 ms).

    python bench/bench_features.py                 # T = 200k and 500k x D = 650
    python bench/bench_features.py --T 5000000 --methods pearson   # T = 5M (13 GB on disk)

Figures at T = 5M are extrapolated from the largest T measured (linear in T for the
streamed passes; T log T for the per-cell sorts of spearman and mi) when not measured.
"""
from __future__ import annotations

import argparse
import math
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
from hiddenscope.server.api import create_app
from hiddenscope.server.store import Catalog
from hiddenscope.server.store.synthetic import ensure_dataset

HERE = Path(__file__).resolve().parent
SRC = "layer0-cell"
TARGET_T = 5_000_000


def timed(fn, repeat: int = 1) -> float:
    """Median seconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def get(client, path: str, **params):
    """The answer of a GET; a long analysis answers 202 while it runs in the background, so
    it is asked for again (every 20 ms, where the client waits the second of Retry-After)
    until it answers 200: the time measured is the analysis's own."""
    while True:
        r = client.get(path, params=params)
        if r.status_code != 202:
            break
        time.sleep(0.02)
    assert r.status_code == 200, r.text[:500]
    return r.json()


def sequential_read(source) -> float:
    T = source.shape[0]
    step = max(1, (1 << 22) // source.shape[1])
    t0 = time.perf_counter()
    for lo in range(0, T, step):
        source.read_rows(lo, min(T, lo + step))
    return time.perf_counter() - t0


def scale(seconds: float, T: int, kind: str) -> float:
    f = TARGET_T / T
    return seconds * (f * math.log(TARGET_T) / math.log(T) if kind == "sort" else f)


def run(T: int, D: int, methods: list[str], root: Path = HERE / "data" / "features") -> None:
    """Print the figures at ``T x D``; the data set is written under ``root`` once."""
    folder = ensure_dataset(root / f"parens-{T}-{D}", T=T, D=D, layers=1,
                            kinds=("cell",), sequences=max(1, T // 2000), depth_cells=8)
    # start without an index, to measure both paths (the bench owns bench/data)
    shutil.rmtree(folder / ".index", ignore_errors=True)
    app = create_app([folder.parent], catalog=Catalog([folder.parent]))
    client = app.test_client(base_url="http://localhost")  # an allowed Host
    base = f"/api/v1/datasets/{folder.name}"
    ds = app.catalog.entries[folder.name].dataset
    floor = sequential_read(ds.sources[SRC])
    rows = [("one sequential read of the states (floor)", floor, "linear")]
    for method in methods:
        q = {"source": SRC, "feature": "meta:depth=depth 4", "method": method, "limit": 50}
        cold = timed(lambda q=q: get(client, f"{base}/correlation", **q))
        warm = timed(lambda q=q: get(client, f"{base}/correlation", **q), repeat=5)
        kind = "linear" if method == "pearson" else "sort"
        rows += [(f"correlation {method} cold", cold, kind),
                 (f"correlation {method} cached", warm, "const")]
    top = get(client, f"{base}/correlation", source=SRC, feature="meta:depth=depth 4")
    best = [c["cell"] for c in top["cells"][:4]]
    engine = app.handlers.engine(ds, ds.sources[SRC])
    state = engine.index_state()
    for i, cell in enumerate(best[:2]):
        t_top = timed(lambda c=cell: get(client, f"{base}/cells/{c}/top", source=SRC))
        t_words = timed(lambda c=cell: get(client, f"{base}/cells/{c}/words", source=SRC))
        nth = "1st cell" if i == 0 else "2nd cell"
        path = "codes" if state == "fresh" else "column read"
        rows += [(f"top contexts, index {state}, {nth} ({path})", t_top, "linear"),
                 (f"words, {nth} ({'one pass, all cells' if i == 0 else 'cached pass'})",
                  t_words, "linear" if i == 0 else "const")]
    t0 = time.perf_counter()
    app.handlers.workspace.build(ds, SRC)
    rows.append(("index build (for match and top contexts)", time.perf_counter() - t0, "linear"))
    t_top = timed(lambda: get(client, f"{base}/cells/{best[2]}/top", source=SRC), repeat=3)
    rows.append((f"top contexts, index {engine.index_state()}, 3rd cell (codes)", t_top,
                 "linear"))
    mq = {"source": SRC, "cells": ",".join(map(str, best)), "threshold": 0.3,
          "meta": "depth"}
    get(client, f"{base}/match", **mq)  # warm the engine and numba
    get(client, f"{base}/match", **mq, summary="true")
    # interleaved, so that a change of the machine's load hits both alike
    pairs = [(timed(lambda: get(client, f"{base}/match", **mq)),
              timed(lambda: get(client, f"{base}/match", **mq, summary="true")))
             for _ in range(5)]
    plain = statistics.median(p for p, _ in pairs)
    summ = statistics.median(s for _, s in pairs)
    body = get(client, f"{base}/match", **mq, summary="true")
    rows += [("match (warm, index fresh)", plain, "linear"),
             ("match + summary (warm, index fresh)", summ, "linear")]
    print(f"\nT = {T:,} x D = {D} ({T * D * 4 / 2**30:.2f} GiB of float32 states); "
          f"candidates of the match: {body['candidates']:,}")
    print(f"{'operation':58s} {'measured':>10s} {'at T=5M (extrap.)':>18s}")
    for name, sec, kind in rows:
        ext = "" if kind == "const" or T == TARGET_T else f"{scale(sec, T, kind):16.2f} s"
        print(f"{name:58s} {sec * 1000:8.1f} ms {ext:>18s}")
    pearson = [sec for name, sec, _ in rows if name == "correlation pearson cold"]
    print(f"summary adds {100 * (summ - plain) / plain:.0f}% to the match (target <= 30%)"
          + (f"; pearson cold / floor = {pearson[0] / floor:.2f}" if pearson else ""))
    app.handlers.workspace.stop(timeout=60)
    app.catalog.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, nargs="+", default=[200_000, 500_000])
    p.add_argument("--D", type=int, default=650)
    p.add_argument("--methods", nargs="+", default=["pearson", "spearman", "mi"],
                   help="correlation methods to time (spearman and mi take minutes at T = 5M)")
    args = p.parse_args()
    np.seterr(all="ignore")
    for T in args.T:
        run(T, args.D, args.methods)


if __name__ == "__main__":
    main()
