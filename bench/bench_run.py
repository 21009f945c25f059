"""The live run and the classifier tracks: /run latency and extraction with impact/saliency.

On the sentiment demo (built into bench/data/sentiment from datasets/sentiment/dataset.yml
when missing; ``--quick`` uses the recipe's quick variant) it prints:

- ``/run`` for a 30-token sentence, impact and saliency included, through the in-process
  API client, warm (the checkpoint loaded by a first call): median and range over
  ``--repeat`` calls, for the extracted LSTM checkpoint and a GRU one. Target: <= 100 ms.
- extraction of the whole corpus with the classifier's tracks (gold, predicted, confidence)
  and then also with ``impact`` and ``saliency``, side by side, best of ``--rounds``; the
  ratio (target <= 3x).

    .venv/bin/python bench/bench_run.py [--quick] [--repeat 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hiddenscope.extract import extract  # noqa: E402
from hiddenscope.extract.build import build  # noqa: E402
from hiddenscope.extract.live import load_checkpoint  # noqa: E402
from hiddenscope.server.api import create_app  # noqa: E402
from hiddenscope.server.store import open_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = (
    "to be fair , the movie was not very good but the cast was extremely fun though the "
    "plot seemed slow and the ending felt truly boring , honestly ."
)


def ensure_built(quick: bool) -> Path:
    folder = ROOT / "bench" / "data" / ("sentiment-quick" if quick else "sentiment")
    if not (folder / "data.h5").exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "datasets" / "sentiment" / "dataset.yml", folder / "dataset.yml")
        started = time.perf_counter()
        build(folder, quick=quick, force=True, progress=False)
        print(f"built {folder.name} in {time.perf_counter() - started:.1f} s")
    return folder


def bench_run(folder: Path, repeat: int) -> None:
    app = create_app([folder.parent], catalog=None)
    ds = app.catalog.entries[folder.name].dataset
    client = app.test_client(base_url="http://localhost")  # an allowed Host
    config = ds.config.model
    gru = [c for c in config.checkpoints if c.model != "lstm"]
    for cp in [config.checkpoint(None), *gru[-1:]]:
        url = f"/api/v1/datasets/{folder.name}/run?" + urlencode(
            {"text": SENTENCE, "checkpoint": cp.id}
        )
        first = time.perf_counter()
        body = client.get(url).json()
        assert len(body["tokens"]) == 30, body["tokens"]
        cold = time.perf_counter() - first
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = client.get(url)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        ms = [1000 * x for x in times]
        print(
            f"/run {cp.id:16s} {len(body['tokens'])} tokens: "
            f"warm median {statistics.median(ms):6.1f}"
            f" ms (min {min(ms):.1f}, max {max(ms):.1f}; first call {1000 * cold:.0f} ms)"
            f"  target <= 100 ms"
        )
    app.catalog.close()


def bench_extract(folder: Path, rounds: int) -> None:
    ds = open_dataset(folder)
    config = ds.config.model
    model = load_checkpoint(config.checkpoint(None), len(ds.vocab))
    o = ds.sequence_offsets
    seqs = [ds.tokens[o[i] : o[i + 1]].astype(np.int64) for i in range(ds.sequences)]
    gold = np.zeros(len(seqs), dtype=np.int64)
    vocab = [v if v is not None else f"#{i}" for i, v in enumerate(ds.vocab)]
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for tracks in (False, True):  # side by side in each round
                t = time.perf_counter()
                extract(model, seqs, vocab, Path(tmp) / f"x{tracks}", classes=list(config.classes),
                        gold=gold, impact=tracks, saliency=tracks, force=True, progress=False,
                        batch_size=64)  # fmt: skip
                best[tracks] = min(best.get(tracks, np.inf), time.perf_counter() - t)
    T = int(o[-1])
    for tracks, secs in best.items():
        label = "with impact + saliency" if tracks else "states + predictions  "
        print(f"extract {label}: {secs:6.2f} s ({T / secs:,.0f} tok/s, {T:,} tokens)")
    print(f"ratio with / without: {best[True] / best[False]:.2f}x  (target <= 3x)")
    ds.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="use the recipe's quick variant")
    p.add_argument("--repeat", type=int, default=30, help="warm /run calls per checkpoint")
    p.add_argument("--rounds", type=int, default=3, help="extraction rounds (best of)")
    args = p.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(f"load average: {os.getloadavg()[0]:.1f} over {os.cpu_count()} cores")
    folder = ensure_built(args.quick)
    bench_run(folder, args.repeat)
    bench_extract(folder, args.rounds)


if __name__ == "__main__":
    main()
