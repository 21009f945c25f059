"""The live run (extract/live.py) against direct computations: each prefix run alone,
torch.autograd.grad, the variance formula, the recurrent module itself; and the loader's
refusal of pickled objects."""

from __future__ import annotations

import math
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hiddenscope.extract.classifier import SequenceClassifier
from hiddenscope.extract.live import LiveModel, RunError, load_checkpoint, tokenize
from hiddenscope.extract.train import TokenLM
from hiddenscope.server.store.models import (
    CheckpointConfig,
    ModelConfig,
    UnsafeModelFile,
    check_weights_file,
)

VOCAB = ["<unk>", "the", "movie", "was", "not", "good", "bad", "very", "but", ".", ","]


def classifier_files(tmp_path: Path, cell: str = "lstm", seed: int = 0):
    torch.manual_seed(seed)
    arch = {"classes": 2, "embedding": 6, "hidden": 9, "layers": 2, "cell": cell}
    model = SequenceClassifier.from_config({"vocab_size": len(VOCAB), **arch}).eval()
    path = tmp_path / f"{cell}.pt"
    torch.save(model.state_dict(), path)
    cp = CheckpointConfig(cell, cell, cell, 1, "sequence-classifier", "state_dict", path, arch)
    config = ModelConfig(
        "classifier", ("negative", "positive"), "words", True, "<unk>", cell, (cp,)
    )
    return model, config, cp


@pytest.fixture(params=["lstm", "gru"])
def live(request, tmp_path):
    model, config, cp = classifier_files(tmp_path, request.param)
    return model, LiveModel(config, cp, VOCAB)


TEXT = "The movie was not very good, but the MOVIE was bad ."


def test_impact_equals_each_prefix_run_alone(live):
    model, runner = live
    out = runner.run(TEXT)
    ids = torch.as_tensor(out["token_ids"])
    with torch.no_grad():
        p = [torch.softmax(model.decoder(torch.zeros(model.rnn.hidden_size)), -1)]
        p += [torch.softmax(model(ids[None, : i + 1])[0, -1], -1) for i in range(len(ids))]
    p = torch.stack(p).numpy()
    c = int(np.argmax(p[-1]))
    assert out["output"]["predicted"] == c
    np.testing.assert_allclose(out["output"]["probs"], p[-1], atol=1e-6)
    np.testing.assert_allclose(out["impact"], [p[i + 1, c] - p[i, c] for i in range(len(ids))],
                               atol=1e-6)  # fmt: skip
    assert out["impact"].sum() == pytest.approx(p[-1, c] - p[0, c], abs=1e-5)


def test_saliency_equals_autograd_on_the_same_model(live):
    model, runner = live
    out = runner.run(TEXT)
    ids = torch.as_tensor(out["token_ids"])
    c = out["output"]["predicted"]
    emb = model.embed.weight[ids].detach().clone().requires_grad_(True)
    score = model.decoder(model.rnn(emb[None])[0])[0, -1, c]
    (grad,) = torch.autograd.grad(score, emb)
    np.testing.assert_allclose(out["saliency_dims"], grad.abs().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["saliency"], grad.norm(dim=1).numpy(), rtol=1e-5, atol=1e-7)


def test_variance_equals_the_formula(live):
    model, runner = live
    out = runner.run(TEXT)
    e = model.embed.weight.detach().numpy()[out["token_ids"]].astype(np.float64)
    n, E = e.shape
    want = np.empty((n, E))
    for i in range(n):
        for j in range(E):
            want[i, j] = (e[i, j] - sum(e[k, j] for k in range(n)) / n) ** 2
    np.testing.assert_allclose(out["variance"], want, rtol=1e-5, atol=1e-8)


def test_states_equal_the_recurrent_module_run_directly(tmp_path):
    model, config, cp = classifier_files(tmp_path, "lstm")
    out = LiveModel(config, cp, VOCAB).run(TEXT)
    ids = torch.as_tensor(out["token_ids"])
    with torch.no_grad():
        top = model.rnn(model.embed(ids[None]))[0][0].numpy()  # layer 1's hidden, every step
        # each prefix alone: the final (h, c) of every layer is the state after its last token
        finals = [model.rnn(model.embed(ids[None, : i + 1]))[1] for i in range(len(ids))]
    np.testing.assert_allclose(out["sources"]["layer1-hidden"], top.T, atol=1e-5)
    for layer in (0, 1):
        cells = np.stack([f[1][layer, 0].numpy() for f in finals], axis=1)
        np.testing.assert_allclose(out["sources"][f"layer{layer}-cell"], cells, atol=1e-5)
    assert out["sources"]["layer0-hidden"].shape == (9, len(ids))
    picked = LiveModel(config, cp, VOCAB).run(TEXT, sources=["layer0-cell"])
    assert list(picked["sources"]) == ["layer0-cell"]


def test_tokens_unknown_words_and_bad_input(tmp_path):
    _, config, cp = classifier_files(tmp_path)
    runner = LiveModel(config, cp, VOCAB)
    out = runner.run("The movie was AWFUL!")
    assert out["tokens"] == ["the", "movie", "was", "awful", "!"]
    assert out["unknown"] == [{"index": 3, "token": "awful"}, {"index": 4, "token": "!"}]
    assert out["token_ids"].tolist() == [1, 2, 3, 0, 0]
    with pytest.raises(RunError, match="no tokens"):
        runner.run("   ")
    with pytest.raises(RunError, match="layer9-hidden"):
        runner.run("the movie", sources=["layer9-hidden"])
    strict = ModelConfig("classifier", config.classes, "words", True, None, cp.id, (cp,))
    with pytest.raises(RunError, match="'awful'"):
        LiveModel(strict, cp, VOCAB).run("the movie was awful")
    chars = ModelConfig("classifier", config.classes, "characters", False, None, cp.id, (cp,))
    assert tokenize("a (b", chars) == ["a", " ", "(", "b"]


def test_language_model_output_and_surprisal(tmp_path):
    torch.manual_seed(1)
    cfg = {"embedding": 5, "hidden": 7, "layers": 1}
    model = TokenLM.from_recipe(len(VOCAB), cfg).eval()
    path = tmp_path / "lm.pt"
    torch.save(model.state_dict(), path)
    cp = CheckpointConfig("lm", "lm", "lm", 1, "token-lm", "state_dict", path, cfg)
    config = ModelConfig("language_model", (), "words", True, "<unk>", "lm", (cp,))
    out = LiveModel(config, cp, VOCAB).run("the movie was good")
    ids = torch.as_tensor(out["token_ids"])
    with torch.no_grad():
        probs = torch.softmax(model(ids[None])[0][0], -1).numpy()
    o = out["output"]
    assert o["kind"] == "language_model" and o["predicted"] == int(probs[-1].argmax())
    assert o["top_ids"].tolist() == np.argsort(-probs[-1])[:5].tolist()
    assert math.isnan(o["surprisal"][0])
    want = [-math.log2(probs[t - 1, ids[t]]) for t in range(1, len(ids))]
    np.testing.assert_allclose(o["surprisal"][1:], want, rtol=1e-4)


class _Payload:
    """Unpickling this would create the marker file (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_loading_refuses_a_pickled_object_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    _, config, cp = classifier_files(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"weights": _Payload(marker)}, evil)  # a torch.save zip whose pickle calls os.system
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Payload(marker), protocol=4))  # a bare pickle, STACK_GLOBAL
    for path in (evil, raw):
        # the store's scan reads the pickle without running it ...
        with pytest.raises(UnsafeModelFile, match="evil.pt names posix.system|raw.pt is not a"):
            check_weights_file(path)
        # ... and the loader alone refuses it too (torch's weights-only unpickler)
        bad = CheckpointConfig("x", "x", "x", 1, "sequence-classifier", "state_dict", path,
                               cp.config)  # fmt: skip
        with pytest.raises(pickle.UnpicklingError), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: "protocol 4 in the checkpoint"
            load_checkpoint(bad, len(VOCAB))
    assert not marker.exists()
    check_weights_file(cp.file)  # a real state dict passes


def test_a_memoized_global_name_is_refused(tmp_path):
    """STACK_GLOBAL whose names come from the memo (not pushed just before) is refused even
    when the last two pushed strings look harmless."""
    ops = (
        b"\x80\x04"  # PROTO 4
        b"\x8c\x05posix\x94"  # "posix", memoized as 0
        b"\x8c\x06system\x94"  # "system", memoized as 1
        b"\x8c\x0bcollections\x8c\x0bOrderedDict0"  # harmless names, then POP
        b"0h\x00h\x01\x93"  # POP, BINGET 0, BINGET 1, STACK_GLOBAL
        b"\x8c\x04true\x85R."  # ("true",) REDUCE STOP
    )
    import zipfile

    path = tmp_path / "memo.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("memo/data.pkl", ops)
    with pytest.raises(UnsafeModelFile, match="computed names"):
        check_weights_file(path)


class ScriptedClassifier(torch.nn.Module):
    """The TorchScript contract: embed, from_embeddings and states exported."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(len(VOCAB), 5)
        self.rnn = torch.nn.GRU(5, 7, batch_first=True)
        self.decoder = torch.nn.Linear(7, 2)

    @torch.jit.export
    def from_embeddings(self, emb: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.rnn(emb)[0])

    @torch.jit.export
    def states(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"layer0-hidden": self.rnn(self.embed(ids))[0]}

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.from_embeddings(self.embed(ids))


def test_a_torchscript_checkpoint_runs_like_the_module_itself(tmp_path):
    torch.manual_seed(2)
    module = ScriptedClassifier().eval()
    path = tmp_path / "model.ts"
    with warnings.catch_warnings():  # torch 2.10+ deprecates TorchScript; files still load
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(module), str(path))
    cp = CheckpointConfig("ts", "ts", "ts", 1, "", "torchscript", path, {})
    config = ModelConfig(
        "classifier", ("negative", "positive"), "words", True, "<unk>", "ts", (cp,)
    )
    out = LiveModel(config, cp, VOCAB).run(TEXT)
    ids = torch.as_tensor(out["token_ids"])
    with torch.no_grad():
        p = [torch.softmax(module.decoder(torch.zeros(7)), -1)]
        p += [torch.softmax(module(ids[None, : i + 1])[0, -1], -1) for i in range(len(ids))]
        hidden = module.rnn(module.embed(ids[None]))[0][0].numpy()
    p = torch.stack(p).numpy()
    c = int(p[-1].argmax())
    np.testing.assert_allclose(out["impact"], np.diff(p[:, c]), atol=1e-6)
    np.testing.assert_allclose(out["sources"]["layer0-hidden"], hidden.T, atol=1e-6)
    emb = module.embed(ids[None]).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(module.from_embeddings(emb)[0, -1, c], emb)
    np.testing.assert_allclose(out["saliency_dims"], grad[0].abs().numpy(), rtol=1e-5, atol=1e-7)


def test_prefixes_in_bounded_batches_give_the_same_probabilities(tmp_path, monkeypatch):
    from hiddenscope.extract import saliency

    model, _, _ = classifier_files(tmp_path)
    ids = np.array([1, 2, 3, 4, 5, 8, 1, 2, 6, 9], dtype=np.int64)
    whole = saliency.prefix_probs(model, ids)
    monkeypatch.setattr(saliency, "MAX_PREFIX_STEPS", 25)  # 2 prefixes of 10 per batch
    np.testing.assert_allclose(saliency.prefix_probs(model, ids), whole, atol=1e-6)


def test_extract_names_a_model_whose_scores_do_not_fit_the_classes(tmp_path):
    from hiddenscope.extract import extract
    from hiddenscope.extract.recurrent import ExtractError

    model, _, _ = classifier_files(tmp_path)  # two classes
    with pytest.raises(ExtractError, match=r"3 classes .* float\[B, L, 3\]"):
        extract(model, [[1, 2, 3], [4, 5]], VOCAB, tmp_path / "out", classes=["a", "b", "c"],
                progress=False)  # fmt: skip
    assert not (tmp_path / "out" / "data.h5").exists()
    with pytest.raises(ExtractError, match="need classes"):
        extract(model, [[1, 2]], VOCAB, tmp_path / "out", impact=True, progress=False)


TRICKY = [
    "٣٤ and ۱۲ are digits; so is 42",  # Arabic-Indic and Persian digits: one token each
    "Don't say 'nope' isn't rock'n'roll",  # inner apostrophes, quotes, a second apostrophe
    "it's... great!?—really (10/10), ½ + ² é ß",  # runs of marks, fractions, superscripts, accents
    "ÉCOLE İstanbul KELVIN \u212a  \ttabs\nnew lines",  # case folding that leaves ASCII
    "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_live_tokeniser_splits_as_the_build_did(text):
    # sentiment.tokenize builds the sentiment corpus (lower-cased words); corpora.WORD the KJV
    # one: the live tokeniser must give the same tokens, or a text's words miss the vocabulary
    from hiddenscope.extract import corpora, sentiment

    lower = ModelConfig("classifier", ("negative", "positive"), "words", True, None, None, ())
    cased = ModelConfig("language-model", (), "words", False, None, None, ())
    assert tokenize(text, lower) == sentiment.tokenize(text)
    assert tokenize(text, cased) == corpora.WORD.findall(text)


def test_digits_of_any_script_are_one_token():
    lower = ModelConfig("classifier", ("negative", "positive"), "words", True, None, None, ())
    assert tokenize("٣٤ x", lower) == ["٣٤", "x"]
    assert tokenize("don't stop.", lower) == ["don't", "stop", "."]
