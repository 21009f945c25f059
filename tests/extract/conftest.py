"""Tiny models and corpora shared by the extractor tests (hidden 8-16, a few hundred tokens)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch import nn

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
torch.set_num_threads(1)


class TinyLM(nn.Module):
    """Embedding -> recurrent stack -> Linear; ``forward(ids)`` in the stack's own layout."""

    def __init__(
        self,
        vocab: int,
        hidden: int = 12,
        layers: int = 2,
        kind=nn.LSTM,
        bidirectional: bool = False,
        batch_first: bool = True,
    ) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 6)
        self.rnn = kind(6, hidden, layers, batch_first=batch_first, bidirectional=bidirectional)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(self.emb(ids))[0])


VOCAB = ["a", "b", "c", "d", "e", "f", "g"]


def random_sequences(seed: int, n: int = 9, max_len: int = 23) -> list[list[int]]:
    """Variable-length id sequences, including length 1."""
    rng = np.random.default_rng(seed)
    lengths = [1] + rng.integers(2, max_len, size=n - 1).tolist()
    return [rng.integers(0, len(VOCAB), size=L).tolist() for L in lengths]


@pytest.fixture
def tiny_lm():
    torch.manual_seed(0)
    return TinyLM(len(VOCAB))
