"""Call a user's model on one window of a batch and collect states and logits.

Two kinds of model are accepted: one with nn.LSTM / nn.GRU / nn.RNN modules (tapped,
tap.py), or one whose forward returns its per-step states itself as
``{"states": {"layer0-hidden": float[B, L, D], ...}, "logits": float[B, L, V]}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import ExitStack

import numpy as np
import torch
from torch import nn

from .recurrent import ExtractError, StateKey
from .tap import find_taps

STATE_NAME = re.compile(r"layer(\d+)(-backward)?-([A-Za-z_]\w*)$")


def logits_of(output: object) -> torch.Tensor | None:
    """The logits in a model's output: the tensor itself, a tuple's first, or ``["logits"]``."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        return output.get("logits")
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def parse_state_name(name: str) -> StateKey:
    """``layer1-backward-cell`` -> StateKey(1, "backward", "cell")."""
    m = STATE_NAME.match(name)
    if not m:
        raise ExtractError(
            f"state name {name!r} returned by forward() must look like 'layer0-hidden' or "
            "'layer1-backward-cell' (layer number, optional '-backward', kind)"
        )
    return StateKey(int(m.group(1)), "backward" if m.group(2) else "forward", m.group(3))


class ModelCaller:
    """Runs ``model`` on ``ids[n, W]`` windows; knows the layout, the windowing and the taps."""

    def __init__(
        self,
        model: nn.Module,
        gates: bool,
        forward_fn,
        input_batch_first: bool | None,
        window: int,
        batch_size: int,
        cell: bool = True,
    ) -> None:
        if batch_size < 1 or window < 1:
            raise ExtractError(f"batch_size={batch_size} and window={window} must be at least 1")
        self.model, self.forward_fn = model, forward_fn
        self.taps = find_taps(model, gates, cell)
        first = self.taps[0].module.batch_first if self.taps else True
        self.batch_first = first if input_batch_first is None else input_batch_first
        # Only a forward-only model can carry its state across windows of a sequence.
        streaming = bool(self.taps) and not any(t.module.bidirectional for t in self.taps)
        self.window = window if streaming else None
        self.max_tokens = None if streaming else batch_size * window
        self.batch_size = batch_size
        param = next(model.parameters(), None)
        self.device = param.device if param is not None else torch.device("cpu")
        self._probe_out: tuple | None = None

    def enter(self, stack: ExitStack) -> None:
        for tap in self.taps:
            stack.enter_context(tap)

    def _probe(self, seq: np.ndarray) -> tuple:
        """One short call (first few tokens) to learn the state tables and the logits' shape."""
        if self._probe_out is None:
            ids = seq[None, : min(len(seq), 4)]
            with ExitStack() as stack, torch.inference_mode():
                self.enter(stack)
                states, logits, _ = self.call(ids, np.array([ids.shape[1]]), None)
            self._probe_out = (states, logits, ids.shape)
        return self._probe_out

    def sources(self, seq: np.ndarray) -> list[tuple[StateKey, int]]:
        """``(StateKey, D)`` for every state table, in a stable order."""
        if self.taps:
            return [(key, t.module.hidden_size) for t in self.taps for key in t.keys]
        states, _, _ = self._probe(seq)
        return [(key, int(v.shape[-1])) for key, v in states.items()]

    def has_logits(self, seq: np.ndarray, vocab_size: int) -> bool:
        _, logits, shape = self._probe(seq)
        return logits is not None and tuple(logits.shape) == (*shape, vocab_size)

    def call(self, ids: np.ndarray, lengths: np.ndarray, carry: list | None) -> tuple:
        """Run ``ids[n, W]`` (row i valid for ``lengths[i]`` steps) from ``carry``.

        Returns ``({StateKey: float[n, W, D]}, logits float[n, W, V] or None, carry)``.
        """
        x = torch.from_numpy(np.ascontiguousarray(ids)).to(self.device)
        lens = torch.from_numpy(np.asarray(lengths, dtype=np.int64))
        n = x.shape[0]
        for i, tap in enumerate(self.taps):
            tap.lengths = lens
            tap.carry = (
                None if carry is None else {k: tuple(s[:n] for s in v) for k, v in carry[i].items()}
            )
        inp = x if self.batch_first else x.t()
        output = self.forward_fn(self.model, inp, lens) if self.forward_fn else self.model(inp)
        logits = logits_of(output)
        if logits is not None and not self.batch_first and logits.dim() == 3:
            logits = logits.transpose(0, 1)
        if not self.taps:
            return self._returned_states(output), logits, None
        states = {}
        for tap in self.taps:
            taken = tap.take()
            if not taken:
                raise ExtractError(
                    f"the model's forward() never called its recurrent module {tap.name}"
                )
            states.update(taken)
        return states, logits, [dict(tap.final) for tap in self.taps]

    def _returned_states(self, output: object) -> dict[StateKey, torch.Tensor]:
        if not isinstance(output, Mapping) or not isinstance(output.get("states"), Mapping):
            raise ExtractError(
                f"{type(self.model).__name__} has no nn.LSTM/nn.GRU/nn.RNN module and its "
                "forward() did not return {'states': {'layer0-hidden': float[B, L, D], ...}}; "
                "return per-step states that way, or use a model with torch recurrent modules"
            )
        states = {}
        for name, value in output["states"].items():
            value = value if self.batch_first else value.transpose(0, 1)
            # A copy: the writer thread reads it later, and the model may reuse its buffers.
            states[parse_state_name(name)] = value.detach().clone()
        return states
