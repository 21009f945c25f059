"""The process that compiles and runs users' regular expressions, under a memory limit.

Started by :mod:`hiddenscope.server.store.patterns` as ``python regex_worker.py BASE_BYTES``
(a script, not ``-m``, so it imports neither numpy nor h5py: the standard library and
``regex`` only). It caps its own address space (RLIMIT_AS) at start and again before each
large frame, so a pattern that would need gigabytes fails with MemoryError here instead of
growing the server; the server kills it when a reply is late and starts another.

Frames on stdin/stdout: an 8-byte big-endian length, then a pickle (trusted: both ends are
ours). Requests and replies:

- ``("load", key, text, starts, offsets)`` -> ``("ok",)``: keep one corpus: the joined
  token text, ``starts`` (int64 bytes: where each step's token begins in ``text``) and
  ``offsets`` (int64 bytes: the sequence offsets ``[N+1]``).
- ``("search", key, pattern, limit, timeout_s)`` -> ``("hits", [(a, b), ...], truncated)``:
  non-empty matches inside one sequence, as inclusive step ranges, in corpus order.
- ``("vocab", pattern, entries, timeout_s)`` -> ``("mask", bytes)``: one byte per entry,
  1 where ``pattern`` is found in the entry (``regex.search``; None entries never match).
- any failure -> ``("error", kind, message)`` with kind ``invalid``, ``timeout`` or ``memory``.
"""

from __future__ import annotations

import pickle
import resource
import struct
import sys
import time
from array import array
from bisect import bisect_right

import regex

HEADER = struct.Struct(">Q")


def _cap(limit: int) -> None:
    """Lower (or raise) the soft address-space limit; the hard limit stays as inherited."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _read(stream, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def _send(stream, reply: tuple) -> None:
    data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


class Corpus:
    def __init__(self, key: str, text: str, starts: bytes, offsets: bytes) -> None:
        self.key = key
        self.text = text
        self.starts = array("q", starts)
        self.offsets = array("q", offsets)

    def step(self, char: int) -> int:
        return bisect_right(self.starts, char) - 1

    def sequence_end(self, step: int) -> int:
        return self.offsets[bisect_right(self.offsets, step)] - 1


def _search(corpus: Corpus, pattern: str, limit: int, timeout: float) -> tuple:
    compiled = regex.compile(pattern)
    deadline = time.monotonic() + timeout
    hits: list[tuple[int, int]] = []
    for m in compiled.finditer(corpus.text, timeout=timeout):
        if time.monotonic() > deadline:
            raise TimeoutError
        if m.end() == m.start():
            continue
        a, b = corpus.step(m.start()), corpus.step(m.end() - 1)
        if corpus.sequence_end(a) < b:
            continue  # a hit never crosses a sequence boundary
        if len(hits) == limit:
            return ("hits", hits, True)
        hits.append((a, b))
    return ("hits", hits, False)


def _vocab(pattern: str, entries: list, timeout: float) -> tuple:
    compiled = regex.compile(pattern)
    deadline = time.monotonic() + timeout
    mask = bytearray(len(entries))
    for i, entry in enumerate(entries):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if entry is not None and compiled.search(entry, timeout=left) is not None:
            mask[i] = 1
    return ("mask", bytes(mask))


def serve(base: int) -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    limit = base
    _cap(limit)
    corpus: Corpus | None = None
    while True:
        head = _read(stdin, HEADER.size)
        if head is None:
            return  # the server closed the pipe: it ended or replaced this worker
        (size,) = HEADER.unpack(head)
        if base + 8 * size > limit:  # room for a large corpus and the work on it
            limit = base + 8 * size
            _cap(limit)
        frame = _read(stdin, size)
        if frame is None:
            return
        request = pickle.loads(frame)
        del frame
        try:
            op = request[0]
            if op == "load":
                corpus = None  # one corpus at a time: drop the old one first
                corpus = Corpus(*request[1:])
                reply: tuple = ("ok",)
            elif op == "search":
                _, key, pattern, limit_hits, timeout = request
                if corpus is None or corpus.key != key:
                    reply = ("error", "invalid", "the corpus is not loaded")
                else:
                    reply = _search(corpus, pattern, limit_hits, timeout)
            elif op == "vocab":
                reply = _vocab(*request[1:])
            else:
                reply = ("error", "invalid", f"unknown request {op!r}")
        except TimeoutError:
            reply = ("error", "timeout", "")
        except MemoryError:
            reply = ("error", "memory", "")
        except (regex.error, ValueError, OverflowError, RecursionError) as exc:
            reply = ("error", "invalid", str(exc))
        _send(stdout, reply)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
