"""Training for the recipe models that carry no state between windows (Mamba, minGRU).

The corpus is one stream in ``batch_size`` lanes (train.py's :func:`lanes`); each step
trains on the next ``bptt`` tokens of every lane from the zero state, as the extractor
runs each sequence from the zero state. Adam, gradient clipping, fixed seed; progress
shows tokens/s and the running loss. Checkpoints are reused while the recipe is unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .errors import ExtractError
from .train import lanes, reuse_or_train


def model_class(kind: str) -> type[nn.Module]:
    """The model class of ``build.model.kind`` (``mamba`` or ``mingru``)."""
    if kind == "mamba":
        from .mamba import MambaLM

        return MambaLM
    if kind == "mingru":
        from .mingru import MinGRULM

        return MinGRULM
    raise ExtractError(f"build.model.kind {kind!r} is unknown; use lstm, mamba or mingru")


def train_windows(
    model: nn.Module, ids: list[np.ndarray], vocab_size: int, train_cfg: dict, progress: bool
) -> nn.Module:
    """Train ``model`` (``forward(ids[B, L]) -> logits[B, L, V]``) for ``train_cfg['steps']``."""
    data = lanes(ids, train_cfg["batch_size"])
    bptt, steps = train_cfg["bptt"], train_cfg["steps"]
    if bptt + 1 > data.shape[1]:
        raise ExtractError(
            f"build.train.bptt={bptt} is longer than a lane ({data.shape[1]} tokens); "
            "lower bptt or batch_size"
        )
    optim = torch.optim.Adam(model.parameters(), lr=train_cfg["lr"])
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    pos, avg = 0, None
    bar = tqdm(range(steps), desc="training", unit="step", disable=not progress, mininterval=0.5)
    start = time.perf_counter()
    for step in bar:
        if pos + bptt + 1 > data.shape[1]:
            pos = 0  # next epoch
        x, y = data[:, pos : pos + bptt], data[:, pos + 1 : pos + bptt + 1]
        pos += bptt
        loss = loss_fn(model(x).reshape(-1, vocab_size), y.reshape(-1))
        optim.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), train_cfg.get("clip", 1.0))
        optim.step()
        avg = loss.item() if avg is None else 0.95 * avg + 0.05 * loss.item()
        rate = (step + 1) * x.numel() / (time.perf_counter() - start)
        bar.set_postfix(loss=f"{avg:.3f}", tok_s=f"{rate:,.0f}", refresh=False)
    model.eval()
    model.final_loss = avg
    return model


def load_or_train_recipe(
    checkpoint: Path,
    key: str,
    ids,
    vocab_size: int,
    model_cfg: dict,
    train_cfg: dict,
    seed: int,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> tuple[nn.Module, bool]:
    """The model of a recipe whose ``build.model.kind`` is ``mamba`` or ``mingru``
    (the arguments of train.py's ``load_or_train``)."""
    cls = model_class(model_cfg["kind"])

    def make() -> nn.Module:
        torch.manual_seed(seed)
        return cls.from_recipe(vocab_size, model_cfg)

    def train() -> nn.Module:
        model = train_windows(make(), ids, vocab_size, train_cfg, progress)
        if echo is not None:
            echo(f"training loss {model.final_loss / np.log(2):.3f} bits per token (running mean)")
        return model

    return reuse_or_train(checkpoint, key, make, train)
