"""What the engine reads: a source of per-step states, and the value transform.

The engine never opens files itself. The store hands it an object that follows
:class:`StateSource`; tests use :class:`ArraySource`, which holds the arrays in memory.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

TRANSFORMS = ("tanh", "none")


def apply_transform(raw: np.ndarray, transform: str) -> np.ndarray:
    """Return float32 values after the source's transform (``tanh`` or ``none``).

    This is the one definition used by select, match, the index, the context values
    and the tests' oracle, so that every part compares the same numbers.
    """
    values = np.asarray(raw, dtype=np.float32)
    if transform == "tanh":
        return np.tanh(values)
    if transform == "none":
        return values
    raise ValueError(f"unknown transform {transform!r}; use one of {', '.join(TRANSFORMS)}")


@runtime_checkable
class StateSource(Protocol):
    """One (layer, kind) table of states, time-major, as the store serves it.

    Attributes:
        shape: ``(T, D)``: steps and cells.
        transform: ``"tanh"`` or ``"none"``; the engine applies it to what ``read_rows`` returns.
        sequence_offsets: ``int64[N+1]``, ``0 = o[0] < ... < o[N] = T``; sequence ``i`` is
            steps ``o[i] .. o[i+1]-1``. A corpus without boundaries is one sequence.
        fingerprint: a string that changes whenever the underlying numbers may have changed
            (file identity, size, mtime, dataset path, transform); the index records it.

    A source may also have ``forget_rows(start, stop)``: a hint that those rows will not be
    read again soon, which the index build gives after encoding them (the store drops them
    from the page cache, which then keeps the build's own scratch files for its second
    pass instead of re-reading them from disk).
    """

    shape: tuple[int, int]
    transform: str
    sequence_offsets: np.ndarray
    fingerprint: str

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Raw (untransformed) ``float32[stop-start, D]`` for steps ``start .. stop-1``."""
        ...

    def read_steps(self, steps: np.ndarray) -> np.ndarray:
        """Raw ``float32[len(steps), D]`` for sorted, unique step ids (scattered rows)."""
        ...


@runtime_checkable
class IndexStorage(Protocol):
    """Where the match index of one source lives: the store's ``IndexFiles`` implements it.

    The engine decides what the index holds (``layout``, a JSON-able dict, and named binary
    files) and reads it back; the store owns the folder, the manifest, atomic publication,
    the record of what the index was built from, and freshness.
    """

    def manifest(self) -> dict | None:
        """``{"files": ..., "layout": ...}`` when the index is fresh, else None."""
        ...

    def state(self) -> str:
        """``"fresh"``, ``"missing"`` or ``"stale"``."""
        ...

    def invalidate(self, why: str) -> None:
        """Mark the current index stale (the engine found it corrupt)."""
        ...

    def writable(self) -> bool: ...

    def read_into(self, manifest: dict, name: str, offset: int, out: np.ndarray) -> None:
        """Fill ``out`` with the bytes of file ``name`` from byte ``offset``."""
        ...

    def reader(self, manifest: dict, name: str):
        """A context manager whose ``read(offset, out)`` fills ``out`` (many reads, one open)."""
        ...

    def new_build(self):
        """An object with ``create(name, nbytes)``, ``write(name, offset, array)``,
        ``read(name, offset, out)`` (what this build wrote), ``discard(name)`` (a scratch
        file, never published), ``commit(layout)`` and ``abort()``: files become visible
        only at ``commit``."""
        ...


class ArraySource:
    """A :class:`StateSource` over in-memory arrays (tests, small data, benchmarks)."""

    def __init__(
        self,
        states: np.ndarray,
        sequence_offsets: np.ndarray | None = None,
        transform: str = "none",
        fingerprint: str | None = None,
    ) -> None:
        states = np.asarray(states, dtype=np.float32)
        if states.ndim != 2:
            raise ValueError(f"states must be float32[T, D]; got shape {states.shape}")
        if transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r}; use one of {', '.join(TRANSFORMS)}")
        T = states.shape[0]
        offsets = np.array([0, T] if sequence_offsets is None else sequence_offsets, dtype=np.int64)
        if offsets[0] != 0 or offsets[-1] != T or np.any(np.diff(offsets) <= 0):
            raise ValueError(
                f"sequence_offsets must rise strictly from 0 to T={T}; got {offsets.tolist()[:10]}"
            )
        self._states = states
        self.shape = (int(T), int(states.shape[1]))
        self.transform = transform
        self.sequence_offsets = offsets
        self.fingerprint = fingerprint or f"array:{id(states):x}:{states.shape}:{transform}"

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        return self._states[start:stop]

    def read_steps(self, steps: np.ndarray) -> np.ndarray:
        return self._states[np.asarray(steps, dtype=np.int64)]
