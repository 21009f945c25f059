"""A small LRU of computed answers shared by the analyses' handlers (features.py,
structure.py): bounded in entries and in the bytes of the numpy arrays it holds, one
computation per key at a time, and droppable per data set after the catalog reloads it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

CACHE_ENTRIES = 48
CACHE_BYTES = 512 << 20  # arrays kept by the structure cache


def _nbytes(value) -> int:
    """Rough memory of a cached answer: the bytes of the numpy arrays it holds."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(_nbytes(getattr(value, f)) for f in value.__dataclass_fields__)
    return 64


class ResultCache:
    """A small LRU of computed answers, bounded in entries and in array bytes (a co-clustering
    of 4096 cells x 2000 words holds 65 MB); one computation per key at a time (a second
    request for the same key waits for the first instead of repeating a pass over the corpus)."""

    def __init__(self, size: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._bytes: dict[tuple, int] = {}
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}

    def peek(self, key: tuple, default=None):
        """The cached answer of ``key`` (marked as recently used), or ``default``."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return default

    def get(self, key: tuple, compute: Callable[[], object]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._key_locks.pop(key, None)
                raise
            # insert and drop the key's lock at once: a request arriving in between would
            # otherwise find neither the value nor the lock and compute it again
            with self._lock:
                self._items[key] = value
                self._bytes[key] = _nbytes(value)
                self._key_locks.pop(key, None)
                while len(self._items) > 1 and (len(self._items) > self.size
                                                or sum(self._bytes.values()) > self.max_bytes):
                    old, _ = self._items.popitem(last=False)
                    self._bytes.pop(old, None)
            return value

    def drop(self, dataset: str) -> None:
        """Forget every answer computed from data set ``dataset`` (its id is in the key: align
        names two), after the catalog replaced or removed it."""
        with self._lock:
            for key in [k for k in self._items if dataset in k[1:]]:
                del self._items[key]
                self._bytes.pop(key, None)
