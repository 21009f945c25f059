"""Word impact (paper 001), first-derivative and variance saliency (paper 003).

For a text ``x_1 .. x_n`` and the class ``c`` predicted on the whole text:

- ``impact[i] = p_c(x_1..x_i) - p_c(x_1..x_{i-1})``; ``p_c`` of the empty prefix comes from
  the model's initial state (the decoder applied to the zero state) where it has one, else
  from the class prior given by the caller.
- ``saliency_dims[i, d] = |dS_c / de_{i,d}|`` with ``S_c`` the logit of ``c`` on the whole
  text and ``e_i`` the embedding of word ``i`` (autograd); ``saliency[i]`` its L2 norm over d.
- ``variance[i, d] = (e_{i,d} - mean_i' e_{i',d})^2`` (003, "Average and Variance").

A model here has ``embed`` (an nn.Embedding) and either ``from_embeddings(emb)`` or the
``lstm``/``decoder`` pair of the language model in train.py; its output is per-step scores
``float[B, L, C]`` (classes, or next tokens for a language model).

:class:`ClassifierTracks` writes these as per-step meta tracks over a whole corpus (and the
gold / predicted / confidence tracks), hooked into :func:`hiddenscope.extract.extract`.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .classifier import last_logits, pad
from .recurrent import ExtractError
from .writer import Track

MAX_PREFIX_STEPS = 1 << 16  # padded prefix steps run at once (a 256-token text: one batch)


def scores_from_embeddings(model: nn.Module, emb: torch.Tensor) -> torch.Tensor:
    """Per-step scores ``float[B, L, C]`` of embedded input ``emb float[B, L, E]``."""
    if hasattr(model, "from_embeddings"):
        return model.from_embeddings(emb)
    out, _ = model.lstm(emb)  # the language model of train.py: embed -> lstm -> decoder
    return model.decoder(out)


def empty_prefix_probs(model: nn.Module, prior: np.ndarray | None) -> torch.Tensor:
    """``p(. | empty prefix)`` ``float[C]``: decoder on the zero initial state, else ``prior``."""
    decoder = getattr(model, "decoder", None)  # an nn.Linear, or its TorchScript form
    width = getattr(decoder, "in_features", None)
    if isinstance(width, int):
        return torch.softmax(decoder(torch.zeros(width)), -1)
    if prior is None:
        raise ValueError("the model has no initial-state output; pass the class prior")
    return torch.as_tensor(np.asarray(prior, dtype=np.float32))


@torch.no_grad()
def prefix_probs(model: nn.Module, ids: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
    """``float32[n+1, C]``: row ``i`` is ``p(. | x_1..x_i)``, row 0 the empty prefix.

    The ``n`` non-empty prefixes run as one padded batch, each row read at its own last
    step, so the answer holds for any model (also one whose outputs look ahead).
    """
    n = len(ids)
    prefixes = [np.asarray(ids[: i + 1]) for i in range(n)]
    # One batch, unless the padded batch would pass MAX_PREFIX_STEPS (a 1,000-character text
    # of a character model is 10^6 steps): then batches of rows, so memory stays bounded.
    rows = max(1, MAX_PREFIX_STEPS // max(1, n))
    parts = [empty_prefix_probs(model, prior)[None]]
    for a in range(0, n, rows):
        x, lengths = pad(prefixes[a : a + rows])
        logits = last_logits(scores_from_embeddings(model, model.embed(x)), lengths)
        parts.append(torch.softmax(logits, -1))
    return torch.cat(parts).float().numpy()


def impact_of(probs: np.ndarray, c: int) -> np.ndarray:
    """``float32[n]``: the change of ``p_c`` as each word is added (``probs`` from prefix_probs)."""
    return np.diff(probs[:, c]).astype(np.float32)


def saliency_of(model: nn.Module, ids: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """``(saliency_dims float32[n, E], embeddings float32[n, E])`` of the logit ``S_c`` at the
    text's last step with respect to each word's embedding."""
    with torch.enable_grad():
        emb = model.embed(torch.as_tensor(np.asarray(ids, dtype=np.int64))[None]).detach()
        emb.requires_grad_(True)
        score = scores_from_embeddings(model, emb)[0, -1, c]
        (grad,) = torch.autograd.grad(score, emb)
    return grad[0].abs().numpy().astype(np.float32), emb[0].detach().numpy().astype(np.float32)


def variance_of(emb: np.ndarray) -> np.ndarray:
    """``float32[n, E]``: ``(e_ij - mean_i e_ij)^2`` (003's variance salience)."""
    emb = np.asarray(emb, dtype=np.float64)
    return ((emb - emb.mean(axis=0, keepdims=True)) ** 2).astype(np.float32)


class ClassifierTracks:
    """Per-step tracks of a classifier over the corpus, as an annotator of the extractor.

    Tracks: ``gold`` and ``predicted`` (categorical, the sequence's class on every step),
    ``confidence`` (p of the predicted class), and on request ``impact`` and ``saliency``
    (``|dS_c/de_t|`` L2 norm), as defined above with ``c`` the sequence's prediction. For a
    one-directional model ``p_c`` of prefix ``x_1..x_t`` is its score at step ``t``, so one
    pass gives every prefix. The same values per sequence are kept in
    :attr:`sequence_values` for the sequence-level tables.

    The extractor calls :meth:`annotate` once per chunk, chunks in corpus order; the model
    is a private copy, so the extractor's taps on the original do not see these passes.
    """

    def __init__(
        self,
        model: nn.Module,
        classes: list[str],
        vocab: list[str],
        gold: np.ndarray | None,
        impact: bool,
        saliency: bool,
        batch_size: int = 64,
    ) -> None:
        self.model = copy.deepcopy(model).eval()
        self.classes, self.gold = list(classes), gold
        self.impact, self.saliency, self.batch_size = impact, saliency, batch_size
        self.index = {w: i for i, w in enumerate(vocab)}
        self.tracks = [Track("predicted", "categorical", list(classes))]
        self.sequence_tracks = [
            Track("predicted", "categorical", list(classes)),
            Track("confidence", "scalar", vis_range=[0.0, 1.0]),
        ]
        if gold is not None:
            self.tracks.insert(0, Track("gold", "categorical", list(classes)))
            self.sequence_tracks.insert(0, Track("gold", "categorical", list(classes)))
        self.tracks.append(Track("confidence", "scalar", vis_range=[0.0, 1.0]))
        if impact:
            self.tracks.append(Track("impact", "scalar", vis_range=[-1.0, 1.0]))
        if saliency:
            self.tracks.append(Track("saliency", "scalar"))
        self.sequence_values: dict[str, list] = {t.name: [] for t in self.sequence_tracks}
        self._next = 0  # index of the next sequence (chunks arrive in order)

    def annotate(self, sequences: list[list[str]]) -> list[dict]:
        out = []
        for a in range(0, len(sequences), self.batch_size):
            out.extend(self._batch(sequences[a : a + self.batch_size]))
        return out

    def _batch(self, words: list[list[str]]) -> list[dict]:
        ids = [np.array([self.index[w] for w in s], dtype=np.int64) for s in words]
        # The extractor runs under inference_mode; saliency needs a graph (and tensors made
        # outside inference mode, the padded batch included).
        with torch.inference_mode(False), torch.enable_grad():
            x, lengths = pad(ids)
            emb = self.model.embed(x).detach().requires_grad_(self.saliency)
            logits = scores_from_embeddings(self.model, emb)
            if logits.dim() != 3 or logits.shape[-1] != len(self.classes):
                raise ExtractError(
                    f"classes names {len(self.classes)} classes but the model's per-step scores "
                    f"have shape {tuple(logits.shape)}; a classifier returns float[B, L, "
                    f"{len(self.classes)}] (the scores after every step)"
                )
            final = last_logits(logits, lengths)
            predicted = final.argmax(-1)
            grads = None
            if self.saliency:
                # Rows are independent, so the gradient of the sum is each row's own.
                picked = final.gather(1, predicted[:, None]).sum()
                (grads,) = torch.autograd.grad(picked, emb)
            probs = torch.softmax(logits.detach(), -1)
            start = empty_prefix_probs(self.model, None).detach()
        results = []
        for b, s in enumerate(ids):
            n, c = len(s), int(predicted[b])
            p_c = probs[b, :n, c].numpy()
            conf = float(p_c[-1])
            gold = int(self.gold[self._next]) if self.gold is not None else None
            self._next += 1
            row = {"predicted": [c] * n, "confidence": np.full(n, conf, np.float32)}
            if gold is not None:
                row["gold"] = [gold] * n
            if self.impact:
                row["impact"] = np.diff(np.concatenate([[float(start[c])], p_c]))
            if grads is not None:
                row["saliency"] = grads[b, :n].norm(dim=-1).numpy()
            for name, value in (("gold", gold), ("predicted", c), ("confidence", conf)):
                if name in self.sequence_values:
                    self.sequence_values[name].append(value)
            results.append(row)
        return results
