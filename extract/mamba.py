"""A small Mamba language model (mambapy) and the per-step SSM state of its layers.

mambapy's ``MambaBlock.forward`` runs the selective scan in parallel and returns only
the block's output; its step mode (``MambaBlock.step``) carries the state ``h`` of shape
``[B, d_inner, d_state]`` one token at a time. During extraction
:class:`MambaStateTap` replaces the block's forward with the same computation written
out here, which keeps ``h_t`` for every step: from the selective-scan quantities
``deltaA_t = exp(delta_t A)`` and ``deltaB_t x_t`` the linear recurrence
``h_t = deltaA_t * h_{t-1} + deltaB_t x_t`` (from ``h = 0`` at each sequence start) is
solved for all steps at once with mambapy's parallel scan. Output and state come from
one pass; the tests check both against mambapy's own forward and step mode.

What is stored per layer and step (``ssm_state``):

- ``full``: ``h_t`` flattened, ``d_inner x d_state`` floats; column ``c * d_state + n``
  is channel ``c``, state dimension ``n``.
- ``channel``: one float per channel, the state's readout ``sum_n h_t[c, n] C_t[n]``
  (what the state contributes to that channel's output before the skip ``D x`` and the
  gate): ``d_inner`` floats.
- ``auto`` (default): ``full`` when ``d_inner x d_state <= FULL_STATE_MAX`` floats, else
  ``channel``. mamba-130m (d_inner 1536, d_state 16: 24,576 floats per layer and token,
  about 590,000 over its 24 layers) gets ``channel``.
"""

from __future__ import annotations

import torch
from mambapy.mamba import Mamba, MambaBlock, MambaConfig, RMSNorm
from mambapy.pscan import pscan
from torch import nn
from torch.nn import functional as F

from .errors import ExtractError

#: ``ssm_state="auto"`` stores the full state up to this many floats per layer and step.
FULL_STATE_MAX = 2048


class MambaLM(nn.Module):
    """Embedding -> ``layers`` x mambapy ResidualBlock -> RMSNorm -> Linear: logits ``[B, L, V]``.

    Submodules for ``extract(modules=...)``: ``mamba.layers.{i}.mixer`` (the Mamba block,
    output and SSM state) or ``mamba.layers.{i}`` (the residual stream after layer i).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        layers: int,
        d_state: int = 16,
        expand: int = 2,
        d_conv: int = 4,
    ) -> None:
        super().__init__()
        self.config = MambaConfig(
            d_model=d_model, n_layers=layers, d_state=d_state, expand_factor=expand, d_conv=d_conv
        )
        self.embed = nn.Embedding(vocab_size, d_model)
        self.mamba = Mamba(self.config)
        self.norm = RMSNorm(d_model, self.config.rms_norm_eps)
        self.decoder = nn.Linear(d_model, vocab_size)

    @classmethod
    def from_recipe(cls, vocab_size: int, cfg: dict) -> MambaLM:
        return cls(
            vocab_size,
            cfg["d_model"],
            cfg["layers"],
            cfg.get("d_state", 16),
            cfg.get("expand", 2),
            cfg.get("d_conv", 4),
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(self.mamba(self.embed(ids))))


def is_mamba_block(module: nn.Module) -> bool:
    return isinstance(module, MambaBlock)


def state_size(block: MambaBlock) -> int:
    """Floats per step of the full state ``h``: ``d_inner x d_state``."""
    return block.config.d_inner * block.config.d_state


def selective_scan_states(
    block: MambaBlock, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The block's forward on ``x[B, L, d_model]``, keeping the SSM state of every step.

    Returns ``(output float[B, L, d_model], h float[B, L, d_inner, d_state],
    C float[B, L, d_state])``; the output is mambapy's ``MambaBlock.forward(x)``.
    """
    cfg = block.config
    if cfg.use_cuda:
        raise ExtractError("MambaStateTap needs a MambaConfig with use_cuda=False (CPU scan)")
    L = x.shape[1]
    xi, z = block.in_proj(x).chunk(2, dim=-1)  # [B, L, ED] each
    xi = F.silu(block.conv1d(xi.transpose(1, 2))[:, :, :L].transpose(1, 2))
    A = -torch.exp(block.A_log.float())  # [ED, N]
    delta, B, C = torch.split(block.x_proj(xi), [cfg.dt_rank, cfg.d_state, cfg.d_state], dim=-1)
    delta, B, C = block._apply_layernorms(delta, B, C)
    delta = F.softplus(block.dt_proj(delta))  # [B, L, ED]
    delta_a = torch.exp(delta.unsqueeze(-1) * A)  # [B, L, ED, N]
    bx = delta.unsqueeze(-1) * B.unsqueeze(2) * xi.unsqueeze(-1)  # deltaB_t x_t
    h = pscan(delta_a, bx)  # h_t = deltaA_t h_{t-1} + deltaB_t x_t, h_{-1} = 0
    y = (h @ C.unsqueeze(-1)).squeeze(-1) + block.D.float() * xi
    return block.out_proj(y * F.silu(z)), h, C


class MambaStateTap:
    """Replaces one MambaBlock's forward during extraction; keeps its per-step SSM state."""

    def __init__(self, block: MambaBlock, key, mode: str) -> None:
        size = state_size(block)
        self.mode = ("full" if size <= FULL_STATE_MAX else "channel") if mode == "auto" else mode
        self.block, self.key = block, key
        self.dim = size if self.mode == "full" else block.config.d_inner
        cfg = block.config
        self.note = (
            f"  SSM state of {key.name}: d_inner {cfg.d_inner} x d_state {cfg.d_state} = "
            f"{size:,} floats per step; storing {self.mode} ({self.dim:,} per step"
            + (", the readout sum_n h[c, n] C[n] per channel)" if self.mode == "channel" else ")")
        )
        self.captured: torch.Tensor | None = None

    def __enter__(self) -> MambaStateTap:
        self.block.forward = self.forward  # instance attribute shadows the class method
        return self

    def __exit__(self, *exc) -> None:
        del self.block.forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h, C = selective_scan_states(self.block, x)
        if self.mode == "full":
            self.captured = h.reshape(*h.shape[:2], -1)
        else:
            self.captured = (h * C.unsqueeze(2)).sum(-1)
        return out

    def take(self) -> torch.Tensor:
        """``float[B, L, dim]`` of the last call."""
        captured, self.captured = self.captured, None
        return captured
