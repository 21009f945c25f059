"""Users' regular expressions: bounded before compiling, compiled and run in a worker process.

A pattern such as ``a{1000000000}`` makes the regex engine allocate gigabytes while it
*compiles*, outside any match timeout; nested repeats multiply. So a pattern is first checked
by :func:`check_pattern` (its length, each repetition count, the product of nested counts,
the nesting depth), then compiled and run in a separate process (regex_worker.py) that caps
its own memory; the server waits at most :data:`HARD_DEADLINE_S` for the answer and kills the
worker otherwise. Whatever the pattern does, the server answers a :class:`SearchError` (400)
within about a second and every other request goes on meanwhile.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

MAX_PATTERN_CHARS = 500
MAX_REPEAT = 1000  # the largest count in {m}, {m,n}
MAX_EXPANSION = 100_000  # the product of nested counts: what the engine unrolls at compile time
MAX_DEPTH = 16  # nested groups
MATCH_TIMEOUT_S = 0.6  # the worker's own limit on a match
HARD_DEADLINE_S = 0.8  # the server's limit on a reply; past it the worker is killed
# (both below 1 s: with the request around them, a slow pattern is answered within ~1 s)
WORKER_BASE_BYTES = 768 << 20  # the worker's address space before its corpus
WORKERS = 2  # regex requests served at once; more wait for a free worker
_WORKER_SCRIPT = Path(__file__).with_name("regex_worker.py")


class SearchError(ValueError):
    """A query that cannot run: ``param`` names the query parameter at fault."""

    def __init__(self, message: str, param: str = "q") -> None:
        super().__init__(message)
        self.param = param


def check_pattern(pattern: str, param: str = "q") -> None:
    """Raise :class:`SearchError` naming the problem when ``pattern`` exceeds a bound."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise SearchError(
            f"{param} is {len(pattern)} characters long; a regular expression may have at most "
            f"{MAX_PATTERN_CHARS}",
            param,
        )
    if "\x00" in pattern:
        raise SearchError(f"{param} holds a null character; remove it", param)
    _Bounds(pattern, param).check()


class _Bounds:
    """One pass over the pattern: groups, character classes, escapes and ``{m,n}`` counts.

    Each group keeps the largest unrolled size of its items; a counted repeat multiplies the
    size of the item before it. ``*``, ``+`` and ``?`` unroll nothing (they loop).
    """

    def __init__(self, pattern: str, param: str) -> None:
        self.p = pattern
        self.param = param

    def fail(self, what: str, fix: str) -> None:
        raise SearchError(f"{self.param} {self.p!r}: {what}; {fix}", self.param)

    def check(self) -> None:
        p, i, n = self.p, 0, len(self.p)
        stack: list[int] = [1]  # per open group: the largest item size inside it
        last = 1  # the size of the item a quantifier would apply to
        while i < n:
            ch = p[i]
            if ch == "\\":
                i = self._escape(i)
                last = 1
                stack[-1] = max(stack[-1], last)
                continue
            if ch == "[":
                i = self._set(i)
                last = 1
            elif ch == "(":
                stack.append(1)
                if len(stack) - 1 > MAX_DEPTH:
                    self.fail(
                        f"groups are nested more than {MAX_DEPTH} deep", "flatten the pattern"
                    )
                i += 1
                continue
            elif ch == ")":
                if len(stack) > 1:
                    last = stack.pop()
                i += 1
            elif ch == "{":
                count, i = self._count(i)
                if count is None:
                    last = 1
                else:
                    last *= count
                    if last > MAX_EXPANSION:
                        self.fail(
                            f"nested repeats unroll to {last:,} copies, over the bound of "
                            f"{MAX_EXPANSION:,}",
                            "use smaller counts, or * and +",
                        )
                stack[-1] = max(stack[-1], last)
                continue
            else:
                last = 1
                i += 1
            stack[-1] = max(stack[-1], last)

    def _escape(self, i: int) -> int:
        """Skip ``\\x``, and braced escapes such as ``\\p{L}``, ``\\N{...}``, ``\\x{41}``."""
        if i + 2 < len(self.p) and self.p[i + 1] in "pPNxuUgk" and self.p[i + 2] in "{<":
            close = self.p.find("}" if self.p[i + 2] == "{" else ">", i + 3)
            return len(self.p) if close < 0 else close + 1
        return i + 2

    def _set(self, i: int) -> int:
        """Skip a character class ``[...]`` (a ``]`` right after ``[`` or ``[^`` is literal)."""
        j = i + 1
        if j < len(self.p) and self.p[j] == "^":
            j += 1
        if j < len(self.p) and self.p[j] == "]":
            j += 1
        while j < len(self.p) and self.p[j] != "]":
            j += 2 if self.p[j] == "\\" else 1
        return j + 1

    def _count(self, i: int) -> tuple[int | None, int]:
        """``{m}``, ``{m,}``, ``{,n}``, ``{m,n}``: the largest count and the index after ``}``.
        Braces that are not a count (a literal ``{``, fuzzy ``{e<=1}``) give None."""
        close = self.p.find("}", i)
        if close < 0:
            return None, i + 1
        body = self.p[i + 1 : close].replace(" ", "")
        parts = body.split(",")
        if len(parts) > 2 or not all(part.isdigit() or part == "" for part in parts):
            return None, i + 1
        if not any(parts):
            return None, i + 1
        numbers = [int(part) for part in parts if part]
        if max(numbers) > MAX_REPEAT:
            self.fail(
                f"the repeat {{{body}}} counts past {MAX_REPEAT}",
                f"use counts up to {MAX_REPEAT}, or * and +",
            )
        return max(max(numbers), 1), close + 1


class _Worker:
    """One worker process and the corpus it holds."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(_WORKER_SCRIPT), str(WORKER_BASE_BYTES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.key: str | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, wait: bool = True) -> None:
        """End the process; ``wait=False`` reaps it in a thread (the request answers now)."""
        if self.proc.poll() is None:
            self.proc.kill()

        def reap() -> None:
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                stream.close()

        if wait:
            reap()
        else:
            threading.Thread(target=reap, name="reap regex worker", daemon=True).start()

    def ask(self, request: tuple, deadline: float | None) -> tuple | None:
        """Send ``request``; the reply, or None when the worker died or missed ``deadline``."""
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(len(data).to_bytes(8, "big") + data)
            self.proc.stdin.flush()
            head = self._read(8, deadline)
            body = self._read(int.from_bytes(head, "big"), deadline) if head else None
        except (BrokenPipeError, OSError):
            return None
        return pickle.loads(body) if body is not None else None

    def _read(self, n: int, deadline: float | None) -> bytes | None:
        fd, chunks, got = self.proc.stdout.fileno(), [], 0
        while got < n:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                return None
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                return None  # the worker ended (killed by its memory limit, or crashed)
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


class WorkerPool:
    """A few workers, each serving one pattern at a time; a late or dead one is replaced."""

    def __init__(self, size: int = WORKERS) -> None:
        self._free: queue.Queue[_Worker | None] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        for _ in range(size):
            self._free.put(None)  # started on first use

    def run(self, pattern: str, param: str, request: tuple, corpus: tuple | None) -> tuple:
        """Run ``request`` (after loading ``corpus = (key, text, starts, offsets)`` into the
        worker if it holds another); raise :class:`SearchError` on a bad, slow or large pattern."""
        worker = self._free.get()
        try:
            if worker is None or not worker.alive():
                worker = self._start()
            if corpus is not None and worker.key != corpus[0]:
                worker.key = None
                if worker.ask(("load", *corpus), None) != ("ok",):
                    raise SearchError(f"{param}: the search worker could not load the text", param)
                worker.key = corpus[0]
            reply = worker.ask(request, time.monotonic() + HARD_DEADLINE_S)
            if reply is None:
                self._retire(worker)
                worker = None
                raise SearchError(
                    f"{param} {pattern!r} took longer than {HARD_DEADLINE_S:g} s or needed too "
                    "much memory; make the pattern more specific",
                    param,
                )
        finally:
            self._free.put(worker)
        if reply[0] != "error":
            return reply
        kind, text = reply[1], reply[2]
        if kind == "timeout":
            raise SearchError(
                f"{param} {pattern!r} took longer than {MATCH_TIMEOUT_S:g} s; make the pattern "
                "more specific",
                param,
            )
        if kind == "memory":
            raise SearchError(
                f"{param} {pattern!r} needs too much memory; use smaller repeat counts", param
            )
        raise SearchError(f"{param} {pattern!r} is not a valid regular expression ({text})", param)

    def _start(self) -> _Worker:
        worker = _Worker()
        with self._lock:
            self._all.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill(wait=False)

    def close(self) -> None:
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> WorkerPool:
    """The process's worker pool, started on first use and ended at exit."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool()
            atexit.register(_POOL.close)
        return _POOL


def vocabulary_matches(vocab: list[str | None], pattern: str, param: str = "q") -> np.ndarray:
    """``bool[V]``: True where ``pattern`` is found in the vocabulary entry (``regex.search``
    semantics: anchor with ``^...$`` for whole tokens); None entries never match.

    Bounded like a search: raises :class:`SearchError` naming ``param`` when the pattern is
    invalid, over a bound, slower than 1 s over the whole vocabulary, or too large in memory.
    """
    check_pattern(pattern, param)
    request = ("vocab", pattern, list(vocab), MATCH_TIMEOUT_S)
    reply = pool().run(pattern, param, request, None)
    return np.frombuffer(reply[1], dtype=np.uint8).astype(bool)


def search_spans(
    corpus: tuple[str, str, bytes, bytes], pattern: str, limit: int, param: str = "q"
) -> tuple[list[tuple[int, int]], bool]:
    """Matches of ``pattern`` in a corpus ``(key, text, starts, offsets)`` (regex_worker.py):
    up to ``limit`` inclusive step ranges inside one sequence, and whether there were more."""
    check_pattern(pattern, param)
    request = ("search", corpus[0], pattern, limit, MATCH_TIMEOUT_S)
    reply = pool().run(pattern, param, request, corpus)
    return [(int(a), int(b)) for a, b in reply[1]], bool(reply[2])
