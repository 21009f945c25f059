"""Store the per-step outputs of any named submodules: ``extract(..., modules={...})``.

A forward hook on each named submodule (a Mamba mixer, a minGRU layer, a transformer
MLP, an nn.LSTM) keeps its output while the model's own forward runs, once per batch.
The output must be per step: ``[B, L, D]``, ``[L, B, D]``, or a tuple whose first
element is one (an nn.LSTM's ``(out, (h, c))``). Anything else is an
:class:`ExtractError` naming the module and the shape.

Sequences run whole, never in time windows: the extractor cannot carry an arbitrary
module's state from one window to the next, and cutting a sequence without its state
would store wrong values. A batch holds at most ``batch_size x window`` tokens (rows x
longest sequence); a longer sequence runs alone, so memory grows with the longest
sequence: its stored outputs (``L x sum(D) x 4`` bytes) plus whatever the model's own
forward needs for ``L`` steps (a Mamba layer's scan: about ``5 x L x d_inner x d_state x
4`` bytes per row).

Modules whose state the extractor knows how to compute (mambapy's ``MambaBlock``,
mamba.py) also store that state as a ``state`` source, one pass with the output.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .errors import ExtractError
from .model_call import ModelCaller, logits_of
from .recurrent import RECURRENT_TYPES, StateKey

SSM_STATE_MODES = ("auto", "full", "channel", "none")


@dataclass(frozen=True)
class ModuleKey(StateKey):
    """A stored table of a hooked module; ``name`` is the user's name of the module (the
    store names the table by layer and kind alone: ``layer0-output``, ``layer0-state``)."""

    name: str = ""


def resolve(model: nn.Module, name: str, path: str) -> nn.Module:
    """The submodule at dotted ``path`` (``mamba.layers.0.mixer``), or a clear error."""
    if not isinstance(path, str) or not path:
        raise ExtractError(f"modules[{name!r}] must be a dotted submodule path, got {path!r}")
    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        close = [n for n in names if n.startswith(path.rsplit(".", 1)[0])][:8] or names[:8]
        raise ExtractError(
            f"modules[{name!r}]: {type(model).__name__} has no submodule {path!r}; "
            f"it has e.g. {', '.join(close)}"
        ) from None


class ModuleHook:
    """A forward hook on one submodule; :meth:`take` hands over ``{ModuleKey: float[n, W, D]}``.

    Before each call the caller sets :attr:`expect` to the ``(n, W)`` of the ids and
    :attr:`batch_first` to their layout; a ``[W, n, D]`` output is transposed.
    """

    def __init__(self, model: nn.Module, name: str, path: str, layer: int, ssm_state: str) -> None:
        self.name, self.path = name, path
        self.module = resolve(model, name, path)
        self.key = ModuleKey(layer, "forward", "output", name=name)
        self.state_tap = state_tap_for(
            self.module, ModuleKey(layer, "forward", "state", name=name), ssm_state
        )
        self.expect: tuple[int, int] = (0, 0)
        self.batch_first = True
        self.captured: torch.Tensor | None = None
        self._handle = None

    def __enter__(self) -> ModuleHook:
        if self.state_tap is not None:
            self.state_tap.__enter__()
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        if self.state_tap is not None:
            self.state_tap.__exit__(*exc)

    def _where(self) -> str:
        return f"module {self.name!r} ({self.path}, {type(self.module).__name__})"

    def _hook(self, module, args, output) -> None:
        if self.captured is not None:
            raise ExtractError(
                f"{self._where()} was called twice in one forward(); hook a module that runs "
                "once per batch"
            )
        first = output[0] if isinstance(output, (tuple, list)) and output else output
        self.captured = self.per_step(first)

    def per_step(self, value: object) -> torch.Tensor:
        """``value`` as ``float[n, W, D]`` batch-first (a copy), or the clear error."""
        n, W = self.expect
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        if isinstance(value, torch.Tensor) and value.dim() == 3:
            lead = tuple(value.shape[:2])
            # [n, W] vs [W, n]: the shape decides, and the model input's layout when n == W.
            if lead == (n, W) and (self.batch_first or n != W):
                return value.detach().clone()
            if lead == (W, n):
                return value.detach().transpose(0, 1).clone()
        raise ExtractError(
            f"{self._where()} returned shape {shape}, which is not one vector per step: "
            f"hooks store outputs of shape [B={n}, L={W}, D] or [L={W}, B={n}, D] (or a tuple "
            "whose first element is one); name a module that returns per-step outputs, e.g. a "
            "layer or mixer rather than a pooling or loss module"
        )

    def take(self) -> dict[StateKey, torch.Tensor]:
        if self.captured is None:
            raise ExtractError(f"the model's forward() never called {self._where()}")
        out: dict[StateKey, torch.Tensor] = {self.key: self.captured}
        self.captured = None
        if self.state_tap is not None:
            out[self.state_tap.key] = self.state_tap.take()
        return out


def state_tap_for(module: nn.Module, key: ModuleKey, mode: str):
    """A tap computing ``module``'s recurrent state, for the kinds the extractor knows."""
    if mode not in SSM_STATE_MODES:
        raise ExtractError(f"ssm_state={mode!r} must be one of {', '.join(SSM_STATE_MODES)}")
    if mode == "none" or type(module).__name__ != "MambaBlock":
        return None
    from .mamba import MambaStateTap, is_mamba_block

    return MambaStateTap(module, key, mode) if is_mamba_block(module) else None


class HookCaller(ModelCaller):
    """Runs the model on whole padded batches with its hooks; ModelCaller's probe, sources
    and logits check are inherited (there are no recurrent taps here)."""

    def __init__(
        self,
        model: nn.Module,
        modules: Mapping[str, str],
        ssm_state: str,
        forward_fn,
        input_batch_first: bool | None,
        window: int,
        batch_size: int,
    ) -> None:
        if batch_size < 1 or window < 1:
            raise ExtractError(f"batch_size={batch_size} and window={window} must be at least 1")
        if not isinstance(modules, Mapping) or not modules:
            raise ExtractError(
                "modules must map source names to submodule paths, e.g. "
                "{'mixer0': 'layers.0.mixer'}; got " + repr(modules)
            )
        self.model, self.forward_fn = model, forward_fn
        self.taps = []  # no recurrent taps: ModelCaller.sources() reads the probe's tables
        self.hooks = [
            ModuleHook(model, name, path, layer, ssm_state)
            for layer, (name, path) in enumerate(modules.items())
        ]
        seen: dict[int, str] = {}
        for hook in self.hooks:
            other = seen.setdefault(id(hook.module), hook.name)
            if other != hook.name:
                raise ExtractError(
                    f"modules {other!r} and {hook.name!r} name the same submodule "
                    f"({hook.path}); name each module once"
                )
        recurrent = [m for m in model.modules() if isinstance(m, RECURRENT_TYPES)]
        default = recurrent[0].batch_first if recurrent else True
        self.batch_first = default if input_batch_first is None else input_batch_first
        self.window = None  # sequences run whole: see the module docstring
        self.max_tokens = batch_size * window
        self.batch_size = batch_size
        param = next(model.parameters(), None)
        self.device = param.device if param is not None else torch.device("cpu")
        self._probe_out: tuple | None = None

    def enter(self, stack: ExitStack) -> None:
        for hook in self.hooks:
            stack.enter_context(hook)

    def size_note(self, sources: list[tuple[StateKey, int]], steps: int) -> str:
        """What will be stored and its size, printed before extraction starts."""
        lines = [
            f"  {key.id} ({key.name}): {dim:,} floats per step, {4 * dim * steps / 2**20:,.1f} MB"
            for key, dim in sources
        ]
        notes = [h.state_tap.note for h in self.hooks if h.state_tap is not None]
        total = 4 * steps * sum(d for _, d in sources) / 2**20
        return "\n".join(
            [
                f"storing {len(sources)} sources over {steps:,} steps: {total:,.1f} MB",
                *lines,
                *notes,
            ]
        )

    def call(self, ids: np.ndarray, lengths: np.ndarray, carry: None) -> tuple:
        """Run ``ids[n, W]`` whole; returns ``({key: float[n, W, D]}, logits or None, None)``."""
        x = torch.from_numpy(np.ascontiguousarray(ids)).to(self.device)
        lens = torch.from_numpy(np.asarray(lengths, dtype=np.int64))
        for hook in self.hooks:
            hook.expect, hook.batch_first = tuple(x.shape), self.batch_first
        inp = x if self.batch_first else x.t()
        output = self.forward_fn(self.model, inp, lens) if self.forward_fn else self.model(inp)
        logits = logits_of(output)
        if logits is not None and not self.batch_first and logits.dim() == 3:
            logits = logits.transpose(0, 1)
        states: dict[StateKey, torch.Tensor] = {}
        for hook in self.hooks:
            states.update(hook.take())
        return states, logits, None
