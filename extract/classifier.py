"""A recurrent sentence classifier and its training, with checkpoints kept through training.

:class:`SequenceClassifier` reads one token per step and scores the classes after every
step (``logits[b, t]`` = the class scores of the prefix ``x_1 .. x_t``), so the prediction
for a sentence is the score at its last token, and the score of every prefix comes out
of the same pass. It is trained on the last step of each sentence only.

Checkpoints are ``state_dict`` files (``torch.save`` of tensors only), read back with
``torch.load(weights_only=True)`` into the architecture the data set's ``model:`` section
names (live.py); nothing pickles a Python object.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .recurrent import ExtractError

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class SequenceClassifier(nn.Module):
    """Embedding -> ``layers`` x LSTM/GRU/RNN(``hidden``) -> Linear(``classes``) at every step.

    ``forward(ids int64[B, L])`` -> ``float[B, L, C]`` class logits per prefix.
    """

    def __init__(
        self,
        vocab_size: int,
        classes: int,
        embedding: int,
        hidden: int,
        layers: int = 1,
        cell: str = "lstm",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ExtractError(f"model cell {cell!r} is unknown; use one of {', '.join(CELLS)}")
        self.embed = nn.Embedding(vocab_size, embedding)
        self.rnn = CELLS[cell](embedding, hidden, layers, batch_first=True)
        self.decoder = nn.Linear(hidden, classes)

    @classmethod
    def from_config(cls, config: dict) -> SequenceClassifier:
        """The architecture of a checkpoint's ``config`` mapping (untrained weights)."""
        try:
            return cls(
                int(config["vocab_size"]),
                int(config["classes"]),
                int(config["embedding"]),
                int(config["hidden"]),
                int(config.get("layers", 1)),
                str(config.get("cell", "lstm")),
            )
        except KeyError as exc:
            raise ExtractError(
                f"classifier config lacks {exc.args[0]!r}; it needs vocab_size, classes, "
                "embedding, hidden (and optionally layers, cell)"
            ) from None

    def from_embeddings(self, emb: torch.Tensor) -> torch.Tensor:
        """``emb float[B, L, E]`` -> class logits ``float[B, L, C]``."""
        out, _ = self.rnn(emb)
        return self.decoder(out)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.from_embeddings(self.embed(ids))


def pad(ids: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(int64[B, Lmax] padded with 0, int64[B] lengths)``; padding comes after each row,
    so a unidirectional model's outputs at valid steps do not see it."""
    lengths = torch.tensor([len(s) for s in ids], dtype=torch.int64)
    out = torch.zeros((len(ids), int(lengths.max())), dtype=torch.int64)
    for i, s in enumerate(ids):
        out[i, : len(s)] = torch.as_tensor(s)
    return out, lengths


def last_logits(logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``logits[b, lengths[b]-1]``: the scores of each whole sentence, ``float[B, C]``."""
    return logits[torch.arange(len(lengths)), lengths - 1]


def checkpoint_steps(steps: int, keep: int) -> list[int]:
    """``keep`` steps through training, each twice the one before, the last ``steps``
    (6 of 400: 12, 25, 50, 100, 200, 400): a model learns most early, so that is where
    the checkpoints show it changing."""
    if keep < 1 or steps < 1:
        raise ExtractError(f"train.steps={steps} and train.checkpoints={keep} must be >= 1")
    return sorted({max(1, int(round(steps / 2 ** (keep - 1 - i)))) for i in range(keep)})


def train_classifier(
    ids: list[np.ndarray],
    labels: np.ndarray,
    config: dict,
    train_cfg: dict,
    seed: int,
    save,
    progress: bool = True,
) -> SequenceClassifier:
    """Train with Adam on random mini-batches; ``save(model, step)`` at each checkpoint step.

    ``config`` is the architecture (see :meth:`SequenceClassifier.from_config`);
    ``train_cfg``: ``steps``, ``batch_size``, ``lr``, ``checkpoints`` (default 6), ``clip``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SequenceClassifier.from_config(config)
    steps, batch = int(train_cfg["steps"]), int(train_cfg["batch_size"])
    marks = set(checkpoint_steps(steps, int(train_cfg.get("checkpoints", 6))))
    optim = torch.optim.Adam(model.parameters(), lr=float(train_cfg["lr"]))
    loss_fn = nn.CrossEntropyLoss()
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    model.train()
    avg, start = None, time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc=f"training {config.get('cell', 'lstm')}", unit="step",
               disable=not progress, mininterval=0.5)  # fmt: skip
    for step in bar:
        pick = rng.integers(len(ids), size=batch)
        x, lengths = pad([ids[i] for i in pick])
        loss = loss_fn(last_logits(model(x), lengths), targets[pick])
        optim.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), float(train_cfg.get("clip", 1.0)))
        optim.step()
        avg = loss.item() if avg is None else 0.95 * avg + 0.05 * loss.item()
        rate = step * batch / (time.perf_counter() - start)
        bar.set_postfix(loss=f"{avg:.3f}", sent_s=f"{rate:,.0f}", refresh=False)
        if step in marks:
            model.eval()
            save(model, step)
            model.train()
    return model.eval()


def save_weights(model: nn.Module, path: Path) -> None:
    """``torch.save`` of the state dict (tensors only), atomically (temporary name, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)


@torch.no_grad()
def predict(model: nn.Module, ids: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Class probabilities of each whole sequence, ``float32[N, C]``."""
    model.eval()
    out = []
    for a in range(0, len(ids), batch_size):
        x, lengths = pad(ids[a : a + batch_size])
        out.append(torch.softmax(last_logits(model(x), lengths), -1).numpy())
    return np.concatenate(out).astype(np.float32)
