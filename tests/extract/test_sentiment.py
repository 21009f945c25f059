"""The sentiment demo: the generated labels follow the stated rules; the quick build writes a
data set whose classifier tracks equal the model's own outputs, gradients and prefixes."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from hiddenscope.extract import sentiment
from hiddenscope.extract.build import build
from hiddenscope.extract.classifier import SequenceClassifier, checkpoint_steps
from hiddenscope.extract.recurrent import ExtractError
from hiddenscope.server.store import open_dataset

ROOT = Path(__file__).resolve().parents[2]
RECIPE = yaml.safe_load((ROOT / "datasets" / "sentiment" / "dataset.yml").read_text())["build"]


def lexicon() -> sentiment.Lexicon:
    return sentiment.Lexicon.from_recipe(RECIPE["corpus"])


def rule_label(tokens: list[str], lex: sentiment.Lexicon) -> int:
    """The label by the rules, read back from the words alone (an independent oracle)."""
    words = [t for t in tokens if t != "."]

    def clause(part: list[str]) -> int:
        adjective = part[-1]
        positive = adjective in lex.positive
        assert positive or adjective in lex.negative, part
        negated = any(w in lex.negators for w in part)
        return int(positive != negated)

    if "but" in words:  # contrast: the second clause decides
        return clause(words[words.index("but") + 1 :])
    if "though" in words:
        at = words.index("though")
        if "," in words[at:]:  # "though A , B": B is the main clause
            return clause(words[at + words[at:].index(",") + 1 :])
        return clause(words[:at])  # "B though A"
    return clause(words)


def test_every_generated_label_follows_the_rules():
    lex = lexicon()
    items = sentiment.reviews(3000, lex, seed=3)
    assert {r.phenomenon for r in items} == set(sentiment.PHENOMENA)
    for r in items:
        assert r.label == rule_label(r.tokens, lex), r
        if r.phenomenon == "negation":
            assert any(w in lex.negators for w in r.tokens)
        if r.phenomenon == "intensification":
            assert any(w in lex.intensifiers for w in r.tokens)
    # both orders of the concession occur, and both labels occur for every phenomenon
    conc = [r for r in items if r.phenomenon == "concession"]
    assert any(r.tokens[0] == "though" for r in conc) and any(r.tokens[0] != "though" for r in conc)
    for p in sentiment.PHENOMENA:
        assert {r.label for r in items if r.phenomenon == p} == {0, 1}


def test_held_out_sentences_never_occur_in_training():
    items = sentiment.reviews(2000, lexicon(), seed=1)
    train, test = sentiment.split_held_out(items, 0.2, seed=1)
    assert sorted(train + test) == list(range(len(items)))
    seen = {" ".join(items[i].tokens) for i in train}
    assert test and not any(" ".join(items[i].tokens) in seen for i in test)


def test_tokenize_and_vocabulary_cover_the_corpus():
    lex = lexicon()
    vocab = sentiment.vocabulary(lex, "<unk>")
    assert vocab[0] == "<unk>" and len(set(vocab)) == len(vocab)
    for r in sentiment.reviews(500, lex, seed=2):
        assert set(r.tokens) <= set(vocab)
        assert sentiment.tokenize(" ".join(r.tokens).upper()) == r.tokens


def test_bad_recipes_are_named():
    with pytest.raises(ExtractError, match="lexicon"):
        sentiment.Lexicon.from_recipe({"lexicon": {"positive": ["good"]}})
    bad = {**RECIPE["corpus"]["lexicon"], "negative": ["good"]}
    with pytest.raises(ExtractError, match="both positive and negative"):
        sentiment.Lexicon.from_recipe({"lexicon": bad})
    with pytest.raises(ExtractError, match="held_out"):
        sentiment.split_held_out(sentiment.reviews(10, lexicon(), 0), 1.5, 0)


def test_checkpoint_steps_double_up_to_the_last():
    assert checkpoint_steps(400, 6) == [12, 25, 50, 100, 200, 400]
    assert checkpoint_steps(5, 6)[-1] == 5 and len(set(checkpoint_steps(5, 6))) <= 6
    with pytest.raises(ExtractError):
        checkpoint_steps(10, 0)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sentiment")
    shutil.copy(ROOT / "datasets" / "sentiment" / "dataset.yml", folder / "dataset.yml")
    build(folder, quick=True, progress=False, echo=lambda *_: None)
    return folder


def model_of(folder: Path, checkpoint_id: str) -> SequenceClassifier:
    config = yaml.safe_load((folder / "dataset.yml").read_text())
    entry = next(c for c in config["model"]["checkpoints"] if c["id"] == checkpoint_id)
    vocab = len(config_vocab(folder))
    model = SequenceClassifier.from_config({"vocab_size": vocab, **entry["config"]})
    model.load_state_dict(torch.load(folder / entry["file"], weights_only=True))
    return model.eval()


def config_vocab(folder: Path) -> list[str]:
    import json

    return json.loads((folder / "vocab.json").read_text())


def test_quick_build_carries_two_models_with_checkpoints(built):
    ds = open_dataset(built)
    model = ds.config.model
    assert model.task == "classifier" and model.classes == ("negative", "positive")
    by_model = {}
    for c in model.checkpoints:
        by_model.setdefault(c.model, []).append(c.step)
        assert c.file.is_file() and c.file.parent == built / "models"
    assert set(by_model) == {"lstm", "gru"}
    assert all(len(steps) >= 3 and steps == sorted(steps) for steps in by_model.values())
    assert model.extracted == [c.id for c in model.checkpoints if c.model == "lstm"][-1]
    assert {"phenomenon", "split", "gold", "predicted", "confidence", "impact", "saliency"} <= set(
        ds.meta
    )
    assert {m.name for m in ds.config.sequence_meta} == {"gold", "predicted", "confidence"}


def test_stored_tracks_equal_the_model_run_on_each_sentence_alone(built):
    """predicted/confidence/impact/saliency and the [N] tables against a direct computation."""
    ds = open_dataset(built)
    model = model_of(built, ds.config.model.extracted)
    offsets = ds.sequence_offsets
    with h5py.File(built / "data.h5", "r") as f:
        seq_pred = f["sequence_meta/predicted"][()]
        seq_conf = f["sequence_meta/confidence"][()]
        seq_gold = f["sequence_meta/gold"][()]
        impact, saliency = f["meta/impact"][()], f["meta/saliency"][()]
        pred, states = f["meta/predicted"][()], f["states/layer0/hidden"][()]
    for i in range(0, ds.sequences, 37):
        a, b = int(offsets[i]), int(offsets[i + 1])
        ids = torch.as_tensor(ds.tokens[a:b].astype(np.int64))
        # each prefix run alone, the empty prefix from the zero state's decoder output
        probs = [torch.softmax(model.decoder(torch.zeros(model.rnn.hidden_size)), -1)]
        probs += [torch.softmax(model(ids[None, : t + 1])[0, -1], -1) for t in range(b - a)]
        probs = torch.stack(probs).detach().numpy()
        c = int(probs[-1].argmax())
        assert seq_pred[i] == c and np.all(pred[a:b] == c)
        assert seq_conf[i] == pytest.approx(probs[-1, c], abs=1e-5)
        np.testing.assert_allclose(impact[a:b], np.diff(probs[:, c]), atol=1e-5)
        emb = model.embed(ids[None]).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.from_embeddings(emb)[0, -1, c], emb)
        np.testing.assert_allclose(
            saliency[a:b], grad[0].norm(dim=-1).numpy(), rtol=1e-4, atol=1e-6
        )
        hidden = model.rnn(model.embed(ids[None]))[0][0].detach().numpy()
        np.testing.assert_allclose(states[a:b], hidden, atol=1e-5)
    labels = ds.config.model.classes
    gold_track = ds.meta["gold"]
    assert gold_track.labels == list(labels)
    np.testing.assert_array_equal(
        seq_gold, [gold_track.window(int(offsets[i]), int(offsets[i]))["values"][0]
                   for i in range(ds.sequences)]
    )  # fmt: skip
