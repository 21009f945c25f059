"""Per-step states of every layer and direction of nn.LSTM / nn.GRU / nn.RNN modules.

PyTorch's recurrent modules return only the last layer's ``h`` per step. We run a stack
layer by layer and direction by direction with a single-layer copy of the module (the
same C++ kernel the model uses), which gives every layer's ``h`` at every step. The LSTM
cell state and the gates are recovered from one batched gate computation per layer
(``x W_ih^T + h_{t-1} W_hh^T``, all steps at once); only the elementwise recurrence
``c_t = f_t c_{t-1} + i_t g_t`` steps through time, on ``[B, H]`` slices.

Sequences are variable-length (``lengths[B]``, padding at the end). The backward
direction reverses each sequence within its own length, so padding never reaches a
valid step in either direction. Everything here is batch-first ``[B, L, *]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .errors import ExtractError

RECURRENT_TYPES = (nn.LSTM, nn.GRU, nn.RNN)
LSTM_GATES = ("gate_i", "gate_f", "gate_g", "gate_o")
GRU_GATES = ("gate_r", "gate_z", "gate_n")
#: gates squashed by a sigmoid (values in [0, 1]); the others are tanh-bounded.
UNSIGNED_KINDS = frozenset({"gate_i", "gate_f", "gate_o", "gate_r", "gate_z"})


@dataclass(frozen=True)
class StateKey:
    """One stored table: (layer, direction, kind) with its source id, HDF5 path and label."""

    layer: int
    direction: str  # "forward" | "backward"
    kind: str  # hidden | cell | gate_*

    @property
    def id(self) -> str:
        part = "-backward" if self.direction == "backward" else ""
        return f"layer{self.layer}{part}-{self.kind}"

    @property
    def path(self) -> str:
        part = "/backward" if self.direction == "backward" else ""
        return f"states/layer{self.layer}{part}/{self.kind}"

    @property
    def label(self) -> str:
        part = " backward" if self.direction == "backward" else ""
        return f"layer {self.layer}{part} {self.kind}"


class _OneDnnLinear:
    """``x @ w.T + b`` for the batched gate computations, through oneDNN where it works.

    The LSTM kernel itself runs on oneDNN; plain ``F.linear`` goes to the BLAS, which is
    two to three times slower on some CPUs (MKL on AMD). oneDNN's linear is a private op
    (``torch.ops.mkldnn._linear_pointwise``, what torch.compile uses on CPU), so it is
    checked against ``F.linear`` once and dropped for good if it is missing or differs.
    """

    def __init__(self) -> None:
        self.usable: bool | None = None

    def _check(self) -> bool:
        try:
            gen = torch.Generator().manual_seed(0)
            x, w, b = (torch.randn(*s, generator=gen) for s in ((5, 7), (6, 7), (6,)))
            got = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
            return bool(torch.allclose(got, F.linear(x, w, b), atol=1e-5))
        except (AttributeError, RuntimeError, NotImplementedError):
            return False

    def __call__(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        if x.device.type != "cpu" or x.dtype != torch.float32 or not w.is_contiguous():
            return F.linear(x, w, b)
        if self.usable is None:
            self.usable = torch.backends.mkldnn.is_available() and self._check()
        if not self.usable:
            return F.linear(x, w, b)
        flat = x.reshape(-1, x.shape[-1])
        out = torch.ops.mkldnn._linear_pointwise(flat, w, b, "none", [], "")
        return out.view(*x.shape[:-1], w.shape[0])


linear = _OneDnnLinear()


def kinds_of(module: nn.Module, gates: bool, cell: bool = True) -> tuple[str, ...]:
    """The state kinds stored for ``module``: h (and c for LSTM unless ``cell`` is off),
    plus gates when asked."""
    if isinstance(module, nn.LSTM):
        return ("hidden",) + (("cell",) if cell else ()) + (LSTM_GATES if gates else ())
    if isinstance(module, nn.GRU):
        return ("hidden",) + (GRU_GATES if gates else ())
    return ("hidden",)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of ``x[B, L, *]`` within its length; padding stays at the end."""
    B, L = x.shape[:2]
    steps = torch.arange(L, device=x.device).expand(B, L)
    lens = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lens, lens - 1 - steps, steps)
    return x.gather(1, index.view(B, L, *([1] * (x.dim() - 2))).expand_as(x))


def last_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x[b, lengths[b]-1]`` for each row of ``x[B, L, H]``: ``[B, H]`` (length 0: step 0)."""
    if bool((lengths == x.shape[1]).all()):  # the usual case: every row fills the window
        return x[:, -1]
    index = (lengths.to(x.device) - 1).clamp(min=0)
    return x[torch.arange(x.shape[0], device=x.device), index]


class LayerRunner:
    """One layer and direction of a recurrent module, run over whole padded batches."""

    def __init__(self, module: nn.Module, layer: int, reverse: bool) -> None:
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        self.mode = type(module).__name__  # LSTM | GRU | RNN
        self.reverse = reverse
        self.hidden_size = module.hidden_size
        self.w_ih = getattr(module, "weight_ih" + suffix).detach()
        self.w_hh = getattr(module, "weight_hh" + suffix).detach()
        if module.bias:
            self.b_ih = getattr(module, "bias_ih" + suffix).detach()
            self.b_hh = getattr(module, "bias_hh" + suffix).detach()
        else:
            self.b_ih = self.b_hh = None
        extra = {"nonlinearity": module.nonlinearity} if self.mode == "RNN" else {}
        single = type(module)(
            self.w_ih.shape[1],
            self.hidden_size,
            num_layers=1,
            bias=module.bias,
            batch_first=True,
            **extra,
        )
        single = single.to(device=self.w_ih.device, dtype=self.w_ih.dtype).eval()
        with torch.no_grad():
            single.weight_ih_l0.copy_(self.w_ih)
            single.weight_hh_l0.copy_(self.w_hh)
            if module.bias:
                single.bias_ih_l0.copy_(self.b_ih)
                single.bias_hh_l0.copy_(self.b_hh)
        self.single = single

    def run(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor,
        init: tuple[torch.Tensor, ...] | None,
        kinds: tuple[str, ...],
    ) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        """Run over ``x[B, L, in]`` from ``init``: ``(h0[B, H],)``, ``(h0, c0)`` (LSTM) or None.

        Returns ``{kind: float[B, L, H]}`` in time order and the final state at each
        row's last valid step (for the backward direction: after reading step 0).
        """
        if self.reverse:
            x = reverse_padded(x, lengths)
        B = x.shape[0]
        zeros = x.new_zeros(B, self.hidden_size)
        init = init or ((zeros, zeros) if self.mode == "LSTM" else (zeros,))
        hx = tuple(s.unsqueeze(0).contiguous() for s in init)
        h, last = self.single(x, hx if self.mode == "LSTM" else hx[0])
        out = {"hidden": h}
        final = (last_valid(h, lengths),)
        if self.mode == "LSTM" and kinds != ("hidden",):
            out.update(self._lstm_extra(x, h, init, kinds))
            final = final + (last_valid(out["cell"], lengths),)
        elif self.mode == "LSTM":
            # h only: the kernel's own final c is exact for the rows that fill the window,
            # which are the only rows whose state is carried into the next window.
            final = final + (last[1][0],)
        elif self.mode == "GRU" and any(k.startswith("gate_") for k in kinds):
            out.update(self._gru_gates(x, h, init[0]))
        out = {k: v for k, v in out.items() if k in kinds}
        if self.reverse:
            out = {k: reverse_padded(v, lengths) for k, v in out.items()}
        return out, final

    def _previous(self, h: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """``h_{t-1}`` for every step: ``[h0, h_0 .. h_{L-2}]``, shape ``[B, L, H]``."""
        return torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)

    def _lstm_extra(
        self,
        x: torch.Tensor,
        h: torch.Tensor,
        init: tuple[torch.Tensor, ...],
        kinds: tuple[str, ...],
    ) -> dict[str, torch.Tensor]:
        """Cell state (and gates when asked) from one batched gate computation."""
        H = self.hidden_size
        want_gates = any(k.startswith("gate_") for k in kinds)
        rows = 4 * H if want_gates else 3 * H  # o is needed only when it is stored
        w_ih, w_hh = self.w_ih[:rows], self.w_hh[:rows]
        b_ih = None if self.b_ih is None else self.b_ih[:rows]
        b_hh = None if self.b_hh is None else self.b_hh[:rows]
        pre = linear(x, w_ih, b_ih)
        pre += linear(self._previous(h, init[0]), w_hh, b_hh)
        i = torch.sigmoid(pre[..., :H])
        f = torch.sigmoid(pre[..., H : 2 * H])
        g = torch.tanh(pre[..., 2 * H : 3 * H])
        ig = i * g
        cell = torch.empty_like(ig)
        c = init[1]
        # The only per-step work: an elementwise linear recurrence on [B, H] slices.
        for t in range(x.shape[1]):
            c = torch.addcmul(ig[:, t], f[:, t], c)
            cell[:, t] = c
        out = {"cell": cell}
        if want_gates:
            out.update(gate_i=i, gate_f=f, gate_g=g, gate_o=torch.sigmoid(pre[..., 3 * H :]))
        return out

    def _gru_gates(
        self, x: torch.Tensor, h: torch.Tensor, h0: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """GRU reset, update and candidate gates for every step, batched."""
        H = self.hidden_size
        gi = linear(x, self.w_ih, self.b_ih)
        gh = linear(self._previous(h, h0), self.w_hh, self.b_hh)
        r = torch.sigmoid(gi[..., :H] + gh[..., :H])
        z = torch.sigmoid(gi[..., H : 2 * H] + gh[..., H : 2 * H])
        n = torch.tanh(gi[..., 2 * H :] + r * gh[..., 2 * H :])
        return {"gate_r": r, "gate_z": z, "gate_n": n}


def check_supported(module: nn.Module, name: str) -> None:
    """Raise :class:`ExtractError` for recurrent modules this extractor cannot unroll."""
    if isinstance(module, nn.LSTM) and module.proj_size:
        raise ExtractError(
            f"{name}: nn.LSTM with proj_size={module.proj_size} is not supported; "
            "extract from a model without projections, or return per-step states from forward()"
        )
