"""``hiddenscope build datasets/NAME``: follow a dataset.yml's ``build:`` recipe.

A recipe names a corpus, a model, its training and the extraction::

    build:
      seed: 0
      corpus: {kind: parens, sequences: 400, length: 250, max_depth: 4}
      model: {embedding: 16, hidden: 64, layers: 2}
      train: {steps: 600, batch_size: 32, bptt: 100, lr: 0.005}
      extract: {max_tokens: 100000, top_k: 5, surprisal: true, gates: false}
      quick: {corpus: {sequences: 20}, train: {steps: 20}}   # merged in by --quick

The trained weights are kept in ``checkpoint.pt`` (reused while the recipe is unchanged),
the data set is written atomically by :func:`hiddenscope.extract.extract`, and the
``build:`` section is written back unchanged into the new dataset.yml.
"""

from __future__ import annotations

import copy
import difflib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from . import corpora
from .code_meta import CodeAnnotator, DepthAnnotator
from .extractor import extract
from .recurrent import ExtractError
from .train import load_or_train, recipe_hash

SECTIONS = ("corpus", "model", "train", "extract")
REQUIRED = {
    "model": ("embedding", "hidden", "layers"),
    "train": ("steps", "batch_size", "bptt", "lr"),
    "corpus:parens": ("sequences", "length", "max_depth"),
    "corpus:python_stdlib": ("max_chars", "max_file_chars"),
    "corpus:kjv": ("max_tokens",),
    "model:mamba": ("d_model", "layers"),  # build.model.kind: mamba | mingru (window_train.py)
    "model:mingru": ("embedding", "hidden", "layers"),
    "corpus:sentiment": ("sentences", "lexicon"),
    "model:sentiment": ("embedding", "hidden"),
    "train:sentiment": ("steps", "batch_size", "lr"),
}
# every key a recipe may set, per section (datasets/README.md documents each); any other
# key is refused by name, so a misspelled one (``stpes``) never trains silently with defaults
KNOWN = {
    "build": {"seed", "corpus", "model", "train", "extract", "quick", "presets"},
    "corpus": {
        "kind", "sequences", "length", "max_depth", "max_chars", "max_file_chars",
        "max_tokens", "min_count", "max_vocab", "sentences", "held_out", "unk", "mix", "lexicon",
        "strip_comments",
    },
    "model": {
        "kind", "embedding", "hidden", "layers", "dropout", "output_dropout",
        "d_model", "d_state", "expand", "d_conv", "cells", "extract",
    },
    "train": {
        "steps", "batch_size", "bptt", "lr", "clip", "schedule", "warmup", "final_lr",
        "heldout", "eval_every", "checkpoints",
    },
    "extract": {
        "max_tokens", "gates", "top_k", "surprisal", "batch_size", "window", "modules",
        "ssm_state", "impact", "saliency",
    },
}  # fmt: skip
CLASSIFIER_KINDS = ("sentiment",)  # corpora whose recipe trains classifiers (sentiment_build.py)


@dataclass
class Corpus:
    """Token strings per sequence, the vocabulary and the meta-track annotators."""

    seqs: list[list[str]]
    vocab: list[str]
    unk: str | None
    annotators: list = field(default_factory=list)
    source: str = ""


def read_recipe(folder: Path, quick: bool, preset: str | None = None) -> tuple[dict, dict]:
    """``(config, recipe)`` from ``folder/dataset.yml``; ``--quick`` overrides (the recipe's
    ``quick:`` section) or ``--preset NAME`` overrides (``presets: {NAME: ...}``) merged in."""
    path = folder / "dataset.yml"
    if not path.is_file():
        raise ExtractError(
            f"{path} not found; name a folder with a dataset.yml that has a build: section"
        )
    config = yaml.safe_load(path.read_text()) or {}
    recipe = config.get("build")
    if not isinstance(recipe, dict):
        raise ExtractError(
            f"{path} has no build: section, so there is nothing to build; "
            "see datasets/README.md for the recipe keys"
        )
    missing = [s for s in SECTIONS if not isinstance(recipe.get(s), dict)]
    if missing:
        raise ExtractError(
            f"{path}: build.{missing[0]} is missing; a recipe has {', '.join(SECTIONS)}"
        )
    _check_known(path, "build", recipe, KNOWN["build"])
    for name in SECTIONS:  # each a mapping (checked above)
        _check_known(path, f"build.{name}", recipe[name], KNOWN[name])
    presets = recipe.get("presets") or {}
    if not isinstance(presets, dict):
        raise ExtractError(
            f"{path}: build.presets must map preset names to overrides, not {presets!r:.60}"
        )
    for name, section in [("quick", recipe.get("quick"))] + list(presets.items()):
        where = "build.quick" if name == "quick" else f"build.presets.{name}"
        if section is not None and not isinstance(section, dict):
            raise ExtractError(
                f"{path}: {where} must be a mapping of sections, not {section!r:.60}"
            )
        for key, values in (section or {}).items():
            if key not in SECTIONS:
                _refuse(path, f"{where}.{key}", key, SECTIONS)
            _check_known(path, f"{where}.{key}", values, KNOWN[key])
    merged = copy.deepcopy(recipe)
    overrides = (recipe.get("quick") or {}) if quick else {}
    if preset is not None:
        if preset not in presets:
            names = ", ".join(sorted(presets)) or "none"
            raise ExtractError(
                f"{path}: preset {preset!r} is not in build.presets (this recipe has: {names})"
            )
        overrides = presets[preset]
    for section, values in overrides.items():
        merged.setdefault(section, {}).update(copy.deepcopy(values))
    _check_keys(path, merged)
    return config, merged


def _check_known(path: Path, where: str, section, known: set[str]) -> None:
    """Refuse a key of ``section`` (the ``build:`` mapping, or one of its sections) that is
    not in ``known``, naming the closest known key."""
    if not isinstance(section, dict):
        raise ExtractError(f"{path}: {where} must be a mapping, not {section!r:.60}")
    for key in section:
        if key not in known:
            _refuse(path, f"{where}.{key}", key, known)


def _refuse(path: Path, where: str, key, known) -> None:
    near = difflib.get_close_matches(str(key), sorted(known), n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise ExtractError(
        f"{path}: {where} is not a recipe key; {hint}the keys are {', '.join(sorted(known))} "
        "(datasets/README.md)"
    )


def _check_keys(path: Path, recipe: dict) -> None:
    """Every key the recipe's sections need, before any work starts."""
    kind = recipe["corpus"].get("kind")
    own = kind in CLASSIFIER_KINDS
    arch = recipe["model"].get("kind", "lstm")
    model = "model" if arch == "lstm" else f"model:{arch}"
    for name in (f"model:{kind}" if own else model, f"train:{kind}" if own else "train",
                 f"corpus:{kind}"):  # fmt: skip
        section = name.split(":")[0]
        missing = [k for k in REQUIRED.get(name, ()) if k not in recipe[section]]
        if missing:
            raise ExtractError(
                f"{path}: build.{section}.{missing[0]} is missing; build.{section} needs "
                f"{', '.join(REQUIRED[name])} (see datasets/README.md)"
            )


def _trainer(model_cfg: dict):
    """``load_or_train`` of the recipe's ``build.model.kind`` (default ``lstm``)."""
    if model_cfg.get("kind", "lstm") == "lstm":
        return load_or_train
    from .window_train import load_or_train_recipe

    return load_or_train_recipe


def load_corpus(spec: dict, seed: int) -> Corpus:
    """Read or generate the corpus named by ``build.corpus.kind``."""
    kind = spec.get("kind")
    if kind == "parens":
        seqs, _ = corpora.parens_sequences(
            spec["sequences"], spec["length"], spec["max_depth"], seed
        )
        vocab = corpora.PARENS_VOCAB[: 3 + spec["max_depth"]]
        return Corpus(
            seqs,
            vocab,
            None,
            [DepthAnnotator(spec["max_depth"])],
            f"generated: {len(seqs)} sequences, seed {seed}",
        )
    if kind == "python_stdlib":
        strip = spec.get("strip_comments", False)
        if not isinstance(strip, bool):
            raise ExtractError(
                f"build.corpus.strip_comments is {str(strip)[:40]!r}; use true or false"
            )
        seqs, names = corpora.code_sequences(spec["max_chars"], spec["max_file_chars"], strip)
        return Corpus(
            seqs,
            corpora.CODE_VOCAB,
            corpora.UNK_CHAR,
            [CodeAnnotator(comments=not strip)],
            f"{len(names)} files of the Python {_python()} standard library"
            f"{' without comments' if strip else ''}, {names[0]} .. {names[-1]}",
        )
    if kind == "kjv":
        from .annotate import SpacyAnnotator

        seqs, titles = corpora.kjv_chapters(corpora.kjv_text(), spec["max_tokens"])
        vocab = corpora.build_vocab(
            seqs, min_count=spec.get("min_count", 2), max_size=spec.get("max_vocab")
        )
        return Corpus(
            seqs,
            vocab,
            corpora.UNK_WORD,
            [SpacyAnnotator(joiner=" ")],
            f"King James Bible (public domain), {titles[0]} .. {titles[-1]}",
        )
    raise ExtractError(f"build.corpus.kind {kind!r} is unknown; use parens, python_stdlib or kjv")


def _python() -> str:
    import sys

    return ".".join(map(str, sys.version_info[:3]))


def _first_tokens(ids: list[np.ndarray], max_tokens: int | None) -> int:
    """How many leading sequences fit in ``max_tokens`` (at least one)."""
    if max_tokens is None:
        return len(ids)
    total = np.cumsum([len(s) for s in ids])
    return max(1, int(np.searchsorted(total, max_tokens, side="right")))


def build(
    folder: str | Path,
    *,
    force: bool = False,
    quick: bool = False,
    preset: str | None = None,
    progress: bool = True,
    echo=print,
) -> Path | None:
    """Train (or reuse) the recipe's model and write the data set into ``folder``.

    Returns the folder, or None when it was already built and ``force`` is off.
    """
    folder = Path(folder)
    config, recipe = read_recipe(folder, quick, preset)
    if (folder / "data.h5").exists() and not force:
        echo(f"{folder} is already built (data.h5 exists); --force rebuilds it")
        return None
    if recipe["corpus"].get("kind") in CLASSIFIER_KINDS:
        from .sentiment_build import build_sentiment

        return build_sentiment(folder, config, recipe, progress, echo)
    started = time.perf_counter()
    seed = int(recipe.get("seed", 0))
    torch.manual_seed(seed)
    corpus = load_corpus(recipe["corpus"], seed)
    ids = corpora.to_ids(corpus.seqs, corpus.vocab, corpus.unk)
    echo(
        f"corpus: {corpus.source}; {sum(map(len, ids)):,} tokens, vocabulary {len(corpus.vocab):,}"
    )
    key = recipe_hash({s: recipe[s] for s in ("seed", "corpus", "model", "train") if s in recipe})
    # a preset keeps its own checkpoint, so the default build does not discard a long training
    checkpoint = folder / (f"checkpoint-{preset}.pt" if preset else "checkpoint.pt")
    model, trained = _trainer(recipe["model"])(
        checkpoint,
        key,
        ids,
        len(corpus.vocab),
        recipe["model"],
        recipe["train"],
        seed,
        progress,
        echo,
    )
    echo("model: trained" if trained else f"model: reused {checkpoint.name} (same recipe)")
    spec = recipe["extract"]
    n = _first_tokens(ids, spec.get("max_tokens"))
    extract(
        model,
        ids[:n],
        corpus.vocab,
        folder,
        gates=spec.get("gates", False),
        top_k=spec.get("top_k", 5),
        surprisal=spec.get("surprisal", True),
        annotators=corpus.annotators,
        name=config.get("name", folder.name),
        description=config.get("description"),
        batch_size=spec.get("batch_size", 32),
        window=spec.get("window", 256),
        modules=spec.get("modules"),
        ssm_state=spec.get("ssm_state", "auto"),
        force=True,
        progress=progress,
        build=config["build"],
    )
    echo(f"built {folder} in {time.perf_counter() - started:.1f} s")
    return folder
