"""minGRU: the parallel scan equals the recurrence, and the stored state of every layer
equals the recurrence computed step by step on each sequence alone."""

from __future__ import annotations

import h5py
import numpy as np
import torch
from click.testing import CliRunner
from hiddenscope.extract import extract
from hiddenscope.extract.mingru import MinGRU, MinGRULM

from .conftest import VOCAB, random_sequences
from .recipes import quick_build


def recurrence(layer: MinGRU, xs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``h_t = (1 - z_t) h_{t-1} + z_t h~_t`` written out from the weights, ``xs[L, in]``."""
    H = layer.hidden_size
    w, b = layer.linear.weight, layer.linear.bias
    out = []
    for x in xs:
        z = torch.sigmoid(w[:H] @ x + b[:H])
        candidate = w[H:] @ x + b[H:]
        h = (1 - z) * h + z * candidate
        out.append(h)
    return torch.stack(out)


def test_parallel_scan_equals_the_recurrence():
    torch.manual_seed(0)
    layer = MinGRU(5, 7)
    x, h0 = torch.randn(3, 21, 5), torch.randn(3, 7)
    with torch.no_grad():
        scanned = layer(x, h0)
        for b in range(3):
            np.testing.assert_allclose(scanned[b], recurrence(layer, x[b], h0[b]), atol=1e-5)
            h = h0[b : b + 1]
            for t in range(21):  # the module's own step form
                h = layer.step(x[b : b + 1, t], h)
                np.testing.assert_allclose(h[0], scanned[b, t], atol=1e-5)
        np.testing.assert_allclose(layer(x), layer(x, torch.zeros(3, 7)), atol=1e-6)


def test_gradients_of_the_scan_equal_those_of_the_recurrence():
    torch.manual_seed(1)
    layer = MinGRU(4, 6)
    x = torch.randn(1, 9, 4)
    layer(x).square().sum().backward()
    scan_grad = layer.linear.weight.grad.clone()
    layer.zero_grad()
    recurrence(layer, x[0], torch.zeros(6)).square().sum().backward()
    np.testing.assert_allclose(scan_grad, layer.linear.weight.grad, atol=1e-5)


def test_stored_state_equals_the_recurrence_step_by_step(tmp_path):
    torch.manual_seed(2)
    model = MinGRULM(len(VOCAB), 6, 10, 2).eval()
    seqs = random_sequences(seed=7, n=12, max_len=35)
    folder = extract(
        model,
        seqs,
        VOCAB,
        tmp_path / "ds",
        modules={"a": "layers.0", "b": "layers.1"},
        batch_size=4,
        window=10,
        progress=False,
    )
    with h5py.File(folder / "data.h5", "r") as f:
        stored = [f["states/layer0/output"][:], f["states/layer1/output"][:]]
        offsets = f["sequences"][:]
    for i, seq in enumerate(seqs):
        with torch.no_grad():
            x = model.embed(torch.tensor(seq))
            for layer, table in zip(model.layers, stored, strict=True):
                x = recurrence(layer, x, torch.zeros(layer.hidden_size))
                np.testing.assert_allclose(table[offsets[i] : offsets[i + 1]], x, atol=2e-5)


def test_quick_build_of_the_parens_mingru_recipe(tmp_path):
    from hiddenscope.extract.cli import COMMANDS
    from hiddenscope.server.cli import main

    folder, result = quick_build(tmp_path, "parens-mingru")
    check = CliRunner().invoke(main, ["check", str(folder)])
    assert check.exit_code == 0 and "meta depth: categorical" in check.output, check.output
    again = CliRunner().invoke(COMMANDS["build"], [str(folder), "--quick", "--force"])
    assert again.exit_code == 0 and "reused checkpoint.pt" in again.output, again.output
