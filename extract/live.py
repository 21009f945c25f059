"""Run a data set's model on the user's own text (the server's ``run`` operation).

:func:`load_checkpoint` reads one checkpoint of a data set's ``model:`` section
(hiddenscope.server.store.models): a state dict, loaded with ``torch.load(weights_only=True)``
into the named architecture (the server's store has checked the file to hold only tensors
first), or a TorchScript archive. :class:`LiveModel` then answers ``run(text)``: tokens,
states of the requested sources, the output, word impact, saliency and variance (saliency.py).

States come from the same taps as the extractor's (tap.py, model_call.py), so the cells
of the extracted checkpoint read exactly as they do in the corpus. A TorchScript model
cannot be tapped; it provides ``embed`` (its nn.Embedding), an exported
``from_embeddings(emb float[B, L, E]) -> float[B, L, C]`` and an exported
``states(ids int64[B, L]) -> Dict[str, float[B, L, D]]`` keyed by source id
(``layer0-hidden``...).
"""

from __future__ import annotations

import math
import warnings
from contextlib import ExitStack

import numpy as np
import torch
from torch import nn

from .classifier import SequenceClassifier
from .corpora import WORD
from .model_call import ModelCaller
from .recurrent import ExtractError
from .saliency import impact_of, prefix_probs, saliency_of, variance_of
from .train import TokenLM

MAX_TEXT = 1000
TOP_K = 5


class RunError(ValueError):
    """Bad input to ``run`` (an unknown token with no ``unk``, an empty text, a bad source)."""


def _build(checkpoint, vocab_size: int) -> nn.Module:
    cfg = {"vocab_size": vocab_size, **checkpoint.config}
    if checkpoint.architecture == "sequence-classifier":
        return SequenceClassifier.from_config(cfg)
    if checkpoint.architecture == "token-lm":
        return TokenLM.from_recipe(int(cfg["vocab_size"]), cfg)
    raise ExtractError(f"architecture {checkpoint.architecture!r} is unknown")


def load_checkpoint(checkpoint, vocab_size: int) -> nn.Module:
    """The model of ``checkpoint`` (a store ``CheckpointConfig``) in eval mode.

    A state dict goes through torch's restricted unpickler (``weights_only=True``), which
    refuses any global but tensors and containers; the server has also scanned the file
    before (store/models.py ``check_weights_file``). Nothing unpickles an arbitrary object.
    """
    if checkpoint.format == "torchscript":
        with warnings.catch_warnings():  # deprecated since torch 2.10, still read
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(checkpoint.file), map_location="cpu").eval()
    weights = torch.load(checkpoint.file, map_location="cpu", weights_only=True)
    model = _build(checkpoint, vocab_size)
    model.load_state_dict(weights)
    return model.eval()


def tokenize(text: str, config) -> list[str]:
    """Split ``text`` as the data set was: words and marks, or characters."""
    if config.lowercase:
        text = text.lower()
    return list(text) if config.tokenizer == "characters" else WORD.findall(text)


class LiveModel:
    """One loaded checkpoint of a data set's model, ready for :meth:`run`."""

    def __init__(self, config, checkpoint, vocab: list[str | None]) -> None:
        """``config``, ``checkpoint``: the store's ModelConfig and CheckpointConfig."""
        self.config, self.checkpoint = config, checkpoint
        self.model = load_checkpoint(checkpoint, len(vocab))
        self.index = {w: i for i, w in enumerate(vocab) if w is not None}
        self.unk = self.index.get(config.unk) if config.unk is not None else None
        self.scripted = isinstance(self.model, torch.jit.ScriptModule)
        if self.scripted:  # no taps inside TorchScript: the module names its own states
            probe = self.model.states(torch.zeros((1, 1), dtype=torch.int64))
            self.state_ids = list(probe)
        else:
            self.caller = ModelCaller(self.model, False, None, None, 1 << 16, 1, True)
            self.state_ids = [key.id for t in self.caller.taps for key in t.keys]
        self.classes = list(config.classes)

    def ids_of(self, tokens: list[str]) -> tuple[np.ndarray, list[dict]]:
        """``int64[n]`` ids and the unknown tokens ``[{index, token}]`` (mapped to ``unk``)."""
        ids, unknown = [], []
        for i, tok in enumerate(tokens):
            idx = self.index.get(tok)
            if idx is None:
                unknown.append({"index": i, "token": tok})
                idx = self.unk
            ids.append(-1 if idx is None else idx)
        if unknown and self.unk is None:
            shown = ", ".join(repr(u["token"]) for u in unknown[:5])
            raise RunError(
                f"text has tokens outside the vocabulary ({shown}) and the model has no "
                "unknown-token entry; use only tokens of the data set"
            )
        return np.array(ids, dtype=np.int64), unknown

    def states(self, ids: np.ndarray, wanted: list[str]) -> dict[str, np.ndarray]:
        """``{source id: float32[D, n]}`` (cells x steps), as the extractor would write them."""
        if self.scripted:
            with torch.inference_mode():
                out = self.model.states(torch.as_tensor(ids)[None])
            return {sid: out[sid][0].float().numpy().T for sid in wanted}
        with ExitStack() as stack, torch.inference_mode():
            self.caller.enter(stack)
            states, _, _ = self.caller.call(ids[None], np.array([len(ids)]), None)
        by_id = {key.id: value for key, value in states.items()}
        return {sid: by_id[sid][0].float().numpy().T for sid in wanted}

    def run(self, text: str, sources: list[str] | None = None) -> dict:
        """The ``run`` answer for ``text`` (see openapi.yaml, operation runModel)."""
        tokens = tokenize(text, self.config)
        if not tokens:
            raise RunError(f"text {text[:40]!r} holds no tokens; type a sentence")
        wanted = self.state_ids if sources is None else list(dict.fromkeys(sources))
        bad = [s for s in wanted if s not in self.state_ids]
        if bad:
            raise RunError(
                f"sources: {bad[0]!r} is not a state of checkpoint {self.checkpoint.id!r}; "
                f"it has {', '.join(self.state_ids)}"
            )
        ids, unknown = self.ids_of(tokens)
        prior = np.full(self.n_outputs, 1.0 / self.n_outputs)
        probs = prefix_probs(self.model, ids, prior)  # [n+1, C]: every prefix in one batch
        c = int(np.argmax(probs[-1]))
        dims, emb = saliency_of(self.model, ids, c)
        return {
            "tokens": tokens,
            "token_ids": ids,
            "unknown": unknown,
            "sources": self.states(ids, wanted),
            "output": self.output(probs, ids, c),
            "impact": impact_of(probs, c),
            "saliency": np.linalg.norm(dims, axis=1),
            "saliency_dims": dims,
            "variance": variance_of(emb),
        }

    @property
    def n_outputs(self) -> int:
        decoder = getattr(self.model, "decoder", None)
        return int(decoder.out_features) if isinstance(decoder, nn.Linear) else len(self.classes)

    def output(self, probs: np.ndarray, ids: np.ndarray, c: int) -> dict:
        """Class probabilities (classifier), or the next-token top-K and surprisal (LM)."""
        final = probs[-1]
        if self.config.task == "classifier":
            return {
                "kind": "classifier",
                "classes": self.classes,
                "probs": final,
                "predicted": c,
                "label": self.classes[c] if c < len(self.classes) else str(c),
            }
        top = np.argsort(-final)[:TOP_K]
        # Prefix i's distribution scores token i+1: surprisal of each token after the first.
        seen = probs[np.arange(1, len(ids)), ids[1:]]
        return {
            "kind": "language_model",
            "predicted": c,
            "top_ids": top,
            "top_probs": final[top],
            "surprisal": np.concatenate([[math.nan], -np.log2(np.maximum(seen, 1e-30))]),
        }
