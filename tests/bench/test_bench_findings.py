"""bench/bench_findings.py: LSTMVis §6.1 and §6.2 through the API, on data sets written by
the extractor's writer with a planted cell (every phrase found) and without one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from hiddenscope.extract.recurrent import StateKey
from hiddenscope.extract.writer import DatasetWriter, Track

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "bench_findings", ROOT / "bench" / "bench_findings.py"
)
bench_findings = importlib.util.module_from_spec(_spec)
sys.modules["bench_findings"] = bench_findings
_spec.loader.exec_module(bench_findings)

IOB = ["O", "B-NP", "I-NP"]
DEPTHS = [f"depth {d}" for d in range(5)]
PARENS = ["(", ")", "0", "1", "2", "3", "4"]


def write(folder: Path, offsets, tokens, track: Track, labels, states, vocab) -> Path:
    """One categorical track and one layer-0 hidden source, through the extractor's writer."""
    key = StateKey(0, "forward", "hidden")
    writer = DatasetWriter(folder, np.asarray(offsets), [(key, states.shape[1])], [track], vocab)
    writer.write("tokens", 0, np.asarray(tokens, dtype=np.int32))
    writer.write(key.path, 0, states.astype(np.float32))
    writer.write(f"meta/{track.name}", 0, np.asarray(labels, dtype=np.int32))
    return writer.commit(folder.name, "test data")


def chunk_labels(T: int, seed: int) -> np.ndarray:
    """IOB ids: chunks of 1-4 tokens between runs of 1-3 outside tokens."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < T:
        out += [0] * int(rng.integers(1, 4))
        out += [1] + [2] * int(rng.integers(0, 4))
    return np.array(out[:T])


def direct_chunks(iob: list[str], offsets, count: int, within: int) -> list[tuple[int, int]]:
    """Chunks of 2-3 tokens read off the labels one by one: each B-NP and the I-NPs after it."""
    spans, T = [], len(iob)
    for t in range(T):
        if iob[t] == "B-NP":
            end = t
            while end + 1 < T and iob[end + 1] == "I-NP" and end + 1 not in set(offsets):
                end += 1
            if end < within and end - t + 1 in (2, 3):
                spans.append((t, end))
    return spans[:count]


def test_noun_chunks_are_the_first_two_to_three_token_chunks():
    ids = chunk_labels(400, 0)
    iob = [IOB[i] for i in ids]
    offsets = [0, 77, 200, 400]
    for within in (50, 150, 400):
        got = bench_findings.noun_chunks(iob, offsets, 10, within)
        assert got == direct_chunks(iob, offsets, 10, within)
        for a, b in got:
            assert iob[a] == "B-NP" and all(x == "I-NP" for x in iob[a + 1 : b + 1])


def test_depth4_phrases_start_with_a_bracket_and_stay_at_depth_4():
    rng = np.random.default_rng(1)
    depth = np.clip(np.cumsum(rng.choice([-1, 1], size=500)), 0, 4)
    tokens = rng.integers(0, len(PARENS), size=500)
    tokens[1:][np.diff(depth) > 0] = 0  # a step up is an opening bracket
    offsets = np.array([0, 250, 500])
    got = bench_findings.depth4_phrases(depth, tokens, PARENS, offsets, 5)
    assert got
    for a, b in got:
        assert PARENS[tokens[a]] == "(" and (depth[a : b + 1] == 4).all() and b > a
        assert b + 1 == len(depth) or depth[b + 1] != 4 or b + 1 == 250


def english(folder: Path, planted: bool) -> Path:
    T, D = 1500, 6
    ids = chunk_labels(T, 2)
    rng = np.random.default_rng(3)
    if planted:  # cell 2 is on exactly inside noun chunks; the others never reach 0.1
        states = rng.normal(scale=0.01, size=(T, D))
        states[:, 2] = np.where(ids > 0, 0.9, -0.9)
    else:
        states = np.tanh(rng.normal(size=(T, D)))
    track = Track("noun_chunk", "categorical", list(IOB))
    return write(folder, [0, 700, T], rng.integers(0, 5, T), track, ids, states, list("abcde"))


def test_section_62_finds_every_chunk_of_a_planted_noun_chunk_cell(tmp_path):
    result = bench_findings.lstmvis_62(english(tmp_path / "planted", True), 10, [0.5], 1, 1000)
    assert result["layer0-hidden", 0.5] == [1.0] * 10


def test_section_62_finds_nothing_in_noise(tmp_path):
    result = bench_findings.lstmvis_62(english(tmp_path / "noise", False), 10, [0.3, 0.5], 1, 1000)
    chunk_share = (chunk_labels(1500, 2) > 0).mean()
    for scores in result.values():
        assert sum(s >= 0.8 for s in scores) <= 2
        assert np.mean(scores) < chunk_share + 0.2


def test_section_61_on_a_planted_depth_4_cell(tmp_path):
    rng = np.random.default_rng(4)
    T = 4000
    depth, tokens, d = [], [], 0
    while len(depth) < T:  # brackets, then digits equal to the depth reached
        d += 1 if d == 0 or (d < 4 and rng.random() < 0.6) else -1
        depth.append(d), tokens.append(0 if d > (depth[-2] if len(depth) > 1 else 0) else 1)
        for _ in range(int(rng.integers(1, 3))):
            depth.append(d), tokens.append(2 + d)
    depth, tokens = np.array(depth[:T]), np.array(tokens[:T])
    states = rng.normal(scale=0.01, size=(T, 5))
    states[:, 4] = np.where(depth == 4, 0.9, -0.9)
    track = Track("depth", "categorical", list(DEPTHS))
    folder = write(tmp_path / "parens", [0, 2000, T], tokens, track, depth, states, PARENS)
    result = bench_findings.lstmvis_61(folder, 5, [0.5], 1)
    assert result["layer0-hidden", 0.5] == [50] * 5


def test_no_folder_is_a_usage_error():
    with pytest.raises(SystemExit):
        bench_findings.main([])
