"""The engine's one exception type and the argument checks every public method runs.

Each check raises :class:`EngineError` naming the parameter, the bad value and the fix,
so the API layer can turn it into a problem+json answer without rewording it.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np


class EngineError(ValueError):
    """A bad argument to the engine; ``param`` names the parameter (``"cells"``, ``"start"``)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def check_int(param: str, value, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise naming ``param`` (bools and floats refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise EngineError(param, f"{param}: {value!r} is not an integer; pass a whole number")
    value = int(value)
    if minimum is not None and value < minimum:
        raise EngineError(param, f"{param}: {value} is below {minimum}; pass {minimum} or more")
    return value


def check_step(param: str, value, T: int) -> int:
    """Return a step position within ``0 .. T-1``."""
    value = check_int(param, value)
    if not 0 <= value < T:
        raise EngineError(param, f"{param}: {value} is out of range; "
                          f"this source has {T:,} steps (0..{T - 1})")
    return value


def check_range(start, end, T: int) -> tuple[int, int]:
    """Return ``(start, end)``, both within ``0 .. T-1`` and ``start <= end``."""
    start, end = check_step("start", start, T), check_step("end", end, T)
    if start > end:
        raise EngineError("end", f"end: {end} is before start {start}; "
                          "pass end >= start (both inclusive)")
    return start, end


def check_cells(cells, D: int | None = None) -> np.ndarray:
    """Return ``int64[k]`` sorted unique cell ids within ``0 .. D-1`` (``D`` None: any
    non-negative id); empty sets are refused."""
    if isinstance(cells, (Integral, np.integer)) and not isinstance(cells, bool):
        cells = [cells]
    if isinstance(cells, (list, tuple)):  # Python ints first: a huge one must not wrap around
        ints = [c for c in cells if isinstance(c, Integral) and not isinstance(c, bool)]
        low = [c for c in ints if c < 0]
        if low:
            raise EngineError("cells", f"cells: {low[0]} is negative; cell ids start at 0")
        high = [c for c in ints if c >= (1 << 62 if D is None else D)]
        if high:
            raise EngineError("cells", f"cells: {high[0]} is out of range; " + (
                "no source has that many cells" if D is None
                else f"this source has {D} cells (0..{D - 1})"))
    try:
        arr = np.asarray(cells)
    except (TypeError, ValueError) as err:
        raise EngineError("cells", f"cells: {cells!r} is not a list of cell ids ({err})") from None
    if arr.size == 0:
        raise EngineError("cells", "cells: the cell set is empty; pass at least one cell id")
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        whole = arr.ndim == 1 and arr.dtype.kind == "f" and np.all(np.isfinite(arr))
        if whole and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise EngineError("cells", f"cells: {cells!r} is not a flat list of integer cell ids")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        raise EngineError("cells", f"cells: {int(arr[arr < 0][0])} is negative; "
                          "cell ids start at 0")
    if D is not None and (arr >= D).any():
        raise EngineError(
            "cells", f"cells: {int(arr[arr >= D][0])} is out of range; "
            f"this source has {D} cells (0..{D - 1})"
        )
    return np.unique(arr)


class IndexCorrupt(RuntimeError):
    """A block of the index failed its checksum: the engine marks the index stale and scans."""
