"""``hiddenscope build datasets/sentiment``: corpus, two classifiers with checkpoints, extraction.

The recipe (``build:`` of datasets/sentiment/dataset.yml) names the generated corpus
(sentiment.py), the architectures to train (``model.cells``: an LSTM and a GRU by default),
the training (``train.checkpoints`` state dicts kept per model, spread through training)
and the extraction: the states of the LSTM's last checkpoint over every sentence, with the
per-step tracks ``phenomenon``, ``split``, ``gold``, ``predicted``, ``confidence``,
``impact`` and ``saliency``, the sequence-level ``gold``/``predicted``/``confidence``, and
the ``model:`` section that lets the server run every checkpoint on typed text.
Held-out accuracy per phenomenon is printed for every checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from . import sentiment
from .classifier import checkpoint_steps, predict, save_weights, train_classifier
from .extractor import extract
from .writer import Track

MODELS_DIR = "models"


class CorpusTracks:
    """Annotator of the per-sentence facts known from generation: ``phenomenon`` and ``split``."""

    def __init__(self, items: list[sentiment.Review], held_out: set[int]) -> None:
        self.items, self.held_out = items, held_out
        self.tracks = [
            Track("phenomenon", "categorical", list(sentiment.PHENOMENA)),
            Track("split", "categorical", ["train", "held-out"]),
        ]
        self._next = 0  # chunks arrive in corpus order

    def annotate(self, sequences: list[list[str]]) -> list[dict]:
        out = []
        for words in sequences:
            i, n = self._next, len(words)
            self._next += 1
            out.append({
                "phenomenon": [sentiment.PHENOMENA.index(self.items[i].phenomenon)] * n,
                "split": [int(i in self.held_out)] * n,
            })  # fmt: skip
        return out


def accuracy_by_phenomenon(
    probs: np.ndarray, items: list[sentiment.Review], rows: list[int]
) -> dict[str, tuple[float, int]]:
    """``{phenomenon: (accuracy, sentences)}`` over ``rows``, plus ``all``."""
    right = probs.argmax(1) == np.array([items[i].label for i in rows])
    kinds = np.array([items[i].phenomenon for i in rows])
    out = {p: (float(right[kinds == p].mean()), int((kinds == p).sum()))
           for p in sentiment.PHENOMENA if (kinds == p).any()}  # fmt: skip
    out["all"] = (float(right.mean()), len(rows))
    return out


def build_sentiment(folder: Path, config: dict, recipe: dict, progress: bool, echo) -> Path:
    """Build the sentiment data set in ``folder`` from ``recipe`` (already merged with quick)."""
    started = time.perf_counter()
    seed = int(recipe.get("seed", 0))
    spec, model_cfg, train_cfg = recipe["corpus"], recipe["model"], recipe["train"]
    lex = sentiment.Lexicon.from_recipe(spec)
    items = sentiment.reviews(int(spec["sentences"]), lex, seed, spec.get("mix"))
    train_rows, test_rows = sentiment.split_held_out(items, float(spec.get("held_out", 0.2)), seed)
    unk = spec.get("unk", "<unk>")
    vocab = sentiment.vocabulary(lex, unk)
    index = {w: i for i, w in enumerate(vocab)}
    ids = [np.array([index[w] for w in r.tokens], dtype=np.int64) for r in items]
    labels = np.array([r.label for r in items], dtype=np.int64)
    echo(f"corpus: {len(items):,} generated reviews ({len(test_rows):,} held out), "
         f"{sum(map(len, ids)):,} tokens, vocabulary {len(vocab)}")  # fmt: skip
    checkpoints, finals = [], {}
    for cell in model_cfg.get("cells", ["lstm", "gru"]):
        arch = {"classes": len(sentiment.CLASSES), "embedding": int(model_cfg["embedding"]),
                "hidden": int(model_cfg["hidden"]), "layers": int(model_cfg.get("layers", 1)),
                "cell": cell}  # fmt: skip
        steps = checkpoint_steps(int(train_cfg["steps"]), int(train_cfg.get("checkpoints", 6)))

        def save(model, step, cell=cell, arch=arch, steps=steps):
            name = f"{cell}-step{step:05d}"
            save_weights(model, folder / MODELS_DIR / f"{name}.pt")
            acc = accuracy_by_phenomenon(
                predict(model, [ids[i] for i in test_rows]), items, test_rows
            )
            checkpoints.append({
                "id": name, "label": f"{cell.upper()}, step {step} of {steps[-1]}",
                "model": cell, "step": step, "architecture": "sequence-classifier",
                "format": "state_dict", "file": f"{MODELS_DIR}/{name}.pt", "config": arch,
            })  # fmt: skip
            echo(f"  {name}: held-out accuracy " + ", ".join(
                f"{k} {a:.3f} ({n})" for k, (a, n) in acc.items()))  # fmt: skip

        model = train_classifier(
            [ids[i] for i in train_rows], labels[train_rows], {**arch, "vocab_size": len(vocab)},
            train_cfg, seed, save, progress,
        )  # fmt: skip
        finals[cell] = (model, checkpoints[-1]["id"])
    extracted_cell = model_cfg.get("extract", next(iter(finals)))
    model, extracted = finals[extracted_cell]
    spec_x = recipe["extract"]
    held = set(test_rows)
    torch.manual_seed(seed)
    extract(
        model,
        ids,
        vocab,
        folder,
        annotators=[CorpusTracks(items, held)],
        name=config.get("name", folder.name),
        description=config.get("description"),
        batch_size=spec_x.get("batch_size", 64),
        gates=spec_x.get("gates", False),
        force=True,
        progress=progress,
        build=config["build"],
        classes=sentiment.CLASSES,
        gold=labels,
        impact=spec_x.get("impact", True),
        saliency=spec_x.get("saliency", True),
        extra_config={
            "model": {
                "task": "classifier",
                "classes": list(sentiment.CLASSES),
                "tokenizer": "words",
                "lowercase": True,
                "unk": unk,
                "extracted": extracted,
                "checkpoints": checkpoints,
            }
        },  # fmt: skip
    )
    echo(f"built {folder} in {time.perf_counter() - started:.1f} s")
    return folder
