"""``extract()``: run a PyTorch model over token sequences and write a data set folder.

The model's own forward runs once per batch; its recurrent modules are tapped (tap.py)
so every layer's states come out as a side effect. Sequences are processed in
length-sorted batches and, for unidirectional models, in time windows with the state
carried across windows, so memory is bounded by ``batch_size x window`` steps whatever
the sequence lengths. Each row's run of steps is streamed straight into the
preallocated HDF5 tables by a writer thread (writer.py, through the store's format
module); the folder appears only when complete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from hiddenscope.server.store.format import sequence_meta_path
from torch import nn
from tqdm import tqdm

from .annotate import Annotator, encode_annotations
from .batches import (
    Chunk,
    check_sequences,
    offsets_of,
    pad_batch,
    plan_batches,
    plan_chunks,
    sequence_ids,
)
from .model_call import ModelCaller
from .recurrent import ExtractError
from .writer import DatasetWriter

ForwardFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], object]


def extract(
    model: nn.Module,
    sequences: Sequence[Sequence[int]],
    vocab: Sequence[str],
    out: str | os.PathLike,
    *,
    gates: bool = False,
    cell: bool = True,
    top_k: int = 5,
    surprisal: bool = True,
    annotators: Sequence[Annotator] = (),
    name: str | None = None,
    description: str | None = None,
    batch_size: int = 32,
    window: int = 256,
    memory_mb: int = 256,
    forward_fn: ForwardFn | None = None,
    input_batch_first: bool | None = None,
    force: bool = False,
    progress: bool = True,
    build: dict | None = None,
    classes: Sequence[str] | None = None,
    gold: Sequence[int] | None = None,
    impact: bool = False,
    saliency: bool = False,
    extra_config: dict | None = None,
    modules: Mapping[str, str] | None = None,
    ssm_state: str = "auto",
) -> Path:
    """Extract per-step states of ``model`` over ``sequences`` into the data set folder ``out``.

    Args:
        model: an ``nn.Module`` containing nn.LSTM / nn.GRU / nn.RNN modules (any number of
            layers, bidirectional, batch_first either way), called as ``model(ids)``; or a
            model without them whose forward returns ``{"states": {"layer0-hidden":
            float[B, L, D], ...}, "logits": float[B, L, V]}``.
        sequences: token-id sequences (documents, sentences); each is one sequence of the
            data set, and no state crosses from one to the next. A list, or any object with
            ``len()`` and indexing: it is read one chunk at a time, so a lazy view over a
            corpus larger than memory works.
        vocab: token strings, id = position.
        gates: also store the gates (LSTM i, f, g, o; GRU r, z, n).
        cell: store the LSTM cell state (its recovery costs about one more pass over the
            LSTM layers; ``cell=False`` stores h alone at about the plain forward's speed).
        top_k: store the model's top-K next-token predictions (0: off; needs logits).
        surprisal: store ``-log2 p(token | prefix)`` per step (NaN at each sequence's start).
        annotators: meta-track annotators (e.g. ``annotate.SpacyAnnotator()``).
        forward_fn: ``(model, ids, lengths) -> output`` when ``model(ids)`` is not the call;
            ``ids`` are int64 in the layout of ``input_batch_first``.
        input_batch_first: layout of ``ids`` given to the model (default: the first
            recurrent module's ``batch_first``; True for models without one).
        memory_mb: bound on a chunk's tokens and annotations, and on the bytes of the
            writes in flight on the writer thread.
        force: replace an existing data set in ``out``.
        modules: ``{name: "dotted.submodule.path"}``: store the per-step outputs of these
            submodules (kind ``output``, layer = position in this mapping) instead of the
            recurrent modules' states; sequences then run whole, not in windows (hooks.py).
        ssm_state: for hooked mambapy Mamba blocks, also store the SSM state:
            ``auto`` | ``full`` | ``channel`` | ``none`` (mamba.py).
        classes: the model is a classifier over these classes: its forward returns per-step
            class scores ``float[B, L, C]`` (step t scores the prefix up to t). Adds the
            tracks ``predicted`` and ``confidence`` (per step and per sequence, see
            saliency.ClassifierTracks); ``top_k`` and ``surprisal`` do not apply.
        gold: the gold class of each sequence (with ``classes``): adds ``gold`` tracks.
        impact: with ``classes``, a per-step ``impact`` track (paper 001's word impact).
        saliency: with ``classes``, a per-step ``saliency`` track (``|dS_c/de_t|``, 003).
        extra_config: top-level sections added to dataset.yml (e.g. the ``model:`` section).

    Returns the folder. Raises :class:`ExtractError` on bad input, naming the fix.
    """
    vocab = check_vocab(vocab)
    model_tracks = None
    if classes is not None:
        from .saliency import ClassifierTracks

        if gold is not None and len(gold) != len(sequences):
            raise ExtractError(f"gold has {len(gold)} labels for {len(sequences)} sequences")
        golds = None if gold is None else np.asarray(gold, dtype=np.int64)
        model_tracks = ClassifierTracks(
            model, list(classes), vocab, golds, impact, saliency, batch_size
        )
        annotators, top_k, surprisal = [*annotators, model_tracks], 0, False
    elif impact or saliency:
        raise ExtractError("impact and saliency tracks need classes=[...] (a classifier)")
    if top_k < 0 or top_k > len(vocab):
        raise ExtractError(f"top_k={top_k} must be between 0 and the vocabulary size {len(vocab)}")
    options = _Options(
        gates,
        cell,
        top_k,
        surprisal,
        batch_size,
        window,
        memory_mb,
        forward_fn,
        input_batch_first,
        force,
        progress,
        modules or None,
        ssm_state,
    )
    was_training = model.training
    model.eval()  # no dropout while extracting; the model's mode is restored afterwards
    try:
        writer, sources = _extract(model, sequences, vocab, out, annotators, options, model_tracks)
    finally:
        model.train(was_training)
    return writer.commit(
        name or Path(out).resolve().name,
        description or _describe(model, sources),
        build,
        extra_config,
    )


@dataclass(frozen=True)
class _Options:
    gates: bool
    cell: bool
    top_k: int
    surprisal: bool
    batch_size: int
    window: int
    memory_mb: int
    forward_fn: ForwardFn | None
    input_batch_first: bool | None
    force: bool
    progress: bool
    modules: dict | None = None
    ssm_state: str = "auto"


def _extract(
    model, sequences, vocab, out, annotators, o: _Options, model_tracks=None
) -> tuple[DatasetWriter, list]:
    """Write every table into the staging folder; returns the finished writer and sources."""
    lengths = check_sequences(sequences, len(vocab))
    offsets = offsets_of(lengths)
    if o.modules:
        from .hooks import HookCaller

        caller = HookCaller(model, o.modules, o.ssm_state, o.forward_fn, o.input_batch_first,
                            o.window, o.batch_size)  # fmt: skip
    else:
        caller = ModelCaller(
            model, o.gates, o.forward_fn, o.input_batch_first, o.window, o.batch_size, o.cell
        )
    first = sequence_ids(sequences, 0, len(vocab))
    sources = caller.sources(first)
    if o.modules and o.progress:  # the size estimate, before the work starts
        tqdm.write(caller.size_note(sources, int(offsets[-1])))
    if (o.top_k or o.surprisal) and not caller.has_logits(first, len(vocab)):
        raise ExtractError(
            "top_k and surprisal need the model to return next-token logits float[B, L, "
            f"{len(vocab)}] (one per vocabulary entry); pass top_k=0, surprisal=False, or a "
            "forward_fn that returns them"
        )
    tracks = [t for a in annotators for t in a.tracks]
    writer = DatasetWriter(
        out,
        offsets,
        sources,
        tracks,
        vocab,
        top_k=o.top_k,
        surprisal=o.surprisal,
        force=o.force,
        max_pending=o.memory_mb << 20,
        sequence_tracks=model_tracks.sequence_tracks if model_tracks else (),
    )
    # Chunks bound the tokens and annotations held at once; sized as if a chunk's states
    # were held too, which keeps spaCy's per-token objects well within the budget.
    row_bytes = 4 * (sum(d for _, d in sources) + 2 * o.top_k + len(tracks) + 2)
    max_rows = max(1, o.memory_mb * 2**20 // row_bytes)
    job = _Job(writer, caller, sequences, offsets, vocab, annotators, o.top_k, o.surprisal)
    try:
        with ExitStack() as stack, torch.inference_mode():
            caller.enter(stack)
            bar = stack.enter_context(
                tqdm(
                    total=int(offsets[-1]),
                    unit="tok",
                    unit_scale=True,
                    mininterval=0.5,
                    desc=f"extracting {Path(out).name}",
                    disable=not o.progress,
                )
            )
            for chunk in plan_chunks(offsets, max_rows):
                job.run_chunk(chunk, bar)
        for track in model_tracks.sequence_tracks if model_tracks else ():
            dtype = np.int32 if track.kind == "categorical" else np.float32
            values = np.asarray(model_tracks.sequence_values[track.name], dtype=dtype)
            writer.write(sequence_meta_path(track.name), 0, values)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return writer, sources


def check_vocab(vocab: Sequence[str]) -> list[str]:
    vocab = list(vocab)
    bad = [i for i, w in enumerate(vocab) if not isinstance(w, str)]
    if not vocab or bad:
        raise ExtractError(
            "vocab must be a non-empty list of token strings (id = position); "
            + (f"entry {bad[0]} is {vocab[bad[0]]!r}" if bad else "got an empty list")
        )
    return vocab


def _describe(model: nn.Module, sources: list) -> str:
    layers = len({key.layer for key, _ in sources})
    return f"{type(model).__name__}: {layers} layer(s), {len(sources)} state tables"


class _Job:
    """The state of one extraction run; :meth:`run_chunk` does one corpus chunk."""

    def __init__(self, writer, caller, seqs, offsets, vocab, annotators, top_k, surprisal) -> None:
        self.writer, self.caller, self.seqs, self.offsets = writer, caller, seqs, offsets
        self.vocab, self.annotators, self.top_k, self.surprisal = (
            vocab,
            annotators,
            top_k,
            surprisal,
        )
        self.vocab_array = np.array(vocab, dtype=object)

    def run_chunk(self, chunk: Chunk, bar: tqdm) -> None:
        V = len(self.vocab)
        seqs = [sequence_ids(self.seqs, i, V) for i in range(chunk.first, chunk.last)]
        self.writer.write("tokens", chunk.start, np.concatenate(seqs).astype(np.int32))
        self._annotate(seqs, chunk)
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        for batch in plan_batches(lengths, self.caller.batch_size, self.caller.max_tokens):
            ids = pad_batch([seqs[i] for i in batch])
            self._run_batch(ids, lengths[batch], self.offsets[chunk.first + batch], bar)

    def _annotate(self, seqs: list[np.ndarray], chunk: Chunk) -> None:
        if not self.annotators:
            return
        words = [self.vocab_array[s].tolist() for s in seqs]
        for annotator in self.annotators:
            per_seq = annotator.annotate(words)
            for name, values in encode_annotations(annotator, words, per_seq).items():
                self.writer.write(f"meta/{name}", chunk.start, values)

    def _run_batch(
        self, ids: np.ndarray, lengths: np.ndarray, starts: np.ndarray, bar: tqdm
    ) -> None:
        """One length-sorted batch ``ids[B, Lmax]``, window by window with carried state."""
        window = self.caller.window or ids.shape[1]
        carry = None
        for w0 in range(0, ids.shape[1], window):
            lens = np.clip(lengths - w0, 0, window)
            n = int(np.count_nonzero(lens))  # rows still running: a prefix (sorted by length)
            lens, width = lens[:n], int(lens[0])
            states, logits, carry = self.caller.call(ids[:n, w0 : w0 + width], lens, carry)
            firsts = starts[:n] + w0
            for key, value in states.items():
                self._write_runs(key.path, firsts, lens, value.float().cpu().numpy())
            if logits is not None and (self.top_k or self.surprisal):
                self._predictions(logits, ids[:n], lengths[:n], firsts, w0, lens)
            bar.update(int(lens.sum()))

    def _write_runs(
        self, path: str, firsts: np.ndarray, lens: np.ndarray, values: np.ndarray
    ) -> None:
        """Row ``i`` of ``values[n, W, ...]`` holds ``lens[i]`` consecutive steps from
        ``firsts[i]``: one contiguous write each (on the writer thread), no gather, no copy."""
        runs = [(int(f), rows[:n]) for f, n, rows in zip(firsts, lens, values, strict=True) if n]
        self.writer.write_runs(path, runs)

    def _predictions(self, logits, ids, lengths, firsts, w0, lens) -> None:
        """Top-K next-token ids/probabilities and the next step's surprisal.

        Both come from the logits and their log-sum-exp, without materialising the
        log-softmax over the whole vocabulary.
        """
        logits = logits.float()
        lse = torch.logsumexp(logits, dim=-1, keepdim=True)
        if self.top_k:
            top, idx = logits.topk(self.top_k, dim=-1, sorted=True)
            self._write_runs("meta/next/ids", firsts, lens, idx.to(torch.int32).cpu().numpy())
            self._write_runs("meta/next/probs", firsts, lens, (top - lse).exp().cpu().numpy())
        if self.surprisal:
            # Step t's logits score token t+1: write them one step on, within the sequence.
            width = logits.shape[1]
            nxt = np.zeros((len(ids), width), dtype=np.int64)
            part = ids[:, w0 + 1 : w0 + 1 + width]
            nxt[:, : part.shape[1]] = part
            picked = logits.gather(-1, torch.from_numpy(nxt).to(logits.device).unsqueeze(-1))
            bits = ((lse - picked)[..., 0] / math.log(2.0)).cpu().numpy()
            has_next = np.minimum(lens, lengths - w0 - 1)
            self._write_runs("meta/surprisal", firsts + 1, has_next, bits)
