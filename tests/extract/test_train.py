"""extract/train.py: held-out split, bits per token, LR schedules, per-epoch reports,
output dropout, and the checkpoint's history, each against a direct computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hiddenscope.extract import ExtractError
from hiddenscope.extract.train import (
    TokenLM,
    bits_per_token,
    lanes,
    load_or_train,
    lr_factor,
    split_heldout,
    train_lm,
)

MODEL = {"embedding": 8, "hidden": 12, "layers": 1}


def corpus(seed: int = 0, n: int = 10, vocab: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=int(rng.integers(1, 90))) for _ in range(n)]


def test_heldout_is_every_kth_sequence():
    ids = [np.array([i]) for i in range(10)]
    train, held = split_heldout(ids, 0.25)  # k = 4: sequences 3 and 7
    assert [int(s[0]) for s in held] == [3, 7]
    assert [int(s[0]) for s in train] == [0, 1, 2, 4, 5, 6, 8, 9]
    train, held = split_heldout(ids[:3], 0.1)  # k = 10 > 3 sequences: the last one
    assert [int(s[0]) for s in held] == [2] and len(train) == 2
    with pytest.raises(ExtractError, match="heldout=1.5 must be a fraction"):
        split_heldout(ids, 1.5)
    with pytest.raises(ExtractError, match="at least 2 sequences"):
        split_heldout(ids[:1], 0.5)


def test_bits_per_token_equals_each_sequence_run_alone():
    torch.manual_seed(1)
    model = TokenLM(7, 8, 12, 2).eval()
    ids = corpus(1)
    total, count = 0.0, 0
    with torch.no_grad():
        for s in ids:  # the oracle: one sequence at a time, whole, from the zero state
            logits, _ = model(torch.from_numpy(s)[None])
            logp = torch.log_softmax(logits[0, :-1].double(), -1)
            total -= float(logp[torch.arange(len(s) - 1), torch.from_numpy(s[1:])].sum())
            count += len(s) - 1
    expected = total / count / math.log(2)
    # batches of mixed lengths and windows shorter than the sequences give the same figure
    assert bits_per_token(model, ids, batch_size=3, window=7) == pytest.approx(expected, rel=1e-5)
    assert bits_per_token(model, ids) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear"])
def test_lr_schedules(schedule):
    cfg = {"schedule": schedule, "warmup": 4, "final_lr": 0.1}
    steps = 24
    got = [lr_factor(s, steps, cfg) for s in range(steps)]
    assert got[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])  # linear warm-up
    for s in range(4, steps):
        done = (s - 4) / (steps - 4 - 1)
        expected = {
            "constant": 1.0,
            "cosine": 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)),
            "linear": 1 - 0.9 * done,
        }[schedule]
        assert got[s] == pytest.approx(expected)
    if schedule != "constant":
        assert got[-1] == pytest.approx(0.1)
    with pytest.raises(ExtractError, match="schedule 'step' is unknown"):
        lr_factor(0, 10, {"schedule": "step"})


def test_training_reports_every_epoch_with_heldout_bits():
    rng = np.random.default_rng(2)  # a learnable corpus: counting modulo 7 from random starts
    ids = [(np.arange(int(rng.integers(20, 90))) + int(rng.integers(7))) % 7 for _ in range(10)]
    cfg = {"steps": 23, "batch_size": 4, "bptt": 10, "lr": 0.01, "heldout": 0.2}
    lines = []
    model = train_lm(ids, 7, MODEL, cfg, seed=0, progress=False, echo=lines.append)
    train, held = split_heldout(ids, 0.2)
    per_epoch = (lanes(train, 4).shape[1] - 1) // 10  # windows per pass over the lanes
    epochs = [h for h in model.history if h["step"] < 23]
    assert [h["step"] for h in epochs] == [per_epoch * (i + 1) for i in range(len(epochs))]
    assert len(epochs) == 23 // per_epoch - (23 % per_epoch == 0)
    assert [h["epoch"] for h in model.history] == list(range(1, len(model.history) + 1))
    assert len(lines) == len(model.history) and "held-out" in lines[0]
    # the last report is the trained model on the held-out sequences
    assert model.history[-1]["heldout_bits"] == pytest.approx(bits_per_token(model, held, 16, 20))
    assert all(h["train_bits"] > 0 for h in model.history)
    assert model.history[0]["heldout_bits"] > model.history[-1]["heldout_bits"]
    assert not model.training


def test_heldout_sequences_are_never_trained_on():
    # training lanes hold only tokens 0..3; the held-out sequence (every 2nd) only token 6
    ids = [np.array([0, 1, 2, 3] * 20), np.full(40, 6), np.array([3, 2, 1, 0] * 20), np.full(9, 6)]
    cfg = {"steps": 40, "batch_size": 2, "bptt": 8, "lr": 0.02, "heldout": 0.5}
    model = train_lm(ids, 7, MODEL, cfg, seed=0, progress=False)
    assert model.history[-1]["train_bits"] < 1.0
    assert model.history[-1]["heldout_bits"] > 3.0  # never saw a 6 follow a 6


def test_output_dropout_trains_differently_and_evaluates_deterministically():
    ids = corpus(3)
    cfg = {"steps": 5, "batch_size": 4, "bptt": 10, "lr": 0.01}
    plain = train_lm(ids, 7, MODEL, cfg, seed=0, progress=False)
    zero = train_lm(ids, 7, dict(MODEL, output_dropout=0.0), cfg, seed=0, progress=False)
    drop = train_lm(ids, 7, dict(MODEL, output_dropout=0.5), cfg, seed=0, progress=False)
    weights = lambda m: torch.cat([p.flatten() for p in m.state_dict().values()])  # noqa: E731
    assert torch.equal(weights(plain), weights(zero))  # p = 0 is the model without it
    assert not torch.equal(weights(plain), weights(drop))
    x = torch.from_numpy(ids[0])[None]
    assert torch.equal(drop(x)[0], drop(x)[0])  # eval mode: no dropout


def test_checkpoint_keeps_the_history(tmp_path):
    ids = corpus(4)
    cfg = {"steps": 6, "batch_size": 2, "bptt": 10, "lr": 0.01, "heldout": 0.2}
    path = tmp_path / "checkpoint.pt"
    model, trained = load_or_train(path, "k1", ids, 7, MODEL, cfg, 0, progress=False)
    again, trained_again = load_or_train(path, "k1", ids, 7, MODEL, cfg, 0, progress=False)
    assert trained and not trained_again
    assert again.history == model.history and again.history[-1]["heldout_bits"] > 0
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )
    other, trained_other = load_or_train(path, "k2", ids, 7, MODEL, cfg, 0, progress=False)
    assert trained_other  # another recipe: trained again


def test_window_models_share_the_checkpoint_reuse(tmp_path):
    # window_train.load_or_train_recipe goes through train.reuse_or_train too: same key ->
    # the saved weights, no history stored for a model that has none; another key -> trained
    from hiddenscope.extract.window_train import load_or_train_recipe

    ids = corpus(5)
    cfg = {"steps": 3, "batch_size": 2, "bptt": 8, "lr": 0.01}
    model_cfg = dict(MODEL, kind="mingru")
    path = tmp_path / "checkpoint.pt"
    model, trained = load_or_train_recipe(path, "k1", ids, 7, model_cfg, cfg, 0, progress=False)
    again, trained_again = load_or_train_recipe(path, "k1", ids, 7, model_cfg, cfg, 0, False)
    assert trained and not trained_again and not hasattr(again, "history")
    assert set(torch.load(path, weights_only=True)) == {"key", "weights"}
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )
    assert load_or_train_recipe(path, "k2", ids, 7, model_cfg, cfg, 0, progress=False)[1]


def test_lstm_checkpoint_without_history_reads_as_empty_history(tmp_path):
    ids = corpus(6)
    cfg = {"steps": 3, "batch_size": 2, "bptt": 8, "lr": 0.01}
    path = tmp_path / "checkpoint.pt"
    model, _ = load_or_train(path, "k1", ids, 7, MODEL, cfg, 0, progress=False)
    torch.save({"key": "k1", "weights": model.state_dict()}, path)  # an older checkpoint
    again, trained = load_or_train(path, "k1", ids, 7, MODEL, cfg, 0, progress=False)
    assert not trained and again.history == []
    x = torch.from_numpy(ids[0])[None]
    assert torch.equal(again(x)[0], model(x)[0])
