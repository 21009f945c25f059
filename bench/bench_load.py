"""Mixed load on a running `hiddenscope serve` over the generated parens data set: 1, 8 and 32
clients at once, each sending a fixed mix (data set list, context, select, match, search,
cell statistics). Prints p50/p95/max latency, requests per second and every status that is
not 200 (a 5xx is a failure of the server). Measured, not asserted.

    .venv/bin/python bench/bench_load.py [--clients 1,8,32] [--requests 240] [--T 50000]
    .venv/bin/python bench/bench_load.py --against 8888,8889 --rounds 2

Talks to 127.0.0.1 only: the server is started here on a free port and stopped at the end,
or ``--against PORT,...`` measures servers already running there over bench/data/load (for
a before/after comparison, the levels alternate between them, ``--rounds`` times).
The clients run in this process (threads), so on a small machine they share its cores
with the server: compare figures measured side by side.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "client"))
from browser_harness import Server  # noqa: E402 (the tests' harness starts the real command)
from hiddenscope.server.store.synthetic import ensure_dataset

ROOT = Path(__file__).resolve().parents[1]
MAX_REQUESTS = 2000  # keeps a run bounded whatever the arguments


def mix(T: int, i: int) -> str:
    """The i-th request path of the mix (deterministic, spread over the data set)."""
    pos = (i * 7919) % (T - 50)
    base = "/api/v1/datasets"
    return [
        f"{base}",
        f"{base}/parens/context?source=layer0-cell&pos={pos}&left=10&right=40&cells=0,1,2,3",
        f"{base}/parens/select?source=layer0-cell&start={pos}&end={pos + 2}&threshold=0.3",
        f"{base}/parens/match?source=layer0-cell&cells=0,1,2,3&threshold=0.3&limit=20",
        f"{base}/parens/search?q=((1&limit=20",
        f"{base}/parens/cells/{i % 8}?source=layer0-cell",
    ][i % 6]


def client(port: int, paths: list[str], out: list[tuple[float, int]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in paths:
        began = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status = 0  # connection failed: counted as an error
        out.append((time.perf_counter() - began, status))
    conn.close()


def run(port: int, T: int, clients: int, requests: int) -> dict:
    per_client = max(1, requests // clients)
    results: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(
            target=client,
            args=(port, [mix(T, c * per_client + k) for k in range(per_client)], results[c]),
        )
        for c in range(clients)
    ]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    flat = [r for rs in results for r in rs]
    times = sorted(t for t, _ in flat)
    return {
        "n": len(flat),
        "p50": statistics.median(times) * 1000,
        "p95": times[min(len(times) - 1, int(0.95 * len(times)))] * 1000,
        "max": times[-1] * 1000,
        "rps": len(flat) / wall,
        "statuses": Counter(s for _, s in flat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=240, help="per level, all clients")
    parser.add_argument("--T", type=int, default=50_000)
    parser.add_argument("--against", default="", help="ports of running servers (comma-separated)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    requests = min(args.requests, MAX_REQUESTS)
    folder = ROOT / "bench" / "data" / "load"
    ensure_dataset(folder / "parens", T=args.T, D=48, layers=2, sequences=20, name="parens")
    server = None
    if args.against:
        ports = [int(p) for p in args.against.split(",")]
    else:
        server = Server(folder, log=ROOT / "bench" / "data" / "load-serve.log")
        ports = [server.port]
    try:
        for port in ports:
            for path in (mix(args.T, 3), mix(args.T, 4)):  # index built, search text joined
                client(port, [path], [])
        print(f"parens T={args.T:,} D=48 on 127.0.0.1 ports {', '.join(map(str, ports))}")
        print(" port  clients  requests   p50 ms   p95 ms   max ms    req/s  non-200")
        for _ in range(max(1, min(args.rounds, 5))):
            for level in [int(c) for c in args.clients.split(",")]:
                for port in ports:
                    r = run(port, args.T, level, requests)
                    other = {s: n for s, n in r["statuses"].items() if s != 200}
                    print(
                        f"{port:5d}  {level:7d}  {r['n']:8d}  {r['p50']:7.1f}  {r['p95']:7.1f}"
                        f"  {r['max']:7.1f}  {r['rps']:7.1f}  {other or 'none'}"
                    )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
