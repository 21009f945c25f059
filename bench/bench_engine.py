"""Benchmark the engine's match on structured synthetic data (prints figures; not a test).

Data: the bracket language of hiddenscope.server.store.synthetic (depth-tracking cells,
the rest smoothed noise through tanh), written once under bench/data/ (gitignored).

    python bench/bench_engine.py --small   # T = 200k x D = 128 (`make bench`)
    python bench/bench_engine.py --full    # T = 2M x D = 128 and T = 5M x D = 650 (~13 GB disk)

For each size: one sequential read of the states, the index build (time, size), then,
in a subprocess (so its peak RSS is the query phase's own), match for |S| = 5, 20, 60,
thresholds 0.3 and 0.6, padding 0/0 and 1/1: median and p95 latency warm (same engine,
page cache warm) and cold (fresh engine, index files dropped from the page cache with
posix_fadvise DONTNEED), the floor (numpy threshold-compare-and-sum over the |S| rows
held cell-major in memory) and the ratio to it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
from hiddenscope.server.engine import SourceEngine, apply_transform
from hiddenscope.server.store.synthetic import ensure_dataset

HERE = Path(__file__).resolve().parent
SIZES = {"small": [(200_000, 128)], "full": [(2_000_000, 128), (5_000_000, 650)]}
SET_SIZES = (5, 20, 60)
THRESHOLDS = (0.3, 0.6)
PADS = ((0, 0), (1, 1))
DEPTH_CELLS = 8


class FileSource:
    """A StateSource over the contiguous ``states/layer0/cell`` dataset of data.h5.

    Everything is read with pread, one call per run of consecutive steps, so the peak RSS
    of the query phase is the engine's own (a lasting memmap, as the store uses, also
    counts the file pages it touched; they are clean and reclaimable).
    """

    def __init__(self, folder: Path, path: str = "states/layer0/cell") -> None:
        self.file = folder / "data.h5"
        with h5py.File(self.file, "r") as f:
            ds = f[path]
            self.offset = ds.id.get_offset()
            self.shape = tuple(int(x) for x in ds.shape)
            self.sequence_offsets = f["sequences"][()].astype(np.int64)
        st = self.file.stat()
        self.transform = "tanh"
        self.fingerprint = f"{self.file}:{st.st_size}:{st.st_mtime_ns}:{path}:tanh"
        self.fd = os.open(self.file, os.O_RDONLY)

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        D = self.shape[1]
        out = np.empty((stop - start, D), dtype=np.float32)
        view, done = memoryview(out).cast("B"), 0
        while done < view.nbytes:
            done += os.preadv(self.fd, [view[done:]], self.offset + 4 * start * D + done)
        return out

    def read_steps(self, steps: np.ndarray) -> np.ndarray:
        steps = np.asarray(steps, dtype=np.int64)
        out = np.empty((steps.size, self.shape[1]), dtype=np.float32)
        breaks = np.flatnonzero(np.diff(steps) != 1) + 1
        for i, j in zip(np.r_[0, breaks], np.r_[breaks, steps.size], strict=True):
            out[i:j] = self.read_rows(int(steps[i]), int(steps[i]) + (j - i))
        return out


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def pick_cells(n: int, D: int, seed: int = 7) -> np.ndarray:
    """The depth cells first (what a user would select), then random noise cells.

    Nested: the cells for a smaller n are a subset of those for a larger one.
    """
    order = np.concatenate([np.arange(min(DEPTH_CELLS, D)),
                            np.random.default_rng(seed).permutation(np.arange(DEPTH_CELLS, D))])
    return np.sort(order[: min(n, D)].astype(np.int64))


def stats_ms(times: list[float]) -> tuple[float, float]:
    ms = sorted(1000 * t for t in times)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def query_phase(folder: Path, index_dir: Path, reps: int, cold_reps: int) -> dict:
    """Run in a subprocess: warm and cold latencies of every query; peak RSS."""
    source = FileSource(folder)
    warm = SourceEngine(source, index_dir)
    assert warm.index_state() == "fresh", warm.index_state()
    rows = []
    for n in SET_SIZES:
        cells = pick_cells(n, source.shape[1])
        for thr in THRESHOLDS:
            for pl, pr in PADS:
                res = warm.match(cells, thr, pl, pr)  # warm-up
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    warm.match(cells, thr, pl, pr)
                    times.append(time.perf_counter() - t0)
                cold = []
                for _ in range(cold_reps):
                    for f in index_dir.glob("codes-*.npy"):
                        drop_cache(f)
                    t0 = time.perf_counter()
                    SourceEngine(source, index_dir).match(cells, thr, pl, pr)
                    cold.append(time.perf_counter() - t0)
                rows.append({"n": n, "thr": thr, "pad": f"{pl}/{pr}", "warm": stats_ms(times),
                             "cold": stats_ms(cold), "candidates": res.candidates,
                             "top": res.matches[0].overlap if res.matches else 0})
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "peak_rss_mb": rss}


def floors_ms(source: FileSource, reps: int) -> dict[tuple[int, float], float]:
    """The floor: numpy compare-and-sum over the |S| rows held cell-major in memory."""
    T, D = source.shape
    cells = pick_cells(max(SET_SIZES), D)
    held = np.empty((cells.size, T), dtype=np.float32)
    for lo in range(0, T, 1 << 16):
        hi = min(T, lo + (1 << 16))
        held[:, lo:hi] = apply_transform(source.read_rows(lo, hi)[:, cells], "tanh").T
    out = {}
    for n in SET_SIZES:
        rows = np.ascontiguousarray(held[np.isin(cells, pick_cells(n, D))])
        for thr in THRESHOLDS:
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                (rows >= np.float32(thr)).sum(axis=0, dtype=np.int32)
                times.append(time.perf_counter() - t0)
            out[n, thr] = stats_ms(times)[0]
    return out


def run_size(T: int, D: int, reps: int, cold_reps: int) -> None:
    folder = ensure_dataset(HERE / "data" / f"T{T}_D{D}", T=T, D=D, layers=1, kinds=("cell",),
                            sequences=max(1, T // 10_000), depth_cells=DEPTH_CELLS, progress=True)
    source = FileSource(folder)
    drop_cache(source.file)
    t0 = time.perf_counter()
    for lo in range(0, T, 1 << 16):
        source.read_rows(lo, min(T, lo + (1 << 16)))
    read_s = time.perf_counter() - t0
    drop_cache(source.file)
    index_dir = folder / ".index" / "layer0-cell"
    engine = SourceEngine(source, index_dir)
    t0 = time.perf_counter()
    engine.build_index(progress=True)
    build_s = time.perf_counter() - t0
    size_mb = sum(f.stat().st_size for f in index_dir.iterdir()) / 2**20
    out = subprocess.run([sys.executable, __file__, "--query-phase", str(folder), str(index_dir),
                          str(reps), str(cold_reps)], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    floors = floors_ms(source, reps)
    print(f"\nT = {T:,} x D = {D} float32 ({T * D * 4 / 2**30:.2f} GiB), "
          f"{len(source.sequence_offsets) - 1} sequences")
    print(f"one sequential read of the states: {read_s:.2f} s; index build: {build_s:.2f} s "
          f"({build_s / read_s:.2f}x the read), index size {size_mb:,.0f} MiB")
    print(f"peak RSS of the query phase: {result['peak_rss_mb']:,.0f} MiB")
    print(f"{'|S|':>4} {'thr':>4} {'pad':>4} {'warm med':>9} {'warm p95':>9} {'cold med':>9} "
          f"{'cold p95':>9} {'floor':>7} {'ratio':>6} {'cands':>10} {'top|I|':>6}")
    for r in result["rows"]:
        fl = floors[(r["n"], r["thr"])]
        print(f"{r['n']:>4} {r['thr']:>4} {r['pad']:>4} "
              f"{r['warm'][0]:>8.1f}m {r['warm'][1]:>8.1f}m "
              f"{r['cold'][0]:>8.1f}m {r['cold'][1]:>8.1f}m {fl:>6.1f}m {r['warm'][0] / fl:>6.2f} "
              f"{r['candidates']:>10,} {r['top']:>6}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--query-phase":
        folder, index_dir, reps, cold_reps = sys.argv[2:6]
        print(json.dumps(query_phase(Path(folder), Path(index_dir), int(reps), int(cold_reps))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="T=200k x D=128 (default)")
    size.add_argument("--full", action="store_true", help="T=2M x D=128 and T=5M x D=650")
    parser.add_argument("--only", metavar="T,D", help="one size of the set, e.g. 5000000,650")
    parser.add_argument("--reps", type=int, default=7, help="warm repetitions per query")
    parser.add_argument("--cold-reps", type=int, default=3, help="cold repetitions per query")
    args = parser.parse_args()
    print("timings are wall-clock on a shared 2-core machine; other jobs may add noise")
    for T, D in SIZES["full" if args.full else "small"]:
        if args.only in (None, f"{T},{D}"):
            run_size(T, D, args.reps, args.cold_reps)


if __name__ == "__main__":
    main()
