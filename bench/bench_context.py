"""How long the server takes to answer a context request of 200 steps x all 650 cells.

    .venv/bin/python bench/bench_context.py            # T = 5,000,000 x D = 650 (13 GB, shared
                                                       # with bench_engine.py's --full data)
    .venv/bin/python bench/bench_context.py --small    # T = 200,000 x D = 650 (0.5 GB)

Three figures per position pattern, each the median and p95 over many requests:
- `raw slice`: the floor, a copy of the 200 rows out of the memory-mapped table;
- `handler`: the operation function (store + engine + JSON encoding), no HTTP;
- `in-process client`: the whole ASGI stack (Connexion validation, routing, httpx test client).
"Same window" repeats one position (pages in memory); "random windows" spreads them over T
(pages possibly cold). Target: <= 20 ms for the request in the server.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from hiddenscope.server.store.synthetic import ensure_dataset

HERE = Path(__file__).resolve().parent
LEFT, RIGHT = 100, 99  # 200 steps
TARGET_MS = 20.0


def dataset_folder(T: int, D: int) -> Path:
    """The engine benchmark's folder and parameters, so both benchmarks share the 13 GB file."""
    return ensure_dataset(
        HERE / "data" / f"T{T}_D{D}",
        T=T,
        D=D,
        layers=1,
        kinds=("cell",),
        sequences=max(1, T // 10_000),
        depth_cells=8,
        progress=False,
    )


def timed(fn, positions: list[int]) -> tuple[float, float]:
    """(median, p95) in ms of ``fn(pos)`` over ``positions``."""
    times = []
    for pos in positions:
        t0 = time.perf_counter()
        fn(pos)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="T = 200,000 instead of 5,000,000")
    parser.add_argument("--reps", type=int, default=200, help="requests per figure")
    args = parser.parse_args()
    T, D = (200_000 if args.small else 5_000_000), 650
    print(f"data set: T = {T:,} x D = {D} (writing it if missing; minutes for T = 5M)")
    folder = dataset_folder(T, D)

    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from hiddenscope.server.api import create_app

    t0 = time.perf_counter()
    app = create_app([folder])
    print(f"create_app (load the data set): {time.perf_counter() - t0:.2f} s")
    client = app.test_client(base_url="http://localhost")  # an allowed Host
    ds = app.catalog.entries[folder.name].dataset
    source = ds.sources["layer0-cell"]
    table = source._array  # the memory map the store reads
    rng = np.random.default_rng()  # unseeded: positions a previous run read may still be cached

    def positions(pattern: str) -> list[int]:
        """Fresh random positions for each measurement, so none reads pages another warmed."""
        if pattern == "same window":
            return [T // 2] * args.reps
        return rng.integers(LEFT, T - RIGHT, size=args.reps).tolist()

    url = (
        f"/api/v1/datasets/{folder.name}/context?source=layer0-cell&left={LEFT}&right={RIGHT}&pos="
    )

    def request(pos: int) -> None:
        response = client.get(url + str(pos))
        assert response.status_code == 200, response.text

    body = client.get(url + str(T // 2)).json()
    assert len(body["states"]) == D and len(body["states"][0]) == LEFT + RIGHT + 1
    print(
        f"response: {D} cells x {LEFT + RIGHT + 1} steps, "
        f"{len(client.get(url + str(T // 2)).content) / 1e6:.2f} MB of JSON"
    )
    print(f"{'pattern':<16}{'what':<20}{'median ms':>11}{'p95 ms':>9}{'x raw':>8}")
    for name in ("same window", "random windows"):
        raw = timed(lambda p: np.array(table[p - LEFT : p + RIGHT + 1]), positions(name))
        handler = timed(
            lambda p: app.handlers.getContext(folder.name, "layer0-cell", p, LEFT, RIGHT),
            positions(name),
        )
        full = timed(request, positions(name))
        for what, (median, p95) in (
            ("raw slice", raw),
            ("handler", handler),
            ("in-process client", full),
        ):
            print(f"{name:<16}{what:<20}{median:>11.2f}{p95:>9.2f}{median / raw[0]:>8.1f}")
        verdict = "meets" if full[0] <= TARGET_MS else "misses"
        print(
            f"{'':<16}-> the request {verdict} the {TARGET_MS:g} ms target "
            f"(median {full[0]:.1f} ms)"
        )
    app.catalog.close()


if __name__ == "__main__":
    main()
