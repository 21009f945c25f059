"""Tap the recurrent modules of a user's model while its own forward() runs.

During extraction each nn.LSTM / nn.GRU / nn.RNN in the model has its ``forward``
replaced by :meth:`ModuleTap.forward`, which computes the same outputs layer by layer
(recurrent.py) and keeps every layer's per-step states. The model's forward therefore
runs once per batch, with its own embedding, decoder and any glue code, and the states
come out as a side effect: no second pass, no per-lane reruns.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .recurrent import (
    RECURRENT_TYPES,
    ExtractError,
    LayerRunner,
    StateKey,
    check_supported,
    kinds_of,
)


class ModuleTap:
    """Replaces one recurrent module's forward; records ``{StateKey: float[B, L, H]}``.

    ``first_layer`` numbers this module's layers after those of earlier modules.
    Before each model call the extractor sets :attr:`lengths` (``int64[B]`` valid steps
    per row of a padded batch) and :attr:`carry` (final states of the previous window
    of the same rows, or None at the start of the sequences).
    """

    def __init__(
        self, module: nn.Module, name: str, first_layer: int, gates: bool, cell: bool = True
    ) -> None:
        check_supported(module, name)
        self.module, self.name = module, name
        self.is_lstm = isinstance(module, nn.LSTM)
        self.kinds = kinds_of(module, gates, cell)
        self.directions = ("forward", "backward") if module.bidirectional else ("forward",)
        self.first_layer = first_layer
        self.runners = {
            (layer, d): LayerRunner(module, layer, d == "backward")
            for layer in range(module.num_layers)
            for d in self.directions
        }
        self.keys = [
            StateKey(first_layer + layer, d, kind)
            for layer in range(module.num_layers)
            for d in self.directions
            for kind in self.kinds
        ]
        self.lengths: torch.Tensor | None = None
        self.carry: dict | None = None
        self.captured: dict[StateKey, torch.Tensor] = {}
        self.final: dict[tuple[int, str], tuple[torch.Tensor, ...]] = {}

    def __enter__(self) -> ModuleTap:
        self.module.forward = self.forward  # instance attribute shadows the class method
        return self

    def __exit__(self, *exc) -> None:
        del self.module.forward

    def _lengths_for(self, B: int, L: int) -> torch.Tensor:
        if self.lengths is None:
            return torch.full((B,), L, dtype=torch.int64)
        if self.lengths.shape[0] != B or int(self.lengths.max()) > L:
            raise ExtractError(
                f"{self.name} received a batch of shape [B={B}, L={L}] but the extractor fed "
                f"{self.lengths.shape[0]} sequences of up to {int(self.lengths.max())} steps; "
                "the model must keep one row per sequence and one step per token "
                "(or pass forward_fn / return per-step states from forward())"
            )
        return self.lengths

    def _initial(self, hx, layer: int, d: str, index: int) -> tuple[torch.Tensor, ...] | None:
        """Initial state of one layer/direction: the extractor's carry, else the model's hx."""
        if self.carry is not None:
            return self.carry[(layer, d)]
        if hx is None:
            return None
        if self.is_lstm:
            return (hx[0][index], hx[1][index])
        return (hx[index],)

    def forward(self, input, hx=None):
        """Same contract as the tapped module's forward (padded tensor or PackedSequence)."""
        if self.captured:
            raise ExtractError(
                f"{self.name} was called twice in one forward(); tap a model that runs each "
                "recurrent module once per batch, or return per-step states from forward()"
            )
        packed = isinstance(input, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(input, batch_first=True)
        else:
            if input.dim() != 3:
                raise ExtractError(
                    f"{self.name}: expected a batched 3-D input, got shape {tuple(input.shape)}"
                )
            x = input if self.module.batch_first else input.transpose(0, 1)
            lengths = self._lengths_for(x.shape[0], x.shape[1])
        layer_in, finals = x, []
        for layer in range(self.module.num_layers):
            outs = []
            for j, d in enumerate(self.directions):
                index = layer * len(self.directions) + j
                init = self._initial(hx, layer, d, index)
                states, final = self.runners[(layer, d)].run(layer_in, lengths, init, self.kinds)
                for kind, value in states.items():
                    self.captured[StateKey(self.first_layer + layer, d, kind)] = value
                self.final[(layer, d)] = final
                finals.append(final)
                outs.append(states["hidden"])
            layer_in = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
        # The model may change its LSTM output in place (x += residual): hand it a copy,
        # never the tensor we store.
        out = layer_in.clone() if len(self.directions) == 1 else layer_in
        return self._outputs(out, lengths, finals, packed)

    def _outputs(self, out: torch.Tensor, lengths: torch.Tensor, finals: list, packed: bool):
        h_n = torch.stack([f[0] for f in finals])
        if packed:
            out = pack_padded_sequence(out, lengths.cpu(), batch_first=True, enforce_sorted=False)
        elif not self.module.batch_first:
            out = out.transpose(0, 1)
        if self.is_lstm:
            return out, (h_n, torch.stack([f[1] for f in finals]))
        return out, h_n

    def take(self) -> dict[StateKey, torch.Tensor]:
        """Hand over the states of the last call and clear them for the next."""
        captured, self.captured = self.captured, {}
        return captured


def find_taps(model: nn.Module, gates: bool, cell: bool = True) -> list[ModuleTap]:
    """A tap for every recurrent module of ``model``, layers numbered in module order."""
    taps, layer = [], 0
    for name, module in model.named_modules():
        if isinstance(module, RECURRENT_TYPES):
            taps.append(ModuleTap(module, name or type(module).__name__, layer, gates, cell))
            layer += module.num_layers
    return taps
