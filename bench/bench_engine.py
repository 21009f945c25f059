"""Benchmark the engine's match through the real store (prints figures; not a test).

Data: the bracket language of hiddenscope.server.store.synthetic (depth-tracking cells,
the rest smoothed noise through tanh), written once under bench/data/ (gitignored), read
through the store (H5StateSource, pread) with its index in the store's IndexFiles.

    python bench/bench_engine.py --small          # T = 200k x D = 128 (`make bench`)
    python bench/bench_engine.py --size 1000000,650
    python bench/bench_engine.py --full           # T = 5M x D = 650 (13 GB of states)
    python bench/bench_engine.py --full --no-build --no-read --no-new-engine --cold-reps 1
    python bench/bench_engine.py --size 1000000,650 --no-build --threads 1,2  # side by side

Printed in one run, for each size: one sequential read of the states beside the index
build (time, ratio; peak anonymous memory while building), the index size beside the
states' size, then for the grid (|S| = 5, 20, 60; thresholds 0.3, 0.6; padding 0/0, 1/1)
of ``match`` plus its ``align`` step: the warm median and p95 (same engine, page cache
warm; the engine keeps the on-bit planes of the thresholds it has seen), the CPU time of
a warm query (all threads; less distorted than wall-clock by other jobs on a shared
machine, though it counts both threads' work), a new engine's first query with the page
cache warm ("new eng": no planes yet), and cold (new engine, index and states dropped
from the page cache), beside the floor: a numpy compare-and-sum over the |S| rows held
cell-major in memory. ``--threads 1,2`` runs the grid once per engine thread count (the
sweep split over that many ranges of whole sequences), one table each. The query phase
runs in a subprocess so its anonymous memory
(RssAnon: the server's own pages, not the page cache) is its own. Each row ends with the
load average when it was measured (the machine is shared).

At 5M a timed read of the states, a "new eng" run of a tie (its first query reads most
rows) and each cold run of a tie take minutes on a slow disk: ``--no-read``,
``--no-new-engine``, ``--cold-reps`` and ``--sets`` leave them out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from hiddenscope.server.engine import MatchQuery, SourceEngine, apply_transform, warm_up
from hiddenscope.server.engine import index as index_mod
from hiddenscope.server.store import IndexFiles, index_folder, open_dataset
from hiddenscope.server.store.synthetic import ensure_dataset

HERE = Path(__file__).resolve().parent
SIZES = {"small": (200_000, 128), "full": (5_000_000, 650)}
SET_SIZES = (5, 20, 60)
THRESHOLDS = (0.3, 0.6)
PADS = ((0, 0), (1, 1))
DEPTH_CELLS = 8
SOURCE = "layer0-cell"


class AnonPeak:
    """Samples this process's anonymous resident memory (RssAnon) every 10 ms; ``peak`` MiB."""

    def __init__(self) -> None:
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(0.01)

    def __enter__(self) -> AnonPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def drop_cache(*paths: Path) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def pick_cells(n: int, D: int, seed: int = 7) -> np.ndarray:
    """The depth cells first (what a user would select), then random noise cells (nested)."""
    order = np.concatenate([np.arange(min(DEPTH_CELLS, D)),
                            np.random.default_rng(seed).permutation(np.arange(DEPTH_CELLS, D))])
    return np.sort(order[: min(n, D)].astype(np.int64))


def stats_ms(times: list[float]) -> tuple[float, float]:
    ms = sorted(1000 * t for t in times)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def open_source(folder: Path):
    ds = open_dataset(folder)
    src = ds.sources[SOURCE]
    return ds, src, IndexFiles(index_folder(ds.folder, ds.id, SOURCE), src)


def query_phase(folder: Path, reps: int, cold_reps: int, row_cache: bool = True,
                new_engine: bool = True, sets: tuple[int, ...] = SET_SIZES,
                threads: int | None = None) -> dict:
    """In a subprocess: warm and cold latency of every query of the grid; peak RssAnon.
    ``row_cache`` False: the index keeps no on-bit rows (every query reads its codes);
    ``new_engine`` False: no "new eng" runs (at 5M a tie's first query reads most rows);
    ``threads``: the engines' threads (None: the engine's default, one per core up to 2)."""
    if not row_cache:
        index_mod.ROWS.limit = 0
    # as `hiddenscope serve` does at start: every numba kernel compiled or loaded, so no
    # query below pays for loading one (at 5M the second query of a tie did: +100 ms)
    warm_up()
    ds, src, files = open_source(folder)
    data_file = folder / "data.h5"
    with AnonPeak() as anon:
        warm = SourceEngine(src, files, threads=threads)
        assert warm.index_state() == "fresh", warm.index_state()
        rows = []
        for n in sets:
            for thr in THRESHOLDS:
                for pl, pr in PADS:
                    query = MatchQuery(tuple(pick_cells(n, src.shape[1]).tolist()), thr, pl, pr)

                    def run(engine, query=query):
                        result = engine.match(query)
                        engine.align(query, result.matches, 3, 20)
                        return result

                    res = run(warm)  # warm-up
                    times, cpu = [], []
                    for _ in range(reps):
                        t0, c0 = time.perf_counter(), time.process_time()
                        run(warm)
                        times.append(time.perf_counter() - t0)
                        cpu.append(time.process_time() - c0)
                    # a new engine (no planes yet), page cache warm: the first new engine
                    # reads what the last cold run dropped, the second is timed
                    first = float("nan")
                    if new_engine:
                        run(SourceEngine(src, IndexFiles(files.folder, src), threads=threads))
                        t0 = time.perf_counter()
                        run(SourceEngine(src, IndexFiles(files.folder, src), threads=threads))
                        first = time.perf_counter() - t0
                    cold = []
                    for _ in range(cold_reps):
                        drop_cache(data_file, *files.folder.glob("*.bin"))
                        t0 = time.perf_counter()
                        run(SourceEngine(src, IndexFiles(files.folder, src), threads=threads))
                        cold.append(time.perf_counter() - t0)
                    rows.append({"n": n, "thr": thr, "pad": f"{pl}/{pr}",
                                 "warm": stats_ms(times),
                                 "cold": stats_ms(cold) if cold else (float("nan"),) * 2,
                                 "cpu": stats_ms(cpu)[0], "first": 1000 * first,
                                 "candidates": res.candidates,
                                 "top": res.matches[0].overlap if res.matches else 0,
                                 "load": os.getloadavg()[0]})
    ds.close()
    return {"rows": rows, "anon_mb": anon.peak}


def floors_ms(src, reps: int, sets: tuple[int, ...] = SET_SIZES
              ) -> dict[tuple[int, float], float]:
    """The floor: numpy compare-and-sum over the |S| rows held cell-major in memory."""
    T, D = src.shape
    cells = pick_cells(max(sets), D)
    held = np.empty((cells.size, T), dtype=np.float32)
    for lo in range(0, T, 1 << 16):
        hi = min(T, lo + (1 << 16))
        held[:, lo:hi] = apply_transform(src.read_rows(lo, hi)[:, cells], src.transform).T
    out = {}
    for n in sets:
        rows = np.ascontiguousarray(held[np.isin(cells, pick_cells(n, D))])
        for thr in THRESHOLDS:
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                (rows >= np.float32(thr)).sum(axis=0, dtype=np.int32)
                times.append(time.perf_counter() - t0)
            out[n, thr] = stats_ms(times)[0]
    return out


def run_size(T: int, D: int, reps: int, cold_reps: int, build: bool = True,
             compare: bool = False, read: bool = True, new_engine: bool = True,
             sets: tuple[int, ...] = SET_SIZES, threads: tuple[int, ...] = ()) -> None:
    folder = ensure_dataset(HERE / "data" / f"T{T}_D{D}", T=T, D=D, layers=1, kinds=("cell",),
                            sequences=max(1, T // 10_000), depth_cells=DEPTH_CELLS, progress=True)
    ds, src, files = open_source(folder)
    read_s = float("nan")
    if read:
        drop_cache(folder / "data.h5")
        t0 = time.perf_counter()
        for lo in range(0, T, 1 << 16):
            src.read_rows(lo, min(T, lo + (1 << 16)))
        read_s = time.perf_counter() - t0
    engine = SourceEngine(src, files)
    if build or engine.index_state() != "fresh":
        drop_cache(folder / "data.h5")
    base = AnonPeak.now()
    with AnonPeak() as anon:
        t0 = time.perf_counter()
        if build or engine.index_state() != "fresh":
            engine.build_index()
        build_s = time.perf_counter() - t0
    index_mb = sum(f.stat().st_size for f in files.folder.glob("*.bin")) / 2**20
    states_mb = T * D * 4 / 2**20
    results = {}
    # one query phase per row-cache setting, or per engine thread count (side by side)
    if threads and not compare:
        runs = [("on", n) for n in threads]
    else:
        runs = [(rc, 0) for rc in (("off", "on") if compare else ("on",))]
    for row_cache, n in runs:
        out = subprocess.run([sys.executable, __file__, "--query-phase", str(folder), str(reps),
                              str(cold_reps), row_cache, "on" if new_engine else "off",
                              ",".join(map(str, sets)), str(n)],
                             check=True, capture_output=True, text=True)
        results[row_cache, n] = json.loads(out.stdout.strip().splitlines()[-1])
    anon_mb = max(r["anon_mb"] for r in results.values())
    floors = floors_ms(src, reps, sets)
    ds.close()
    print(f"\nT = {T:,} x D = {D} float32 ({states_mb / 1024:.2f} GiB), "
          f"{len(src.sequence_offsets) - 1} sequences")
    built = "not built (--no-build)" if not build else f"{build_s:.2f} s"
    print(f"one sequential read of the states: {read_s:.2f} s; index build: {built} "
          f"({build_s / read_s:.2f}x the read); load {os.getloadavg()[0]:.1f}")
    print(f"index size {index_mb:,.0f} MiB = {100 * index_mb / states_mb:.0f}% of the states "
          f"({states_mb:,.0f} MiB)")
    print(f"anonymous memory (RssAnon): building {anon.peak - base:,.0f} MiB above the "
          f"{base:,.0f} MiB before; query phase peak {anon_mb:,.0f} MiB")
    for (row_cache, n), result in results.items():
        if compare:
            print(f"\nrow cache {row_cache} (the index's cached on-bit rows per cell and "
                  "threshold)")
        elif n:
            print(f"\nengine threads = {n} (the sweep split over {n} ranges of whole "
                  "sequences)")
        print_rows(result, floors)


def print_rows(result: dict, floors: dict) -> None:
    print(f"{'|S|':>4} {'thr':>4} {'pad':>4} {'warm med':>9} {'warm p95':>9} {'cpu med':>9} "
          f"{'new eng':>8} {'cold med':>9} {'cold p95':>9} {'floor':>7} {'ratio':>6} "
          f"{'cands':>10} {'top|I|':>6} {'load':>5}")
    for r in result["rows"]:
        fl = floors[(r["n"], r["thr"])]
        print(f"{r['n']:>4} {r['thr']:>4} {r['pad']:>4} "
              f"{r['warm'][0]:>8.1f}m {r['warm'][1]:>8.1f}m {r['cpu']:>8.1f}m {r['first']:>7.1f}m "
              f"{r['cold'][0]:>8.1f}m {r['cold'][1]:>8.1f}m {fl:>6.1f}m {r['warm'][0] / fl:>6.2f} "
              f"{r['candidates']:>10,} {r['top']:>6} {r['load']:>5.1f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--query-phase":
        folder, reps, cold_reps, row_cache, new_engine, sets, threads = sys.argv[2:9]
        print(json.dumps(query_phase(Path(folder), int(reps), int(cold_reps),
                                     row_cache == "on", new_engine == "on",
                                     tuple(int(x) for x in sets.split(",")),
                                     int(threads) or None)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="T=200k x D=128 (default)")
    size.add_argument("--full", action="store_true", help="T=5M x D=650 (13 GB of states)")
    size.add_argument("--size", metavar="T,D", help="any size, e.g. 1000000,650")
    parser.add_argument("--reps", type=int, default=7, help="warm repetitions per query")
    parser.add_argument("--cold-reps", type=int, default=3, help="cold repetitions per query")
    parser.add_argument("--no-build", action="store_true",
                        help="keep a fresh index from an earlier run (build time not measured)")
    parser.add_argument("--compare-row-cache", action="store_true",
                        help="run the query grid without, then with the row cache")
    parser.add_argument("--no-read", action="store_true",
                        help="skip the timed sequential read of the states (at 5M: minutes)")
    parser.add_argument("--no-new-engine", action="store_true",
                        help='skip the "new eng" runs (a new engine\'s first query)')
    parser.add_argument("--sets", default=",".join(map(str, SET_SIZES)),
                        help="the |S| of the grid, e.g. 20 (default 5,20,60)")
    parser.add_argument("--threads", default="",
                        help="engine threads, one query phase each, printed side by side, "
                             "e.g. 1,2 (default: the engine's own, one per core up to 2)")
    args = parser.parse_args()
    print("timings are wall-clock; on a shared machine other jobs add noise")
    if args.size:
        T, D = (int(x) for x in args.size.split(","))
    else:
        T, D = SIZES["full" if args.full else "small"]
    run_size(T, D, args.reps, args.cold_reps, build=not args.no_build,
             compare=args.compare_row_cache, read=not args.no_read,
             new_engine=not args.no_new_engine,
             sets=tuple(int(x) for x in args.sets.split(",")),
             threads=tuple(int(x) for x in args.threads.split(",") if x))


if __name__ == "__main__":
    main()
