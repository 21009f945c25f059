"""Extraction through module hooks next to the model's plain forward; LSTMVis §6.1 on a data set.

Speed (default): for the minGRU and Mamba recipe models (untrained, the recipes' sizes)
and the parens LSTM with a hook on its nn.LSTM, on the same length-sorted batches in one
process, alternating rounds:

- plain forward: ``model(ids)`` over whole padded batches under ``torch.inference_mode``;
- extraction: ``hiddenscope.extract.extract(modules=...)`` writing every hooked output
  (and, for Mamba "with states", the full SSM state of each layer) to a data set folder,
  HDF5 writes included, without top-K/surprisal.

It prints tokens/s and the ratio extraction / plain forward per round, with the median
(targets: >= 0.8 through hooks, >= 0.3 for Mamba with states), by wall time and by the
process's CPU time (all threads), which a loaded machine disturbs less.

``--depth FOLDER...`` reproduces LSTMVis §6.1 on built parens data sets (any source
kind): ``bench_findings.py --parens`` (see there).

    .venv/bin/python bench/bench_hooks.py [--rounds 3] [--tokens 40000]
    .venv/bin/python bench/bench_hooks.py --depth datasets/parens-mamba datasets/parens-mingru
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_findings import lstmvis_61  # noqa: E402  (bench/ is the script's folder)
from hiddenscope.extract import extract  # noqa: E402
from hiddenscope.extract.batches import pad_batch, plan_batches  # noqa: E402
from hiddenscope.extract.corpora import PARENS_VOCAB, parens_sequences, to_ids  # noqa: E402
from hiddenscope.extract.mamba import MambaLM  # noqa: E402
from hiddenscope.extract.mingru import MinGRULM  # noqa: E402
from hiddenscope.extract.train import TokenLM  # noqa: E402

VOCAB = PARENS_VOCAB[:7]


def models() -> list[tuple[str, torch.nn.Module, dict, str]]:
    """``(label, model, modules, ssm_state)`` at the recipes' sizes."""
    torch.manual_seed(0)
    mamba = MambaLM(len(VOCAB), 32, 2, d_state=8).eval()
    mixers = {f"mixer{i}": f"mamba.layers.{i}.mixer" for i in range(2)}
    return [
        (
            "minGRU 3x64, h of each layer",
            MinGRULM(len(VOCAB), 16, 64, 3).eval(),
            {f"mingru{i}": f"layers.{i}" for i in range(3)},
            "none",
        ),
        ("Mamba 2x32, mixer outputs", mamba, mixers, "none"),
        ("Mamba 2x32, with states (2 x 512)", mamba, mixers, "full"),
        (
            "LSTM 2x64, hook on nn.LSTM",
            TokenLM(len(VOCAB), 16, 64, 2).eval(),
            {"lstm": "lstm"},
            "none",
        ),
    ]


def plain_forward(model, seqs, batch_size: int, window: int) -> tuple[float, float]:
    """Wall and CPU seconds for ``model(ids)`` over the batches extract() runs (whole
    sequences)."""
    lengths = np.array([len(s) for s in seqs])
    began, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        for batch in plan_batches(lengths, batch_size, batch_size * window):
            model(torch.from_numpy(pad_batch([seqs[i] for i in batch])))
    return time.perf_counter() - began, time.process_time() - cpu


def hooked(model, seqs, modules, ssm_state, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds (all threads: the writer thread too) of the whole extraction."""
    began, cpu = time.perf_counter(), time.process_time()
    extract(
        model,
        seqs,
        VOCAB,
        out,
        modules=modules,
        ssm_state=ssm_state,
        top_k=0,
        surprisal=False,
        force=True,
        progress=False,
    )
    return time.perf_counter() - began, time.process_time() - cpu


def speed(rounds: int, tokens: int, only: str | None) -> None:
    seqs, _ = parens_sequences(max(1, tokens // 250), 250, 4, 0)
    ids = to_ids(seqs, VOCAB, None)
    T = sum(map(len, ids))
    print(
        f"{T:,} tokens, batch 32, torch threads {torch.get_num_threads()}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    try:
        for label, model, modules, ssm_state in models():
            if only and only not in label:
                continue
            walls, cpus = [], []
            for r in range(rounds):
                plain, plain_cpu = plain_forward(model, ids, 32, 256)
                took, took_cpu = hooked(model, ids, modules, ssm_state, tmp / "ds")
                walls.append(plain / took)
                cpus.append(plain_cpu / took_cpu)
                print(
                    f"  {label:<38} round {r}: plain {T / plain:>9,.0f} tok/s  "
                    f"extract {T / took:>9,.0f} tok/s  ratio {walls[-1]:.2f} "
                    f"(CPU time {cpus[-1]:.2f})"
                )
            print(
                f"{label:<40} median ratio {statistics.median(walls):.2f} "
                f"(range {min(walls):.2f}-{max(walls):.2f}); by CPU time "
                f"{statistics.median(cpus):.2f} ({min(cpus):.2f}-{max(cpus):.2f})"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tokens", type=int, default=40_000)
    p.add_argument("--depth", nargs="+", type=Path, help="built parens data set folders")
    p.add_argument("--only", help="run the models whose label contains this text")
    p.add_argument("--phrases", type=int, default=5)
    p.add_argument("--pad", type=int, default=1, help="padding left and right (default 1)")
    p.add_argument("--thresholds", default="0.1,0.3,0.5")
    a = p.parse_args()
    if a.depth:
        for folder in a.depth:
            thresholds = [float(x) for x in a.thresholds.split(",")]
            lstmvis_61(folder.resolve(), a.phrases, thresholds, a.pad)
    else:
        speed(a.rounds, a.tokens, a.only)


if __name__ == "__main__":
    main()
