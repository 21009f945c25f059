"""Mamba: the stored SSM state and block outputs equal mambapy's own step-by-step
(recurrent) mode run on each sequence alone; the parallel form equals mambapy's forward."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from hiddenscope.extract import extract
from hiddenscope.extract.mamba import FULL_STATE_MAX, MambaLM, selective_scan_states

from .conftest import VOCAB, random_sequences
from .recipes import quick_build


def step_mode(model: MambaLM, seq: list[int]) -> dict[str, np.ndarray]:
    """mambapy's recurrent mode, one token at a time: each mixer's output and state ``h``."""
    cfg = model.config
    caches = [(None, torch.zeros(1, cfg.d_inner, cfg.d_conv - 1)) for _ in model.mamba.layers]
    out: dict[str, list] = {}
    for token in seq:
        x = model.embed(torch.tensor([token]))
        for i, layer in enumerate(model.mamba.layers):
            y, caches[i] = layer.mixer.step(layer.norm(x), caches[i])
            x = x + y
            out.setdefault(f"layer{i}-output", []).append(y[0])
            out.setdefault(f"layer{i}-state", []).append(caches[i][0][0].reshape(-1))
    return {k: torch.stack(v).numpy() for k, v in out.items()}


@pytest.fixture
def mamba():
    torch.manual_seed(0)
    model = MambaLM(len(VOCAB), 12, 2, d_state=4).eval()
    with torch.no_grad():  # move A away from its init so channels differ more
        for layer in model.mamba.layers:
            layer.mixer.A_log.add_(0.3 * torch.randn_like(layer.mixer.A_log))
    return model


def test_parallel_form_equals_mambapy_forward_and_step_mode(mamba):
    block = mamba.mamba.layers[0].mixer
    x = torch.randn(3, 13, 12)
    with torch.no_grad():
        out, h, _ = selective_scan_states(block, x)
        np.testing.assert_allclose(out, block(x), atol=1e-6)
        cache = (None, torch.zeros(3, block.config.d_inner, block.config.d_conv - 1))
        for t in range(13):
            y, cache = block.step(x[:, t], cache)
            np.testing.assert_allclose(y, out[:, t], atol=1e-5, err_msg=f"output, step {t}")
            np.testing.assert_allclose(cache[0], h[:, t], atol=1e-5, err_msg=f"state, step {t}")


def test_stored_state_equals_mambapy_step_mode(tmp_path, mamba):
    seqs = random_sequences(seed=5, n=10, max_len=40)
    modules = {"m0": "mamba.layers.0.mixer", "m1": "mamba.layers.1.mixer"}
    folder = extract(
        mamba,
        seqs,
        VOCAB,
        tmp_path / "ds",
        modules=modules,
        ssm_state="full",
        batch_size=3,
        window=16,
        progress=False,
    )
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    paths = {t["id"]: t["path"] for t in config["states"]["types"]}
    assert list(paths) == ["layer0-output", "layer0-state", "layer1-output", "layer1-state"]
    with h5py.File(folder / "data.h5", "r") as f:
        stored = {i: f[p][:] for i, p in paths.items()}
        offsets = f["sequences"][:]
    assert stored["layer0-state"].shape[1] == 24 * 4  # d_inner x d_state, flattened
    for i, seq in enumerate(seqs):
        with torch.no_grad():
            reference = step_mode(mamba, seq)
        for source, expected in reference.items():
            got = stored[source][offsets[i] : offsets[i + 1]]
            np.testing.assert_allclose(got, expected, atol=2e-5, err_msg=f"{i} {source}")


def test_channel_summary_is_the_state_readout(tmp_path, mamba):
    seqs = random_sequences(seed=6, n=5, max_len=20)
    folder = extract(
        mamba,
        seqs,
        VOCAB,
        tmp_path / "ds",
        modules={"m": "mamba.layers.1.mixer"},
        ssm_state="channel",
        top_k=0,
        surprisal=False,
        progress=False,
    )
    with h5py.File(folder / "data.h5", "r") as f:
        stored, offsets = f["states/layer0/state"][:], f["sequences"][:]
    block = mamba.mamba.layers[1]
    for i, seq in enumerate(seqs):
        with torch.no_grad():
            x = mamba.mamba.layers[0](mamba.embed(torch.tensor([seq])))
            _, h, C = selective_scan_states(block.mixer, block.norm(x))
            expected = np.einsum("lcn,ln->lc", h[0].numpy(), C[0].numpy())
        np.testing.assert_allclose(stored[offsets[i] : offsets[i + 1]], expected, atol=2e-5)


def test_auto_stores_full_state_only_when_small(tmp_path, capsys):
    torch.manual_seed(0)
    big = MambaLM(len(VOCAB), 64, 1, d_state=32)  # d_inner 128 x 32 = 4096 > FULL_STATE_MAX
    assert 128 * 32 > FULL_STATE_MAX
    folder = extract(
        big,
        [[1, 2, 3]],
        VOCAB,
        tmp_path / "ds",
        modules={"m": "mamba.layers.0.mixer"},
        top_k=0,
        surprisal=False,
    )
    with h5py.File(folder / "data.h5", "r") as f:
        assert f["states/layer0/state"].shape == (3, 128)
    printed = capsys.readouterr().out
    assert "d_inner 128 x d_state 32 = 4,096 floats per step; storing channel" in printed


def test_quick_build_of_the_parens_mamba_recipe(tmp_path):
    from hiddenscope.server.cli import main

    folder, result = quick_build(tmp_path, "parens-mamba")
    assert "SSM state of mixer0: d_inner 64 x d_state 8 = 512 floats per step" in result.output
    check = CliRunner().invoke(main, ["check", str(folder)])
    assert check.exit_code == 0, check.output
    # select and match work on the new source kinds unchanged (in-process API)
    from hiddenscope.server.api import create_app

    app = create_app([tmp_path])
    try:
        client, base = app.test_client(base_url="http://localhost"), "/api/v1/datasets/parens-mamba"
        for source in ("layer0-output", "layer1-state"):
            q = f"source={source}&threshold=0.01"
            cells = client.get(f"{base}/select?{q}&start=3&end=5").json()["cells"]
            assert cells, source
            got = client.get(f"{base}/match?{q}&cells={','.join(map(str, cells[:5]))}")
            assert got.status_code == 200 and got.json()["matches"], got.text
    finally:
        app.catalog.close()
