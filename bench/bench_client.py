"""Render times of the client in Chromium: the select view for 650 cells x 100 steps and the
match view with 50 rows (target for the select view: <= 100 ms). Measured, not asserted.

    .venv/bin/python bench/bench_client.py [--runs 7] [--T 20000]

Serves a generated data set (bench/data/, reused between runs) with the real
`hiddenscope serve`, opens the client in Debian's chromium and reads the app's own
performance.measure entries (hs:select-render, hs:match-render: the views' update calls)
plus the time to the next frame after a forced redraw (layout and paint included). The
client widens a window to fill the page, so at 1400 px and zoom 12 the 100 steps asked for
are drawn as about 102; the figures name the shape drawn.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "client"))
from browser_harness import CHROMIUM, IDLE_JS, Server, launch  # noqa: E402 (the tests' harness)
from hiddenscope.server.store.synthetic import ensure_dataset
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
# one forced redraw: the views' update, a synchronous layout, then the next frame (paint)
REDRAW = """async (idle) => {
  const t0 = performance.now();
  if (!idle) window.hiddenscope.render();
  document.body.getBoundingClientRect();
  const t1 = performance.now();
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return [t1 - t0, performance.now() - t0];
}"""


def measures(page, name: str) -> list[float]:
    return page.evaluate(f"() => performance.getEntriesByName('{name}').map((e) => e.duration)")


def bench_select(page, url: str, dataset: str, D: int, runs: int) -> dict:
    cells = ",".join(map(str, range(0, D, max(1, D // 50))))  # about 50 selected cells on top
    first = []  # the first render after opening the link: every element is created
    for _ in tqdm(range(runs), desc="select view: open", unit="load"):
        page.goto(
            f"{url}/client/view.html?dataset={dataset}&source=layer0-cell&pos=1000&left=10&right=89"
            f"&cells={cells}&meta=depth&zoom=12"
        )
        page.wait_for_function(IDLE_JS, timeout=60_000)
        first.append(measures(page, "hs:select-render")[-1])
    nav = []
    for _ in tqdm(range(runs), desc="select view: next page", unit="page"):
        page.get_by_role("button", name="next page").click()
        page.wait_for_function(IDLE_JS, timeout=60_000)
        nav.append(measures(page, "hs:select-render")[-1])
    redraw = [page.evaluate(REDRAW, False) for _ in range(runs)]
    idle = [page.evaluate(REDRAW, True)[1] for _ in range(runs)]
    steps = page.evaluate("() => window.hiddenscope.context.tokens.length")
    rows = page.evaluate("() => window.hiddenscope.context.states.length")
    return {
        "shape": f"{rows} cells x {steps} steps",
        "first": statistics.median(first),
        "navigate": statistics.median(nav),
        "redraw_sync": statistics.median(r[0] for r in redraw),
        "redraw_frame": statistics.median(r[1] for r in redraw),
        "idle_frame": statistics.median(idle),
    }


def bench_match(page, url: str, dataset: str, runs: int) -> dict:
    first = []  # the render of the match answer after opening the link
    for _ in tqdm(range(runs), desc="match view: open", unit="load"):
        page.goto(
            f"{url}/client/view.html?dataset={dataset}&source=layer0-cell&pos=1000&left=10&right=89"
            "&cells=0,1,2,3,17,40&match=on&limit=50&meta=depth,position,next&zoom=18"
        )
        page.locator("tr.match-row").first.wait_for(timeout=120_000)
        page.wait_for_function(IDLE_JS, timeout=120_000)
        first.append(measures(page, "hs:match-render")[-1])
    redraw = [
        page.evaluate(REDRAW, False)
        for _ in tqdm(range(runs), desc="match view: redraw", unit="run")
    ]
    return {
        "rows": page.locator("tr.match-row").count(),
        "cells": page.locator("tr.match-row td").count(),
        "first": statistics.median(first),
        "redraw_sync": statistics.median(r[0] for r in redraw),
        "redraw_frame": statistics.median(r[1] for r in redraw),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--T", type=int, default=20_000, help="steps of the generated data set")
    ap.add_argument("--cells", type=int, default=650, help="cells per source (D)")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: run `make chromium`")
    from playwright.sync_api import sync_playwright

    dataset = f"client{args.cells}"
    root = ROOT / "bench" / "data" / "client" / dataset  # served alone: one data set per root
    ensure_dataset(
        root / dataset,
        T=args.T,
        D=args.cells,
        layers=1,
        kinds=("cell",),
        sequences=4,
        progress=True,
    )
    server = Server(root, log=root / "serve.log")
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sel = bench_select(page, server.url, dataset, args.cells, args.runs)
            mat = bench_match(page, server.url, dataset, args.runs)
            browser.close()
    finally:
        server.stop()
    target = " (target <= 100 ms)" if args.cells == 650 else ""
    print(f"select view, {sel['shape']}{target}, median of {args.runs}:")
    print(
        f"  first render {sel['first']:.1f} ms; after next page {sel['navigate']:.1f} ms; "
        f"redraw {sel['redraw_sync']:.1f} ms (to next frame {sel['redraw_frame']:.1f} ms; "
        f"an idle frame takes {sel['idle_frame']:.1f} ms)"
    )
    print(f"match view, {mat['rows']} rows ({mat['cells']} table cells), median of {args.runs}:")
    print(
        f"  first render {mat['first']:.1f} ms; redraw {mat['redraw_sync']:.1f} ms "
        f"(to next frame {mat['redraw_frame']:.1f} ms)"
    )


if __name__ == "__main__":
    main()
