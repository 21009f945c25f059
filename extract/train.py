"""The demo language model and its training: a small LSTM LM trained on the spot.

Training is truncated back-propagation through time over the corpus as one stream split
into ``batch_size`` lanes, the state carried (detached) from window to window, as the
LSTMVis models were trained: a string literal or a bracket opened in one window is still
open in the next, so the model can learn state that outlives ``bptt``. Fixed seed, so a
recipe gives the same model every time on the same machine. Progress shows tokens/s and
the running loss; at the end of every epoch (one pass over the lanes) a line reports the
epoch's training bits per token and, with ``train.heldout``, the bits per token on held-out
sequences (every k-th sequence, never trained on).

Optional ``build.train`` keys (absent: the behaviour the recipes were tuned with):
``clip`` (gradient norm, default 1.0), ``heldout`` (fraction of the sequences kept out),
``schedule`` (``constant`` | ``cosine`` | ``linear`` decay to ``lr * final_lr`` over the
steps, after ``warmup`` steps of linear warm-up), ``eval_every`` (also evaluate every that
many steps). ``build.model.output_dropout`` drops LSTM outputs before the decoder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .recurrent import ExtractError

LN2 = math.log(2.0)
SCHEDULES = ("constant", "cosine", "linear")


class TokenLM(nn.Module):
    """Embedding -> ``layers`` x LSTM(``hidden``) -> Linear: next-token logits ``[B, L, V]``.

    ``dropout`` acts between stacked layers; ``output_dropout`` on the last layer's output
    (the only place a one-layer model can use it). Neither adds weights.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding: int,
        hidden: int,
        layers: int,
        dropout: float = 0.0,
        output_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding)
        self.lstm = nn.LSTM(
            embedding, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.decoder = nn.Linear(hidden, vocab_size)
        self.output_dropout = float(output_dropout)

    @classmethod
    def from_recipe(cls, vocab_size: int, model_cfg: dict) -> TokenLM:
        """The model of a recipe's ``build.model`` section (untrained)."""
        return cls(
            vocab_size,
            model_cfg["embedding"],
            model_cfg["hidden"],
            model_cfg["layers"],
            model_cfg.get("dropout", 0.0),
            model_cfg.get("output_dropout", 0.0),
        )

    def forward(self, ids: torch.Tensor, state=None):
        out, state = self.lstm(self.embed(ids), state)
        if self.output_dropout > 0 and self.training:
            # skipped at p=0, so the recipes tuned before it existed run exactly as before
            out = nn.functional.dropout(out, self.output_dropout, training=True)
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


def split_heldout(ids: list[np.ndarray], fraction: float) -> tuple[list, list]:
    """``(train, heldout)``: every k-th sequence (k = round(1/fraction)) is held out, so the
    held-out files come from all over the corpus, not only its (sorted) tail."""
    if not 0 < fraction < 1:
        raise ExtractError(f"build.train.heldout={fraction} must be a fraction between 0 and 1")
    if len(ids) < 2:
        raise ExtractError(
            "build.train.heldout needs at least 2 sequences to keep one out; "
            f"the corpus has {len(ids)}"
        )
    k = max(2, round(1 / fraction))
    held = set(range(k - 1, len(ids), k)) or {len(ids) - 1}
    return [s for i, s in enumerate(ids) if i not in held], [ids[i] for i in sorted(held)]


@torch.no_grad()
def bits_per_token(
    model: TokenLM, ids: list[np.ndarray], batch_size: int = 16, window: int = 256
) -> float:
    """Mean ``-log2 p(token | tokens before it)`` over every token but the first of each
    sequence; each sequence is read from the zero state on its own (padding masked out)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # similar lengths per batch
    for b in range(0, len(order), batch_size):
        batch = [ids[i] for i in order[b : b + batch_size]]
        length = max(len(s) for s in batch)
        x = torch.zeros(len(batch), length, dtype=torch.long)
        mask = torch.zeros(len(batch), length, dtype=torch.bool)
        for j, s in enumerate(batch):
            x[j, : len(s)] = torch.from_numpy(s)
            mask[j, : len(s)] = True
        state = None
        for a in range(0, length - 1, window):
            inp, tgt = x[:, a : a + window], x[:, a + 1 : a + window + 1]
            logits, state = model(inp[:, : tgt.shape[1]], state)
            nll = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none"
            )
            keep = mask[:, a + 1 : a + window + 1].reshape(-1)
            total += float(nll[keep].sum())
            count += int(keep.sum())
    model.train(was_training)
    return total / max(count, 1) / LN2


def lr_factor(step: int, steps: int, train_cfg: dict) -> float:
    """Multiplier of ``lr`` at ``step`` (0-based): linear warm-up, then the schedule."""
    schedule = train_cfg.get("schedule", "constant")
    if schedule not in SCHEDULES:
        raise ExtractError(
            f"build.train.schedule {schedule!r} is unknown; use {', '.join(SCHEDULES)}"
        )
    warmup = int(train_cfg.get("warmup", 0))
    if step < warmup:
        return (step + 1) / warmup
    final = float(train_cfg.get("final_lr", 0.1))
    done = (step - warmup) / max(1, steps - warmup - 1)
    if schedule == "cosine":
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
    if schedule == "linear":
        return 1 - (1 - final) * min(done, 1.0)
    return 1.0


def train_lm(
    ids: list[np.ndarray],
    vocab_size: int,
    model_cfg: dict,
    train_cfg: dict,
    seed: int,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> TokenLM:
    """Train a :class:`TokenLM` for ``train_cfg['steps']`` windows of ``bptt`` tokens per lane.

    ``echo`` receives one line per epoch (and per ``eval_every`` steps); the lines are also
    kept as ``model.history`` (dicts: step, epoch, train and held-out bits per token, lr, s).
    """
    torch.manual_seed(seed)
    model = TokenLM.from_recipe(vocab_size, model_cfg)
    heldout = []
    if train_cfg.get("heldout"):
        ids, heldout = split_heldout(ids, float(train_cfg["heldout"]))
    data = lanes(ids, train_cfg["batch_size"])
    bptt, steps = train_cfg["bptt"], train_cfg["steps"]
    lr = train_cfg["lr"]
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    eval_every = int(train_cfg.get("eval_every", 0))
    say = echo or (print if progress else (lambda line: None))
    model.train()
    state, pos, avg, epoch = None, 0, None, 1
    model.history = []
    sums = [0.0, 0]  # this epoch's training loss (nats) and windows

    def report(step: int, why: str) -> None:
        entry = {
            "step": step,
            "epoch": epoch,
            "train_bits": sums[0] / max(sums[1], 1) / LN2,
            "heldout_bits": bits_per_token(model, heldout, window=bptt * 2) if heldout else None,
            "lr": optim.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - start, 1),
        }
        model.history.append(entry)
        held = f", held-out {entry['heldout_bits']:.3f}" if heldout else ""
        line = (
            f"{why} {epoch} (step {step}/{steps}): train {entry['train_bits']:.3f}{held} "
            f"bits/token, lr {entry['lr']:.2e}, {entry['seconds']:.0f} s"
        )
        with tqdm.external_write_mode():  # the line above the progress bar, not through it
            say(line)

    bar = tqdm(range(steps), desc="training", unit="step", disable=not progress, mininterval=0.5)
    start = time.perf_counter()
    for step in bar:
        if pos + bptt + 1 > data.shape[1]:
            report(step, "epoch")
            state, pos, epoch, sums = None, 0, epoch + 1, [0.0, 0]  # start the lanes over
        for group in optim.param_groups:
            group["lr"] = lr * lr_factor(step, steps, train_cfg)
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
        sums[0] += loss.item()
        sums[1] += 1
        rate = (step + 1) * x.numel() / (time.perf_counter() - start)
        bar.set_postfix(loss=f"{avg:.3f}", tok_s=f"{rate:,.0f}", refresh=False)
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            report(step + 1, "partial epoch")
    report(steps, "end, epoch")
    model.eval()
    model.final_loss = avg
    return model


def recipe_hash(parts: dict) -> str:
    """A stable digest of what determines the trained weights."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def reuse_or_train(
    checkpoint: Path,
    key: str,
    make: Callable[[], nn.Module],
    train: Callable[[], nn.Module],
) -> tuple[nn.Module, bool]:
    """Reuse ``checkpoint`` when it was trained from the same recipe (``key``): ``make()``
    an untrained model and load its weights; else ``train()`` a model and save it.

    Weights only (``torch.load(weights_only=True)``), written under a temporary name and
    renamed, so an interrupted training leaves no checkpoint that looks complete. A trained
    model's ``history`` (a list of dicts), when it has one, is saved with the weights and
    restored on reuse. Returns ``(model, trained_now)``.
    """
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if saved.get("key") == key:
            model = make()
            model.load_state_dict(saved["weights"])
            if "history" in saved:
                model.history = json.loads(saved["history"])
            return model.eval(), False
    model = train()
    body = {"key": key, "weights": model.state_dict()}
    if hasattr(model, "history"):
        body["history"] = json.dumps(model.history)
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    torch.save(body, tmp)
    os.replace(tmp, checkpoint)
    return model, True


def load_or_train(
    checkpoint: Path,
    key: str,
    ids,
    vocab_size,
    model_cfg,
    train_cfg,
    seed,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> tuple[TokenLM, bool]:
    """The recipe's LSTM language model: reused from ``checkpoint`` when it was trained from
    the same recipe (``key``), else trained by :func:`train_lm` (see :func:`reuse_or_train`).
    Its training history (``model.history``) is kept; a checkpoint saved without one gives
    ``[]``. Returns ``(model, trained_now)``.
    """

    def make() -> TokenLM:
        model = TokenLM.from_recipe(vocab_size, model_cfg)
        model.history = []
        return model

    return reuse_or_train(
        checkpoint,
        key,
        make,
        lambda: train_lm(ids, vocab_size, model_cfg, train_cfg, seed, progress, echo),
    )
