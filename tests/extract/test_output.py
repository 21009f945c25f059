"""The written folder: the store loads it, `hiddenscope check` accepts it, writes are atomic,
an interrupted run restarts cleanly, memory stays bounded, bad input gets a clear error."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hiddenscope.extract import ExtractError, extract
from hiddenscope.extract import extractor as extractor_module
from hiddenscope.extract.writer import STAGING
from torch import nn

from .conftest import VOCAB, TinyLM, random_sequences


def test_store_loads_the_output_and_check_accepts_it(tmp_path, tiny_lm):
    from hiddenscope.server.cli import main
    from hiddenscope.server.store import open_dataset

    seqs = random_sequences(seed=8)
    folder = extract(tiny_lm, seqs, VOCAB, tmp_path / "tiny", gates=True, progress=False)
    ds = open_dataset(folder)
    try:
        assert ds.length == sum(map(len, seqs))
        assert ds.sequences == len(seqs)
        assert set(ds.sources) == {
            f"layer{L}-{k}"
            for L in (0, 1)
            for k in ("hidden", "cell", "gate_i", "gate_f", "gate_g", "gate_o")
        }
        assert {"next", "surprisal"} <= set(ds.meta)
        assert all(s.direct for s in ds.sources.values())  # contiguous, uncompressed
    finally:
        ds.close()
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 of 1 data set(s) ok" in result.output


def test_bidirectional_sources_are_named_by_direction(tmp_path):
    torch.manual_seed(0)
    model = TinyLM(len(VOCAB), hidden=8, layers=1, kind=nn.GRU, bidirectional=True)
    folder = extract(model, random_sequences(seed=9), VOCAB, tmp_path / "bi", progress=False)
    from hiddenscope.server.store import open_dataset

    ds = open_dataset(folder)
    try:
        assert set(ds.sources) == {"layer0-hidden", "layer0-backward-hidden"}
    finally:
        ds.close()
    with h5py.File(folder / "data.h5", "r") as f:
        assert "states/layer0/backward/hidden" in f


def test_interrupted_run_leaves_no_data_set_and_the_next_run_starts_clean(
    tmp_path, tiny_lm, monkeypatch
):
    folder = tmp_path / "ds"
    seqs = random_sequences(seed=10, n=30)
    calls = {"n": 0}
    real = extractor_module._Job.run_chunk

    def dying(self, chunk, bar):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the middle
        return real(self, chunk, bar)

    monkeypatch.setattr(extractor_module._Job, "run_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        # a tiny memory budget makes several chunks
        extract(tiny_lm, seqs, VOCAB, folder, memory_mb=0, progress=False)
    assert not (folder / "data.h5").exists() and not (folder / "dataset.yml").exists()
    assert not (folder / STAGING).exists()
    monkeypatch.setattr(extractor_module._Job, "run_chunk", real)

    # A killed run (no cleanup at all) leaves its staging folder: the next run removes it.
    (folder / STAGING).mkdir(parents=True)
    (folder / STAGING / "data.h5").write_bytes(b"half a file")
    extract(tiny_lm, seqs, VOCAB, folder, memory_mb=0, progress=False)
    assert not (folder / STAGING).exists()
    with h5py.File(folder / "data.h5", "r") as f:
        assert f["tokens"].shape == (sum(map(len, seqs)),)


def test_chunked_writes_equal_one_big_chunk(tmp_path, tiny_lm):
    """Bounded memory (many chunks, sequences written window by window) changes nothing."""
    seqs = random_sequences(seed=11, n=12, max_len=60)
    big = extract(tiny_lm, seqs, VOCAB, tmp_path / "big", progress=False)
    small = extract(
        tiny_lm,
        seqs,
        VOCAB,
        tmp_path / "small",
        memory_mb=0,
        window=3,
        batch_size=2,
        progress=False,
    )
    with h5py.File(big / "data.h5", "r") as a, h5py.File(small / "data.h5", "r") as b:
        for path in ("tokens", "states/layer1/cell", "meta/next/ids", "meta/surprisal"):
            np.testing.assert_allclose(a[path][:], b[path][:], atol=1e-5, err_msg=path)


def test_existing_data_set_needs_force(tmp_path, tiny_lm):
    seqs = random_sequences(seed=12)
    tiny_lm.train()
    extract(tiny_lm, seqs, VOCAB, tmp_path / "ds", progress=False)
    assert tiny_lm.training  # extraction runs in eval mode and gives the model back as it was
    with pytest.raises(ExtractError, match="force=True"):
        extract(tiny_lm, seqs, VOCAB, tmp_path / "ds", progress=False)
    extract(tiny_lm, seqs[:3], VOCAB, tmp_path / "ds", progress=False, force=True)
    assert json.loads((tmp_path / "ds" / "vocab.json").read_text()) == VOCAB


@pytest.mark.parametrize(
    "sequences, vocab, pattern",
    [
        ([[0, 1], []], VOCAB, "sequence 1 must be a non-empty"),
        ([[0, 9]], VOCAB, "token id 9, outside the vocabulary of 7"),
        ([[0, -1]], VOCAB, "token id -1"),
        ("abc", VOCAB, "list of token-id sequences"),
        ([], VOCAB, "sequences is empty"),
        ([[0, 1]], [], "non-empty list of token strings"),
        ([[0, 1]], ["a", 2], "entry 1 is 2"),
    ],
)
def test_bad_input_names_the_value_and_the_fix(tmp_path, tiny_lm, sequences, vocab, pattern):
    with pytest.raises(ExtractError, match=pattern):
        extract(tiny_lm, sequences, vocab, tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds" / "data.h5").exists()


def test_top_k_without_logits_is_explained(tmp_path):
    class Encoder(nn.Module):  # returns hidden states, not next-token logits
        def __init__(self):
            super().__init__()
            self.emb, self.rnn = nn.Embedding(len(VOCAB), 4), nn.LSTM(4, 6, batch_first=True)

        def forward(self, ids):
            return self.rnn(self.emb(ids))[0]

    with pytest.raises(ExtractError, match="top_k=0, surprisal=False"):
        extract(Encoder(), [[0, 1, 2]], VOCAB, tmp_path / "ds", progress=False)
    folder = extract(
        Encoder(), [[0, 1, 2]], VOCAB, tmp_path / "ds", top_k=0, surprisal=False, progress=False
    )
    with h5py.File(folder / "data.h5", "r") as f:
        assert "meta" not in f or "next" not in f["meta"]
        assert f["states/layer0/cell"].shape == (3, 6)


def test_projected_lstm_is_refused_with_the_fix(tmp_path):
    class Projected(TinyLM):
        def __init__(self):
            super().__init__(len(VOCAB))
            self.rnn = nn.LSTM(6, 12, batch_first=True, proj_size=4)
            self.out = nn.Linear(4, len(VOCAB))

    with pytest.raises(ExtractError, match="proj_size=4 is not supported"):
        extract(Projected(), [[0, 1]], VOCAB, tmp_path / "ds", progress=False)


def test_layers_of_several_recurrent_modules_are_numbered_on(tmp_path):
    class TwoStacks(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(len(VOCAB), 4)
            self.low = nn.LSTM(4, 6, num_layers=2, batch_first=True)
            self.high = nn.GRU(6, 5, batch_first=True)
            self.out = nn.Linear(5, len(VOCAB))

        def forward(self, ids):
            return self.out(self.high(self.low(self.emb(ids))[0])[0])

    torch.manual_seed(0)
    model = TwoStacks()
    seqs = random_sequences(seed=13)
    folder = extract(model, seqs, VOCAB, tmp_path / "two", gates=True, window=4, progress=False)
    with h5py.File(folder / "data.h5", "r") as f:
        names = []
        f.visit(
            lambda name: (
                names.append(name) if name.startswith("states/") and "/" in name[7:] else None
            )
        )
        assert sorted(names) == sorted(
            [
                f"states/layer{L}/{k}"
                for L in (0, 1)
                for k in ("hidden", "cell", "gate_i", "gate_f", "gate_g", "gate_o")
            ]
            + [f"states/layer2/{k}" for k in ("hidden", "gate_r", "gate_z", "gate_n")]
        )
        h2 = f["states/layer2/hidden"][: len(seqs[0]) + len(seqs[1])]
    with torch.no_grad():  # the GRU's per-step output is its hidden state
        expected = [model.high(model.low(model.emb(torch.tensor([s])))[0])[0][0] for s in seqs[:2]]
    np.testing.assert_allclose(h2, torch.cat(expected).numpy(), atol=2e-5)


def test_a_model_that_changes_the_lstm_output_in_place_does_not_change_the_stored_states(
    tmp_path,
):
    class InPlace(TinyLM):
        def forward(self, ids):
            out = self.rnn(self.emb(ids))[0]
            out.mul_(0.0)  # e.g. a residual added in place
            return self.out(out)

    torch.manual_seed(0)
    model = InPlace(len(VOCAB), hidden=8)
    seqs = random_sequences(seed=15)
    folder = extract(model, seqs, VOCAB, tmp_path / "ip", progress=False)
    with h5py.File(folder / "data.h5", "r") as f:
        h1 = f["states/layer1/hidden"][: len(seqs[0])]
    with torch.no_grad():
        expected = model.rnn(model.emb(torch.tensor([seqs[0]])))[0][0].numpy()
    np.testing.assert_allclose(h1, expected, atol=2e-5)


def test_a_failed_write_fails_the_extraction_and_leaves_nothing(tmp_path, tiny_lm, monkeypatch):
    from hiddenscope.server.store import format as store_format

    def disk_full(fd, data, offset):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_format.os, "pwrite", disk_full)
    with pytest.raises(OSError, match="No space left"):
        extract(tiny_lm, random_sequences(seed=16), VOCAB, tmp_path / "full", progress=False)
    assert not (tmp_path / "full" / "data.h5").exists()
    assert not (tmp_path / "full" / STAGING).exists()


def test_a_lazy_corpus_is_read_chunk_by_chunk(tmp_path, tiny_lm):
    """Any object with len() and indexing works; only a chunk is materialised at a time."""
    seqs = random_sequences(seed=17, n=20)

    class Lazy:
        def __init__(self):
            self.reads = 0

        def __len__(self):
            return len(seqs)

        def __getitem__(self, i):
            self.reads += 1
            return np.array(seqs[i])

    lazy = Lazy()
    a = extract(tiny_lm, lazy, VOCAB, tmp_path / "lazy", memory_mb=0, progress=False)
    b = extract(tiny_lm, seqs, VOCAB, tmp_path / "list", progress=False)
    assert lazy.reads >= 2 * len(seqs)  # one checking pass, then each chunk again
    with h5py.File(a / "data.h5", "r") as fa, h5py.File(b / "data.h5", "r") as fb:
        np.testing.assert_array_equal(fa["tokens"][:], fb["tokens"][:])
        np.testing.assert_allclose(
            fa["states/layer1/cell"][:], fb["states/layer1/cell"][:], atol=1e-5
        )


def test_hiddenscope_index_builds_the_match_index_of_an_extracted_data_set(tmp_path, tiny_lm):
    from hiddenscope.server.cli import main

    folder = extract(tiny_lm, random_sequences(seed=18), VOCAB, tmp_path / "idx", progress=False)
    result = CliRunner().invoke(main, ["index", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.count("index built") == 4  # h and c of both layers
