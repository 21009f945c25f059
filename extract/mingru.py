"""minGRU (Feng et al. 2024, "Were RNNs all we needed?") and a small language model of it.

One layer: ``z_t = sigmoid(W_z x_t)``, ``h~_t = W_h x_t`` (both from ``x_t`` alone, no
``h_{t-1}`` inside the gates), ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t``. Because the
gates do not read ``h``, the recurrence is linear in ``h`` and all steps are solved at
once with a parallel scan (mambapy's Blelloch scan, which also has its backward pass)
for training and extraction; :meth:`MinGRU.step` is the one-token form, used by the
tests as the reference.

A layer's output is its state ``h``, so ``extract(modules={"layer0": "layers.0", ...})``
stores the state of every layer.
"""

from __future__ import annotations

import torch
from mambapy.pscan import pscan
from torch import nn


class MinGRU(nn.Module):
    """``forward(x[B, L, in], h0[B, H] | None) -> h[B, L, H]``; :meth:`step` for one token."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.linear = nn.Linear(input_size, 2 * hidden_size)  # [W_z; W_h]

    def gates(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, h~)`` for ``x[..., in]``: update gate in (0, 1) and candidate state."""
        k, candidate = self.linear(x).chunk(2, dim=-1)
        return torch.sigmoid(k), candidate

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        z, candidate = self.gates(x)
        a = 1 - z  # what each step keeps of h_{t-1}
        b = z * candidate
        if h0 is not None:  # fold the initial state into the first step's input
            b = torch.cat([b[:, :1] + a[:, :1] * h0.unsqueeze(1), b[:, 1:]], dim=1)
        # pscan solves h_t = a_t h_{t-1} + b_t for [B, L, D, N]; here N = 1.
        return pscan(a.unsqueeze(-1).contiguous(), b.unsqueeze(-1).contiguous()).squeeze(-1)

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One token ``x[B, in]`` from state ``h[B, H]``: the next state ``[B, H]``."""
        z, candidate = self.gates(x)
        return (1 - z) * h + z * candidate


class MinGRULM(nn.Module):
    """Embedding -> ``layers`` x MinGRU(``hidden``) -> Linear: next-token logits ``[B, L, V]``.

    Layers are plain stacked minGRUs (the gate's sigmoid is the only nonlinearity between
    layers, as in the paper's minimal form); submodules ``layers.{i}``.
    """

    def __init__(self, vocab_size: int, embedding: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding)
        sizes = [embedding] + [hidden] * layers
        self.layers = nn.ModuleList(
            MinGRU(i, o) for i, o in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.decoder = nn.Linear(hidden, vocab_size)

    @classmethod
    def from_recipe(cls, vocab_size: int, cfg: dict) -> MinGRULM:
        return cls(vocab_size, cfg["embedding"], cfg["hidden"], cfg["layers"])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return self.decoder(x)
