"""Extraction throughput next to the same model's plain forward, and the parens build time.

For each model (a 2-layer 650-unit word LSTM, the paper's PTB size, and a 2-layer
character LSTM of 128 units, the code demo's size, and of 256) it runs, on the same
batches in the same process:

- plain forward: ``model(ids)`` over length-sorted batches in windows, state carried,
  under ``torch.inference_mode`` (what a user would run anyway);
- extraction: ``hiddenscope.extract.extract`` writing h and c of every layer to a data
  set folder (HDF5 writes included), without top-K/surprisal, then with them.

It prints tokens/s and the ratio extraction / plain forward (target >= 0.6 for h and c;
per round, median and range over the rounds), and with
``--build`` the wall time of ``hiddenscope build datasets/parens`` from scratch.

    .venv/bin/python bench/bench_extract.py            # full sizes
    .venv/bin/python bench/bench_extract.py --small    # a quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hiddenscope.extract import extract  # noqa: E402
from hiddenscope.extract.batches import pad_batch, plan_batches  # noqa: E402
from hiddenscope.extract.train import TokenLM  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def corpus(vocab: int, sequences: int, mean_len: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(mean_len // 2, mean_len * 3 // 2, size=sequences)
    return [rng.integers(0, vocab, size=n) for n in lengths]


def plain_forward(model: TokenLM, seqs: list[np.ndarray], batch_size: int, window: int) -> float:
    """Seconds for the model's own forward over the same batches and windows as extract()."""
    lengths = np.array([len(s) for s in seqs])
    began = time.perf_counter()
    with torch.inference_mode():
        for batch in plan_batches(lengths, batch_size, None):
            ids = torch.from_numpy(pad_batch([seqs[i] for i in batch]))
            state = None
            for w0 in range(0, ids.shape[1], window):
                n = int((lengths[batch] > w0).sum())
                state = None if state is None else tuple(s[:, :n] for s in state)
                _, state = model(ids[:n, w0 : w0 + window], state)
    return time.perf_counter() - began


def timed_extract(model, seqs, vocab, batch_size, window, **kw) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        extract(
            model,
            seqs,
            vocab,
            Path(tmp) / "bench",
            batch_size=batch_size,
            window=window,
            progress=False,
            **kw,
        )
        return time.perf_counter() - began


def bench_model(
    name: str,
    vocab: int,
    emb: int,
    hidden: int,
    seqs: list[np.ndarray],
    batch_size: int,
    window: int,
    repeats: int,
) -> None:
    torch.manual_seed(0)
    model = TokenLM(vocab, emb, hidden, 2).eval()
    words = [f"w{i}" for i in range(vocab)]
    tokens = sum(len(s) for s in seqs)
    plain_forward(model, seqs[:2], batch_size, window)  # warm-up
    variants = {  # name -> extract() options
        "extract h, c": dict(top_k=0, surprisal=False),
        "extract h, c, top-5, surprisal": dict(top_k=5, surprisal=True),
        "extract h only": dict(cell=False, top_k=0, surprisal=False),
    }
    times: dict[str, list[float]] = {"plain forward": [], **{v: [] for v in variants}}
    for _ in range(repeats):  # interleaved: each variant next to a forward of the same moment
        times["plain forward"].append(plain_forward(model, seqs, batch_size, window))
        for label, kw in variants.items():
            times[label].append(timed_extract(model, seqs, words, batch_size, window, **kw))
    print(
        f"{name}: {tokens:,} tokens, 2 x {hidden} LSTM, vocabulary {vocab:,}, "
        f"batch {batch_size} x window {window}, {repeats} rounds"
    )
    forward = np.array(times["plain forward"])
    print(f"  {'plain forward':32s}{tokens / forward.min():>10,.0f} tok/s (best)")
    for label in variants:
        ratios = forward / np.array(times[label])  # per round: the shared machine drifts
        print(
            f"  {label:32s}{tokens / min(times[label]):>10,.0f} tok/s (best)   ratio "
            f"median {np.median(ratios):.2f} [{ratios.min():.2f}..{ratios.max():.2f}]"
        )


def bench_build() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "parens"
        folder.mkdir()
        shutil.copy(ROOT / "datasets" / "parens" / "dataset.yml", folder)
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "hiddenscope.server.cli", "build", str(folder)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        print(
            f"hiddenscope build datasets/parens (training included): "
            f"{time.perf_counter() - began:.1f} s "
            f"on {torch.get_num_threads()} threads"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small corpora, one repeat")
    parser.add_argument("--build", action="store_true", help="also time the parens build")
    parser.add_argument(
        "--char-hidden",
        type=int,
        nargs="+",
        default=[128, 256],
        help="hidden sizes of the char model (128: the code demo's)",
    )
    args = parser.parse_args()
    scale, repeats = (0.15, 1) if args.small else (1.0, 3)
    word = corpus(10_000, max(4, int(64 * scale)), 300)
    bench_model("word model (PTB size)", 10_000, 650, 650, word, 32, 64, repeats)
    chars = corpus(98, max(4, int(128 * scale)), 1500)
    for hidden in args.char_hidden:
        bench_model(f"char model ({hidden} units)", 98, 32, hidden, chars, 32, 256, repeats)
    if args.build:
        bench_build()


if __name__ == "__main__":
    main()
