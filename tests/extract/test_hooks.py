"""``extract(modules=...)``: the stored outputs of hooked submodules equal the modules'
outputs computed directly on each sequence alone; bad modules get clear errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from hiddenscope.extract import ExtractError, extract
from torch import nn

from .conftest import VOCAB, random_sequences


class Stack(nn.Module):
    """Embedding -> LSTM -> MLP -> Linear, in ``batch_first`` layout or time-first."""

    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.emb = nn.Embedding(len(VOCAB), 6)
        self.rnn = nn.LSTM(6, 10, 2, batch_first=batch_first)
        self.mlp = nn.Sequential(nn.Linear(10, 14), nn.GELU(), nn.Linear(14, 9))
        self.out = nn.Linear(9, len(VOCAB))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.mlp(self.rnn(self.emb(ids))[0]))


class Pooled(Stack):
    """Calls a pooling module whose output has no time axis."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.Identity()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.rnn(self.emb(ids))[0]
        return self.out(self.mlp(h)) + 0 * self.pool(h.mean(1)).sum()


def _stored(folder) -> tuple[dict, np.ndarray, dict]:
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    types = {t["id"]: t for t in config["states"]["types"]}
    with h5py.File(folder / "data.h5", "r") as f:
        return {i: f[t["path"]][:] for i, t in types.items()}, f["sequences"][:], types


@pytest.mark.parametrize("batch_first", [True, False])
def test_hooked_outputs_equal_each_sequence_run_alone(tmp_path, batch_first):
    torch.manual_seed(3)
    model = Stack(batch_first)
    seqs = random_sequences(seed=4, n=11, max_len=30)
    # batch_size 3 x window 8: several batches, and the longest sequences run alone
    folder = extract(
        model,
        seqs,
        VOCAB,
        tmp_path / "ds",
        modules={"rnn": "rnn", "mlp": "mlp"},
        batch_size=3,
        window=8,
        progress=False,
    )
    stored, offsets, types = _stored(folder)
    assert list(types) == ["layer0-output", "layer1-output"]
    assert types["layer1-output"]["label"] == "layer 1 output"
    assert types["layer0-output"]["type"] == "output"
    for i, seq in enumerate(seqs):
        with torch.no_grad():
            x = model.emb(torch.tensor(seq))[:, None] if not batch_first else None
            if batch_first:
                h = model.rnn(model.emb(torch.tensor([seq])))[0][0]
            else:
                h = model.rnn(x)[0][:, 0]
            expected = {"layer0-output": h, "layer1-output": model.mlp(h)}
        for source, value in expected.items():
            got = stored[source][offsets[i] : offsets[i + 1]]
            np.testing.assert_allclose(got, value.numpy(), atol=2e-5, err_msg=f"{i} {source}")


class CausalTransformer(nn.Module):
    """One causal self-attention layer; hooks go on its MLP (``layer.linear2``)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(len(VOCAB), 16)
        self.layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.out = nn.Linear(16, len(VOCAB))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(ids.shape[1])
        return self.out(self.layer(self.emb(ids), src_mask=mask, is_causal=True))


def test_hooked_transformer_mlp_equals_each_sequence_run_alone(tmp_path):
    torch.manual_seed(5)
    model = CausalTransformer().eval()
    seqs = random_sequences(seed=8, n=9, max_len=25)
    modules = {"mlp": "layer.linear2", "block": "layer"}
    folder = extract(
        model, seqs, VOCAB, tmp_path / "ds", modules=modules, batch_size=4, progress=False
    )
    stored, offsets, _ = _stored(folder)
    captured = {}
    hooks = [
        model.layer.linear2.register_forward_hook(lambda m, a, o: captured.update(mlp=o)),
        model.layer.register_forward_hook(lambda m, a, o: captured.update(block=o)),
    ]
    for i, seq in enumerate(seqs):
        with torch.no_grad():
            model(torch.tensor([seq]))
        for layer, name in enumerate(("mlp", "block")):
            got = stored[f"layer{layer}-output"][offsets[i] : offsets[i + 1]]
            np.testing.assert_allclose(got, captured[name][0].numpy(), atol=2e-5, err_msg=name)
    for hook in hooks:
        hook.remove()


def test_a_module_whose_output_is_not_per_step_gets_a_clear_error(tmp_path):
    with pytest.raises(ExtractError) as err:
        extract(
            Pooled(),
            random_sequences(1),
            VOCAB,
            tmp_path / "ds",
            modules={"p": "pool"},
            progress=False,
        )
    message = str(err.value)
    assert "module 'p' (pool, Identity) returned shape (1, 10)" in message
    assert "not one vector per step" in message and not (tmp_path / "ds" / "data.h5").exists()


def test_unknown_unused_and_twice_called_modules_are_clear_errors(tmp_path):
    seqs = random_sequences(1)
    with pytest.raises(ExtractError, match="has no submodule 'mlp.7'; it has e.g. mlp, mlp.0"):
        extract(Stack(), seqs, VOCAB, tmp_path / "a", modules={"x": "mlp.7"}, progress=False)
    with pytest.raises(ExtractError, match="never called module 'p' \\(pool, Identity\\)"):
        extract(_unused(), seqs, VOCAB, tmp_path / "b", modules={"p": "pool"}, progress=False)

    class Twice(Stack):
        def forward(self, ids):
            return self.out(self.mlp(self.mlp[0](self.rnn(self.emb(ids))[0]).relu()[..., :10]))

    with pytest.raises(ExtractError, match="'l' \\(mlp.0, Linear\\) was called twice"):
        extract(Twice(), seqs, VOCAB, tmp_path / "c", modules={"l": "mlp.0"}, progress=False)
    with pytest.raises(ExtractError, match="modules 'a' and 'b' name the same submodule"):
        extract(Stack(), seqs, VOCAB, tmp_path / "e", modules={"a": "mlp", "b": "mlp"})
    with pytest.raises(ExtractError, match="modules must map source names"):
        extract(Stack(), seqs, VOCAB, tmp_path / "d", modules=["rnn"], progress=False)


def _unused() -> nn.Module:
    model = Pooled()
    model.forward = lambda ids: Stack.forward(model, ids)  # never calls model.pool
    return model


def test_module_option_of_the_extract_command(tmp_path):
    from hiddenscope.extract.cli import COMMANDS

    from .recipes import saved_model_args

    torch.manual_seed(0)
    base = saved_model_args(tmp_path, Stack(), VOCAB, "a b c\nd e f g a\n")
    result = CliRunner().invoke(COMMANDS["extract"], base + ["--module", "mlp=mlp"])
    assert result.exit_code == 0, result.output
    assert "layer0-output (mlp): 9 floats per step" in result.output
    with h5py.File(tmp_path / "out" / "data.h5", "r") as f:
        assert set(f["states"]) == {"layer0"} and f["states/layer0/output"].shape == (8, 9)
    bad = CliRunner().invoke(COMMANDS["extract"], base + ["--force", "--module", "mlp"])
    assert bad.exit_code != 0 and "--module 'mlp' must be NAME=PATH with a new NAME" in bad.output
