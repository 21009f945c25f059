"""Benchmark the structure views' operations (prints figures and ratios; not a test).

Data: the generated bracket language of hiddenscope.server.store.synthetic, two layers of
D = 650 cell states (``layer0-cell``, ``layer1-cell``, ``transform: tanh``), written once
under bench/data/ (gitignored). Its 7 symbols are too few for a 200-word co-clustering, so
after loading, the bench replaces the data set's tokens *in memory* by a Zipf(1.1) stream
over 5,000 words (seeded); the states are untouched. Everything runs through the API's
handlers (store source, engine, cache, JSON encoding), not the HTTP layer.

    python bench/bench_structure.py            # T = 500k (2 x 1.3 GB), then extrapolated
    python bench/bench_structure.py --T 5000000   # the targets' size (2 x 13 GB, minutes)

Figures:
- projection of 500 points: PCA (target <= 200 ms), ISOMAP and t-SNE (<= 5 s), each a fresh
  computation (median of --repeat runs for PCA; the cache is bypassed);
- co-clustering 650 cells x 200 words: cold (empty cache; one pass for the response matrix,
  with the file's pages dropped from the page cache first, and again with them cached) and
  cached (target <= 5 s cold at T = 5M, <= 50 ms cached);
- align 20 cells of layer0-cell against the 650 cells of layer1-cell (target <= 3 s at T = 5M);
- the floor: one sequential read + tanh of one source, and the passes' ratio to it.
Passes over the corpus are linear in T; figures at a smaller T are scaled by 5M / T to compare
with the targets, and printed as such. Beside each wall time, the process's CPU time: the
projections, the clustering and the response pass run on one thread, so their CPU time is
what an idle core would take; align runs two threads, so an idle 2-core machine would take
about half its CPU time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from hiddenscope.server.api import create_app
from hiddenscope.server.api.cache import ResultCache
from hiddenscope.server.engine.coclusters import expected_response, frequent_words
from hiddenscope.server.engine.projection import project
from hiddenscope.server.engine.source import apply_transform
from hiddenscope.server.store.synthetic import ensure_dataset

HERE = Path(__file__).resolve().parent
TARGET_T = 5_000_000
D = 650
WORDS = 5000


def drop_cache(path: Path) -> None:
    """Drop a file's clean pages from the page cache (a cold read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


CPU = {}  # name -> CPU seconds of the last timed call (see row)


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """(median wall seconds, last result) of ``repeat`` calls; the median CPU seconds of this
    process go to CPU["last"]."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU["last"] = statistics.median(cpu)
    return statistics.median(times), out


def zipf_tokens(T: int, seed: int = 3) -> np.ndarray:
    """``int32[T]`` ids of a Zipf(1.1) stream over WORDS words (rank r with weight r^-1.1)."""
    p = 1.0 / np.arange(1, WORDS + 1) ** 1.1
    return np.random.default_rng(seed).choice(WORDS, size=T, p=p / p.sum()).astype(np.int32)


def with_words(ds, T: int) -> None:
    """Replace the loaded data set's tokens and vocabulary in memory (module docstring)."""
    ds.tokens = zipf_tokens(T)
    ds.vocab = [f"w{i}" for i in range(WORDS)]
    ds.vocab_array = np.array(ds.vocab, dtype=object)


def floor_pass(source) -> float:
    """Seconds of one sequential read + tanh of a whole source, in the engine's chunk size."""
    T, Dn = source.shape
    step = max(1, (1 << 22) // Dn)
    t0 = time.perf_counter()
    for lo in range(0, T, step):
        apply_transform(source.read_rows(lo, min(T, lo + step)), source.transform)
    return time.perf_counter() - t0


def row(name: str, seconds: float, target: float | None, scale: float = 1.0,
        cpu: float | None = None) -> None:
    """One figure: wall seconds, and the process's CPU seconds of the same call (everything
    here runs on one thread, so CPU time is close to the wall time on an idle core; the
    machine is shared, and the wall time counts the waits for a core)."""
    cpu = CPU.get("last") if cpu is None else cpu
    scaled = seconds * scale
    verdict = "" if target is None else ("  ok" if scaled <= target else "  OVER")
    if target is not None and cpu is not None:
        verdict += " (cpu ok)" if cpu * scale <= target else " (cpu OVER)"
    extra = f"  -> {scaled:8.3f} s at T=5M" if scale != 1.0 else ""
    goal = f"  (target <= {target:g} s)" if target is not None else ""
    cpu_text = f"  cpu {cpu:7.3f} s" if cpu is not None else ""
    print(f"{name:<52} {seconds:8.3f} s{cpu_text}{extra}{goal}{verdict}")
    CPU.pop("last", None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=500_000, help="steps (default 500k; targets: 5M)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of the fast measures")
    args = ap.parse_args()
    T = args.T
    scale = TARGET_T / T
    folder = ensure_dataset(HERE / "data" / f"structure-{T}-{D}", T=T, D=D, layers=2,
                            kinds=("cell",), sequences=max(2, T // 250), depth_cells=8,
                            progress=True)
    app = create_app([folder.parent / folder.name])
    h = app.handlers
    ds = app.catalog.entries[folder.name].dataset
    with_words(ds, T)
    a, b = ds.sources["layer0-cell"], ds.sources["layer1-cell"]
    print(f"T = {T:,}, D = {D}, {ds.sequences:,} sequences; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)\n")

    for points in ("sequence_end", "steps"):
        sec, _ = timed(lambda p=points: project(a, "pca", p, 500, 0), args.repeat)
        row(f"PCA, 500 points ({points})", sec, 0.2)
    for method in ("isomap", "tsne"):
        sec, _ = timed(lambda m=method: project(a, m, "steps", 500, 0))
        row(f"{method}, 500 points (steps)", sec, 5.0)

    floor, _ = timed(lambda: floor_pass(b))
    row("floor: one read + tanh of a 650-cell source (warm)", floor, None, scale)

    data = folder / "data.h5"
    drop_cache(data)
    sec_cold, resp = timed(lambda: h.getCoclusters(ds.id, a.id, k=8, words=200, min_count=5))
    row("coclusters 650 x 200, k=8, cold (pages dropped)", sec_cold, None)
    h.structure_cache = ResultCache()  # an empty cache again, file pages now warm
    sec_warm, _ = timed(lambda: h.getCoclusters(ds.id, a.id, k=8, words=200, min_count=5))
    row("coclusters 650 x 200, k=8, cold (pages warm)", sec_warm, None)
    sec_cached, _ = timed(lambda: h.getCoclusters(ds.id, a.id, k=8, words=200, min_count=5),
                          args.repeat)
    row("coclusters, cached (same parameters)", sec_cached, 0.05)
    sec_k, _ = timed(lambda: h.getCoclusters(ds.id, a.id, k=12, words=200, min_count=5))
    cpu_k = CPU.get("last", 0.0)
    row("  of which clustering + JSON (other k, response cached)", sec_k, None)
    ids, _ = frequent_words(ds.tokens, WORDS, 200, 5)
    sec_pass, _ = timed(lambda: expected_response(a, ds.tokens, ds.sequence_offsets, ids))
    cpu_pass = CPU.get("last", 0.0)
    row("  of which the response pass (warm)", sec_pass, None, scale)
    row("coclusters cold at T=5M: pass x 5M/T + clustering", sec_pass * scale + sec_k, 5.0,
        cpu=cpu_pass * scale + cpu_k)
    body = resp.get_data() if hasattr(resp, "get_data") else resp.body
    print(f"{'':<52} response body {len(body) / 1e6:.2f} MB")

    cells = list(range(0, 650, 33))[:20]
    drop_cache(data)
    sec_align, _ = timed(lambda: h.alignCells(ds.id, a.id, cells, b.id, limit=3))
    row("align 20 cells vs 650 cells, cold (pages dropped)", sec_align, 3.0, scale)
    h.structure_cache = ResultCache()
    sec_align_w, _ = timed(lambda: h.alignCells(ds.id, a.id, cells, b.id, limit=3))
    row("align 20 cells vs 650 cells (pages warm)", sec_align_w, 3.0, scale)
    print(f"\nratios to the floor (warm): response pass {sec_pass / floor:.2f}x, "
          f"align {sec_align_w / floor:.2f}x (align reads two sources)")
    app.catalog.close()


if __name__ == "__main__":
    main()
