"""The ``sentiment`` demo corpus: generated reviews whose labels follow known rules.

Every sentence is built from clauses ``SUBJECT VERB [NEGATION] [INTENSIFIER] ADJECTIVE``
over a hand-written lexicon (the recipe's ``build.corpus.lexicon``), and its label is
computed, not annotated, from four compositional rules (papers 001 and 003 use exactly
these to probe a sentiment model):

- **plain**: the adjective's polarity decides ("the movie was good").
- **negation**: ``not`` / ``never`` flips it ("the movie was not good" is negative).
- **intensification**: ``very`` / ``extremely`` ... keep it ("extremely bad" is negative).
- **contrast**: ``A but B``: the second clause decides.
- **concession**: ``though A , B`` and ``B though A``: the main clause B decides.

Each sentence records which phenomenon it exercises, so accuracy can be reported per rule
on held-out sentences (sentences that never occur in the training part).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .corpora import WORD
from .recurrent import ExtractError

CLASSES = ["negative", "positive"]
PHENOMENA = ("plain", "negation", "intensification", "contrast", "concession")

SUBJECTS = [
    "the movie", "this film", "the plot", "the acting", "the story", "the script",
    "the ending", "the cast", "the soundtrack", "the dialogue", "this show", "the director",
]  # fmt: skip
VERBS = ["was", "is", "seemed", "felt", "looked"]
OPENERS = ["", "", "", "honestly ,", "overall", "i think", "to be fair ,"]


@dataclass(frozen=True)
class Lexicon:
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    negators: tuple[str, ...]
    intensifiers: tuple[str, ...]

    @classmethod
    def from_recipe(cls, spec: dict) -> Lexicon:
        """``build.corpus.lexicon``: word lists positive, negative, negators, intensifiers."""
        lex = spec.get("lexicon")
        keys = ("positive", "negative", "negators", "intensifiers")
        if not isinstance(lex, dict) or any(
            not isinstance(lex.get(k), list) or not lex.get(k) for k in keys
        ):
            raise ExtractError(
                "build.corpus.lexicon needs non-empty word lists positive, negative, negators "
                "and intensifiers (see datasets/sentiment/dataset.yml)"
            )
        overlap = set(lex["positive"]) & set(lex["negative"])
        if overlap:
            raise ExtractError(
                f"build.corpus.lexicon: {sorted(overlap)[0]!r} is both positive and negative"
            )
        return cls(*(tuple(str(w).lower() for w in lex[k]) for k in keys))


@dataclass(frozen=True)
class Review:
    tokens: list[str]
    label: int  # index into CLASSES
    phenomenon: str


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks: how the corpus and the live text are split."""
    return WORD.findall(text.lower())


class _Generator:
    def __init__(self, lex: Lexicon, rng: np.random.Generator) -> None:
        self.lex, self.rng = lex, rng

    def pick(self, words) -> str:
        return words[int(self.rng.integers(len(words)))]

    def clause(self, negate: bool, intensify: bool) -> tuple[list[str], int]:
        """One clause and its polarity (1 positive, 0 negative)."""
        positive = bool(self.rng.integers(2))
        adjective = self.pick(self.lex.positive if positive else self.lex.negative)
        words = [*self.pick(SUBJECTS).split(), self.pick(VERBS)]
        if negate:
            words.append(self.pick(self.lex.negators))
        if intensify:
            words.append(self.pick(self.lex.intensifiers))
        words.append(adjective)
        return words, int(positive != negate)

    def simple(self) -> tuple[list[str], int]:
        """A clause with negation and intensification each by chance (for compound sentences)."""
        return self.clause(self.rng.random() < 0.3, self.rng.random() < 0.3)

    def review(self, phenomenon: str) -> Review:
        if phenomenon == "plain":
            words, label = self.clause(False, False)
        elif phenomenon == "negation":
            words, label = self.clause(True, self.rng.random() < 0.3)
        elif phenomenon == "intensification":
            words, label = self.clause(False, True)
        elif phenomenon == "contrast":
            (a, _), (b, label) = self.simple(), self.simple()
            words = [*a, "but", *b]
        else:  # concession: the main clause decides, whichever side "though" is on
            (sub, _), (main, label) = self.simple(), self.simple()
            if self.rng.random() < 0.5:
                words = ["though", *sub, ",", *main]
            else:
                words = [*main, "though", *sub]
        opener = self.pick(OPENERS).split()
        # The full stop is left out now and then, so the model must decide at whatever token
        # a typed sentence ends with, not only at "."
        end = ["."] if self.rng.random() < 0.6 else []
        return Review([*opener, *words, *end], label, phenomenon)


def reviews(n: int, lex: Lexicon, seed: int, mix: dict | None = None) -> list[Review]:
    """``n`` generated reviews; ``mix`` gives each phenomenon's share (default: equal)."""
    weights = np.array([float((mix or {}).get(p, 1.0)) for p in PHENOMENA])
    if n < 1 or (weights < 0).any() or weights.sum() <= 0:
        raise ExtractError(
            f"sentiment corpus: sentences={n} must be >= 1 and build.corpus.mix shares >= 0 "
            f"with a positive sum, one per phenomenon of {', '.join(PHENOMENA)}"
        )
    rng = np.random.default_rng(seed)
    gen = _Generator(lex, rng)
    kinds = rng.choice(len(PHENOMENA), size=n, p=weights / weights.sum())
    return [gen.review(PHENOMENA[k]) for k in kinds]


def split_held_out(items: list[Review], share: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of training and held-out reviews; no held-out sentence occurs in training."""
    if not 0 < share < 1:
        raise ExtractError(f"build.corpus.held_out={share} must be between 0 and 1 (a share)")
    rng = np.random.default_rng(seed + 1)
    texts = sorted({" ".join(r.tokens) for r in items})
    order = rng.permutation(len(texts))
    held = {texts[i] for i in order[: max(1, int(round(share * len(texts))))]}
    test = [i for i, r in enumerate(items) if " ".join(r.tokens) in held]
    train = [i for i, r in enumerate(items) if " ".join(r.tokens) not in held]
    return train, test


def vocabulary(lex: Lexicon, unk: str) -> list[str]:
    """Every word the generator can write, after ``unk`` (id 0), in a fixed order."""
    words = {unk}
    for group in (SUBJECTS, VERBS, OPENERS):
        for phrase in group:
            words.update(phrase.split())
    for group in (lex.positive, lex.negative, lex.negators, lex.intensifiers):
        words.update(group)
    words.update(["but", "though", ",", "."])
    return [unk] + sorted(words - {unk})
