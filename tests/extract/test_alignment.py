"""The stored state at a step equals the model's state after reading that step's token.

The reference steps through each sequence alone with nn.LSTMCell / nn.GRUCell /
nn.RNNCell carrying the module's weights (gates from the cell's own formula), for every
layer and both directions; the extractor runs variable-length batches in small time
windows, so padding, sorting, windowing and the carried state are all exercised.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from hiddenscope.extract import extract
from torch import nn

from .conftest import VOCAB, TinyLM, random_sequences

CELLS = {nn.LSTM: nn.LSTMCell, nn.GRU: nn.GRUCell, nn.RNN: nn.RNNCell}


def _cell(module: nn.Module, layer: int, reverse: bool) -> nn.Module:
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih = getattr(module, "weight_ih" + suffix)
    extra = {"nonlinearity": module.nonlinearity} if isinstance(module, nn.RNN) else {}
    cell = CELLS[type(module)](w_ih.shape[1], module.hidden_size, **extra)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(module, name + suffix))
    return cell


def _gates(cell: nn.Module, x: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
    gi = x @ cell.weight_ih.T + cell.bias_ih
    gh = h @ cell.weight_hh.T + cell.bias_hh
    if isinstance(cell, nn.LSTMCell):
        i, f, g, o = (gi + gh).chunk(4, -1)
        return {
            "gate_i": i.sigmoid(),
            "gate_f": f.sigmoid(),
            "gate_g": g.tanh(),
            "gate_o": o.sigmoid(),
        }
    H = h.shape[-1]
    r = (gi[..., :H] + gh[..., :H]).sigmoid()
    z = (gi[..., H : 2 * H] + gh[..., H : 2 * H]).sigmoid()
    return {"gate_r": r, "gate_z": z, "gate_n": (gi[..., 2 * H :] + r * gh[..., 2 * H :]).tanh()}


def _run_direction(cell: nn.Module, xs: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """Step through ``xs[L, in]`` one token at a time; per-step h, c and gates."""
    H = cell.hidden_size
    h, c = torch.zeros(1, H), torch.zeros(1, H)
    out: dict[str, list[torch.Tensor]] = {}
    for x in xs:
        x = x[None]
        gates = {} if isinstance(cell, nn.RNNCell) else _gates(cell, x, h)
        if isinstance(cell, nn.LSTMCell):
            h, c = cell(x, (h, c))
            gates["cell"] = c
        else:
            h = cell(x, h)
        gates["hidden"] = h
        for k, v in gates.items():
            out.setdefault(k, []).append(v[0])
    return out


def reference_states(model: TinyLM, seq: list[int]) -> dict[str, np.ndarray]:
    """``{source id: float32[L, H]}`` for one sequence, computed step by step."""
    rnn, out = model.rnn, {}
    layer_in = model.emb(torch.tensor(seq))
    for layer in range(rnn.num_layers):
        hs = []
        for reverse in [False, True] if rnn.bidirectional else [False]:
            xs = layer_in.flip(0) if reverse else layer_in
            states = _run_direction(_cell(rnn, layer, reverse), xs)
            for kind, values in states.items():
                stacked = torch.stack(values)
                stacked = stacked.flip(0) if reverse else stacked
                out[f"layer{layer}{'-backward' if reverse else ''}-{kind}"] = stacked.numpy()
            hs.append(out[f"layer{layer}{'-backward' if reverse else ''}-hidden"])
        layer_in = torch.from_numpy(np.concatenate(hs, axis=1))
    return out


def _stored(folder, source_ids: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    import yaml

    config = yaml.safe_load((folder / "dataset.yml").read_text())
    paths = {t["id"]: t["path"] for t in config["states"]["types"]}
    assert sorted(paths) == sorted(source_ids)
    with h5py.File(folder / "data.h5", "r") as f:
        return ({i: f[p][:] for i, p in paths.items()}, f["tokens"][:], f["sequences"][:])


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
def test_stored_states_equal_step_by_step_reference(tmp_path, kind, bidirectional, batch_first):
    torch.manual_seed(1)
    model = TinyLM(
        len(VOCAB), hidden=9, kind=kind, bidirectional=bidirectional, batch_first=batch_first
    )
    seqs = random_sequences(seed=2)
    folder = extract(
        model, seqs, VOCAB, tmp_path / "ds", gates=True, window=5, batch_size=3, progress=False
    )
    with torch.no_grad():
        refs = [reference_states(model, s) for s in seqs]
    stored, tokens, offsets = _stored(folder, list(refs[0]))
    assert tokens.tolist() == [t for s in seqs for t in s]  # no padding, corpus order
    assert offsets.tolist() == np.cumsum([0] + [len(s) for s in seqs]).tolist()
    for i, ref in enumerate(refs):
        for source, expected in ref.items():
            got = stored[source][offsets[i] : offsets[i + 1]]
            np.testing.assert_allclose(got, expected, atol=2e-5, err_msg=f"sequence {i} {source}")


def test_top_k_matches_the_untapped_model(tmp_path, tiny_lm):
    """Tapping does not change the model's own output: top-K equals a plain forward's."""
    seqs = random_sequences(seed=3)
    folder = extract(
        tiny_lm, seqs, VOCAB, tmp_path / "ds", top_k=3, window=4, batch_size=2, progress=False
    )
    with h5py.File(folder / "data.h5", "r") as f:
        ids, probs, surprisal = (
            f["meta/next/ids"][:],
            f["meta/next/probs"][:],
            f["meta/surprisal"][:],
        )
    row = 0
    for seq in seqs:
        with torch.no_grad():
            p = tiny_lm(torch.tensor([seq]))[0].softmax(-1)
        top = p.topk(3, -1)
        np.testing.assert_allclose(probs[row : row + len(seq)], top.values.numpy(), atol=1e-5)
        assert (ids[row : row + len(seq)] == top.indices.numpy()).all()
        assert np.isnan(surprisal[row])  # nothing predicts a sequence's first token
        expected = -np.log2(p[np.arange(len(seq) - 1), seq[1:]].numpy())
        np.testing.assert_allclose(surprisal[row + 1 : row + len(seq)], expected, rtol=1e-4)
        row += len(seq)
    assert (np.diff(probs, axis=1) <= 0).all()  # sorted, most likely first


class PackingLM(TinyLM):
    """A model that packs its batch itself (forward(ids, lengths))."""

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(
            self.emb(ids), lengths, batch_first=True, enforce_sorted=False
        )
        out, _ = nn.utils.rnn.pad_packed_sequence(
            self.rnn(packed)[0], batch_first=True, total_length=ids.shape[1]
        )
        return self.out(out)


def test_packed_sequence_model_with_forward_fn(tmp_path):
    torch.manual_seed(4)
    model = PackingLM(len(VOCAB), hidden=8, bidirectional=True)
    seqs = random_sequences(seed=5)
    folder = extract(
        model,
        seqs,
        VOCAB,
        tmp_path / "ds",
        batch_size=4,
        progress=False,
        gates=True,
        forward_fn=lambda m, ids, lengths: m(ids, lengths),
    )
    with torch.no_grad():
        refs = [reference_states(model, s) for s in seqs]
    stored, _, offsets = _stored(folder, list(refs[0]))
    for i, ref in enumerate(refs):
        for source, expected in ref.items():
            np.testing.assert_allclose(
                stored[source][offsets[i] : offsets[i + 1]], expected, atol=2e-5
            )


class StatesLM(nn.Module):
    """No torch recurrent module: forward returns its per-step states itself."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(len(VOCAB), 5)
        self.out = nn.Linear(5, len(VOCAB))

    def forward(self, ids):
        e = self.emb(ids).cumsum(1).tanh()
        return {"logits": self.out(e), "states": {"layer0-hidden": e, "layer0-backward-cell": -e}}


def test_model_returning_its_own_states(tmp_path):
    torch.manual_seed(6)
    model = StatesLM()
    seqs = random_sequences(seed=7)
    folder = extract(model, seqs, VOCAB, tmp_path / "ds", progress=False, batch_size=4)
    stored, _, offsets = _stored(folder, ["layer0-hidden", "layer0-backward-cell"])
    for i, seq in enumerate(seqs):
        with torch.no_grad():
            e = model(torch.tensor([seq]))["states"]["layer0-hidden"][0].numpy()
        np.testing.assert_allclose(
            stored["layer0-hidden"][offsets[i] : offsets[i + 1]], e, atol=1e-6
        )
        np.testing.assert_allclose(
            stored["layer0-backward-cell"][offsets[i] : offsets[i + 1]], -e, atol=1e-6
        )


def test_hidden_only_carries_the_kernel_state_across_windows(tmp_path, tiny_lm):
    """cell=False skips the cell recovery; h must still be exact across window borders."""
    seqs = random_sequences(seed=14, max_len=30)
    folder = extract(
        tiny_lm,
        seqs,
        VOCAB,
        tmp_path / "h",
        cell=False,
        window=4,
        batch_size=3,
        top_k=0,
        surprisal=False,
        progress=False,
    )
    stored, _, offsets = _stored(folder, ["layer0-hidden", "layer1-hidden"])
    for i, seq in enumerate(seqs):
        with torch.no_grad():
            ref = reference_states(tiny_lm, seq)
        for source in ("layer0-hidden", "layer1-hidden"):
            got = stored[source][offsets[i] : offsets[i + 1]]
            np.testing.assert_allclose(got, ref[source], atol=2e-5)
