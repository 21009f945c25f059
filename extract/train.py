"""The demo language model and its training: a small LSTM LM trained on the spot.

Training is truncated back-propagation through time over the corpus as one stream split
into ``batch_size`` lanes, the state carried (detached) from window to window, as the
LSTMVis models were trained. Fixed seed, so a recipe gives the same model every time on
the same machine. Progress shows tokens/s and the running loss.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .recurrent import ExtractError


class TokenLM(nn.Module):
    """Embedding -> ``layers`` x LSTM(``hidden``) -> Linear: next-token logits ``[B, L, V]``."""

    def __init__(
        self, vocab_size: int, embedding: int, hidden: int, layers: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding)
        self.lstm = nn.LSTM(
            embedding, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.decoder = nn.Linear(hidden, vocab_size)

    @classmethod
    def from_recipe(cls, vocab_size: int, model_cfg: dict) -> TokenLM:
        """The model of a recipe's ``build.model`` section (untrained)."""
        return cls(
            vocab_size,
            model_cfg["embedding"],
            model_cfg["hidden"],
            model_cfg["layers"],
            model_cfg.get("dropout", 0.0),
        )

    def forward(self, ids: torch.Tensor, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.decoder(out), state


def lanes(ids: list[np.ndarray], batch_size: int) -> torch.Tensor:
    """The corpus as one stream cut into ``batch_size`` equal lanes: ``int64[B, n]``."""
    stream = np.concatenate(ids)
    n = len(stream) // batch_size
    if n < 2:
        raise ExtractError(
            f"the training corpus ({len(stream)} tokens) is too small for batch_size={batch_size}"
        )
    return torch.from_numpy(stream[: n * batch_size].reshape(batch_size, n))


def train_lm(
    ids: list[np.ndarray],
    vocab_size: int,
    model_cfg: dict,
    train_cfg: dict,
    seed: int,
    progress: bool = True,
) -> TokenLM:
    """Train a :class:`TokenLM` for ``train_cfg['steps']`` windows of ``bptt`` tokens per lane."""
    torch.manual_seed(seed)
    model = TokenLM.from_recipe(vocab_size, model_cfg)
    data = lanes(ids, train_cfg["batch_size"])
    bptt, steps = train_cfg["bptt"], train_cfg["steps"]
    optim = torch.optim.Adam(model.parameters(), lr=train_cfg["lr"])
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    state, pos, avg = None, 0, None
    bar = tqdm(range(steps), desc="training", unit="step", disable=not progress, mininterval=0.5)
    start = time.perf_counter()
    for step in bar:
        if pos + bptt + 1 > data.shape[1]:
            state, pos = None, 0  # next epoch: start the lanes over
        x, y = data[:, pos : pos + bptt], data[:, pos + 1 : pos + bptt + 1]
        pos += bptt
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = loss_fn(logits.reshape(-1, vocab_size), y.reshape(-1))
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


def recipe_hash(parts: dict) -> str:
    """A stable digest of what determines the trained weights."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def load_or_train(
    checkpoint: Path, key: str, ids, vocab_size, model_cfg, train_cfg, seed, progress: bool = True
) -> tuple[TokenLM, bool]:
    """Reuse ``checkpoint`` when it was trained from the same recipe (``key``), else train.

    The checkpoint is written under a temporary name and renamed, so an interrupted
    training leaves no checkpoint that looks complete. Returns ``(model, trained_now)``.
    """
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if saved.get("key") == key:
            model = TokenLM.from_recipe(vocab_size, model_cfg)
            model.load_state_dict(saved["weights"])
            return model.eval(), False
    model = train_lm(ids, vocab_size, model_cfg, train_cfg, seed, progress)
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    torch.save({"key": key, "weights": model.state_dict()}, tmp)
    os.replace(tmp, checkpoint)
    return model, True
