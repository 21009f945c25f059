"""Long analyses as background jobs: a request never waits for a whole pass over the corpus.

A handler asks :meth:`Jobs.run` for the answer of a parameter key. The first request for a key
starts the computation in a small pool of worker threads (``WORKERS``); every identical
request, concurrent or later, shares that one job. The request then waits up to ``wait``
seconds (tiny data sets finish inside it and answer 200 as before); if the job is still going,
:meth:`Jobs.run` hands back a :class:`Running` whose :meth:`Running.response` is the 202 answer
``{state, percent, elapsed, key}`` (openapi.yaml, ``JobRunning``). The client asks the same
URL again until it gets 200.

The computation reports progress through the ``progress(fraction)`` callable it is given (the
engine functions call it once per chunk, 0..1). A finished job is dropped at once: its answer
lives in the handler's result cache (bounded in entries and bytes), which the next request
reads. A failed job keeps its exception until one request has raised it (the same 4xx
problem+json a direct call gives) and is then forgotten. At most ``MAX_JOBS`` jobs are queued
or running; one more is refused with 503 and a Retry-After, never queued without bound.

A job nobody asks for any more is stopped: when no request has asked for it (or waited on it)
for ``ABANDON_S`` seconds, its next progress report raises :class:`JobAbandoned` (a queued
one is dropped before it starts), so a client that moved on to other parameters does not
keep a worker busy for minutes while its new question waits in the queue. The client asks
again every second or so, and a hidden browser tab at least once a minute, so a job still
wanted is never stopped; one asked for again after it was stopped starts anew.

The workers are daemon threads: a server stopped in the middle of a long pass exits at once.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import flask
import orjson

from .errors import ApiError

WORKERS = 2  # two cores on the demo machine; one analysis per core
MAX_JOBS = 16  # queued + running + failed-but-not-yet-answered
WAIT_S = 1.0  # how long a request waits before answering 202
ABANDON_S = 120.0  # a job nobody asked for this long is stopped (a hidden tab asks once a minute)

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


class JobAbandoned(Exception):
    """Raised into a computation nobody has asked for in ``ABANDON_S`` seconds: it stops."""


class Job:
    """One computation for one key: its future, the fraction done, when it started, and when a
    request last asked for it (``waiting``: requests inside their wait on it now)."""

    def __init__(self, key: Hashable, label: str, abandon_s: float = ABANDON_S) -> None:
        self.key = key
        self.label = label
        self.future: Future = Future()
        self.fraction = 0.0
        self.created = time.monotonic()
        self.started: float | None = None
        self.asked = self.created
        self.waiting = 0
        self.abandon_s = abandon_s

    def abandoned(self) -> bool:
        """Whether no request has asked for or waited on this job in ``abandon_s`` seconds."""
        return self.waiting == 0 and time.monotonic() - self.asked > self.abandon_s

    def stop_if_abandoned(self) -> None:
        """Raise :class:`JobAbandoned` when nobody wants the answer any more."""
        if self.abandoned():
            raise JobAbandoned(f"{self.label}: nobody asked for it in {self.abandon_s:g} s")

    def progress(self, fraction: float) -> None:
        """Called by the computation (any thread); keeps the largest fraction seen, in 0..1.
        Raises :class:`JobAbandoned` when nobody wants the answer any more."""
        if math.isfinite(fraction):
            self.fraction = max(self.fraction, min(1.0, max(0.0, float(fraction))))
        self.stop_if_abandoned()


class Running:
    """A job not finished within the wait: what the 202 answer says about it."""

    def __init__(self, job: Job) -> None:
        self.state = "running" if job.started is not None else "queued"
        self.percent = round(100.0 * job.fraction, 1)
        self.elapsed = round(time.monotonic() - job.created, 1)
        self.key = job.label

    def body(self) -> dict:
        return {"state": self.state, "percent": self.percent, "elapsed": self.elapsed,
                "key": self.key}

    def response(self) -> flask.Response:
        return flask.Response(orjson.dumps(self.body()), status=202,
                              mimetype="application/json", headers={"Retry-After": "1"})


class Jobs:
    """A bounded pool of background computations keyed by their parameters."""

    def __init__(self, workers: int = WORKERS, max_jobs: int = MAX_JOBS,
                 wait: float | None = None) -> None:
        # seconds (default WAIT_S, read now); tests raise it so tiny data sets answer 200
        self.wait = WAIT_S if wait is None else wait
        self.abandon = ABANDON_S  # seconds without a request after which a job is stopped
        self.max_jobs = max_jobs
        self._jobs: dict[Hashable, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.started = 0  # jobs started so far (tests check identical requests share one)
        self._workers = max(1, workers)  # threads start with the first job: an app that
        self._threads: list[threading.Thread] = []  # never runs an analysis holds none

    def run(self, key: Hashable, compute: Callable[[Progress], object],
            wait: float | None = None, label: Hashable | None = None):
        """The answer of ``compute(progress)`` for ``key``, or a :class:`Running` when it is not
        done within ``wait`` seconds (default ``self.wait``). Raises what the computation
        raised (once; the job is then forgotten). ``label``: the public parts of the key,
        shown in the 202 answer (default ``key``); the key itself may hold file identities."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                self._make_room()
                self._start_workers()
                job = Job(key, _label(key if label is None else label), self.abandon)
                self._jobs[key] = job
                self.started += 1
                self._queue.put((job, compute))
            job.asked = time.monotonic()
            job.waiting += 1
        try:
            value = job.future.result(timeout=self.wait if wait is None else wait)
        except FutureTimeout:
            return Running(job)
        except JobAbandoned:  # stopped just before this request came: start it anew
            self._forget(job)
            return self.run(key, compute, wait, label)
        except BaseException:
            self._forget(job)
            raise
        finally:
            with self._lock:
                job.waiting -= 1
                job.asked = time.monotonic()
        self._forget(job)
        return value

    def _start_workers(self) -> None:
        """Start the worker threads once (called under the lock)."""
        while len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"hiddenscope-job-{len(self._threads)}")
            thread.start()
            self._threads.append(thread)

    def running(self) -> list[dict]:
        """The jobs queued or running now, as their 202 bodies (for logs and tests)."""
        with self._lock:
            return [Running(j).body() for j in self._jobs.values() if not j.future.done()]

    def _make_room(self) -> None:
        """Drop failed jobs nobody asked for again, oldest first; refuse when still full."""
        if len(self._jobs) < self.max_jobs:
            return
        for key, job in sorted(self._jobs.items(), key=lambda kv: kv[1].created):
            if job.future.done():
                del self._jobs[key]
                if len(self._jobs) < self.max_jobs:
                    return
        raise ApiError(503, f"{len(self._jobs)} analyses are already queued or running (at most "
                       f"{self.max_jobs}); ask again when one of them is done")

    def _forget(self, job: Job) -> None:
        with self._lock:
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]

    def _work(self) -> None:
        while True:
            job, compute = self._queue.get()
            if not job.future.set_running_or_notify_cancel():
                continue
            job.started = time.monotonic()
            try:
                job.stop_if_abandoned()  # queued while its asker went away: never started
                value = compute(job.progress)
            except JobAbandoned as exc:
                log.info("stopped the analysis %s at %.0f%%: %s", job.label,
                         100 * job.fraction, exc)
                self._forget(job)  # a request that still comes starts it anew
                job.future.set_exception(exc)
                continue
            except BaseException as exc:  # handed to the request that asks next
                job.future.set_exception(exc)
                continue
            job.progress(1.0)
            # done: a request inside its wait gets the value from the future, a later one from
            # the handler's cache (the computation put it there), so the job holds nothing
            self._forget(job)
            job.future.set_result(value)
            del value


def _label(key: Hashable) -> str:
    """A readable key for the 202 answer: the parameters joined by '/'."""
    parts = key if isinstance(key, tuple) else (key,)
    return "/".join(str(p) for p in parts)
