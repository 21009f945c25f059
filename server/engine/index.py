"""The match index: a cell-major copy of every cell's values as monotone uint16 codes.

Layout (in ``index_dir``): ``codes-<id>.npy`` holding ``uint16[D, T]`` and
``manifest.json`` (index version, the source's fingerprint, shape and transform, the
codes file name, per-cell ``lo``/``scale``). A query reads only the ``|S|`` rows it needs
(2 bytes per step instead of a full ``D``-wide row per step).

Exactness: ``code(v) = 1 + clip(floor((v - lo) * scale), 0, 65534)`` computed in float32
(NaN gets code 0) is monotone non-decreasing in ``v``. With ``t32`` the smallest float32
``>= threshold`` (so ``on <=> v >= t32``) and ``k = code(t32)``: ``code(v) > k`` implies
on, ``code(v) < k`` implies off, and only steps with ``code(v) == k`` are ambiguous; they are
decided by reading their exact values through ``source.read_steps``. NaN (code 0) is
always off because ``k >= 1``. A threshold below every value of a cell without -inf (or
above every value without +inf) needs no exact check at all.

The index is derived data: :meth:`CodeIndex.state` compares the manifest with the
source, and a stale or missing index is never used (the engine falls back to the chunked
scan, which gives identical results).
"""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba as nb
import numpy as np

from . import sweep
from .onrule import threshold32
from .results import CellStats
from .scan import CHUNK, chunks, read_values
from .source import StateSource, apply_transform
from .stats import stats_from_codes

VERSION = 2  # 2: per-cell sums for cell_stats
TOP = 65534  # codes run 1 .. TOP + 1; 0 is NaN
_BUILD_CELLS = 1 << 23  # values per build chunk (steps x D)
_CHECK_CELLS = 1 << 22  # values per read_steps batch when checking ambiguous steps


@nb.njit(cache=True, nogil=True)
def encode_transposed(values, lo, scale, out):
    """:func:`encode` of ``values: float32[n, D]`` written to ``out: uint16[D, n]`` (one pass).

    Tiles of 256 steps keep both the rows read and the codes written in cache.
    """
    n, D = values.shape
    for i0 in range(0, n, 256):
        i1 = min(n, i0 + 256)
        for c in range(D):
            lo_c, scale_c = lo[c], scale[c]
            for i in range(i0, i1):
                v = values[i, c]
                if v != v:
                    out[c, i] = 0
                    continue
                y = np.floor((v - lo_c) * scale_c)  # float32 arithmetic, as in encode()
                if y != y:  # inf * 0 for a constant cell
                    y = 0
                elif y < 0:
                    y = 0
                elif y > TOP:
                    y = TOP
                out[c, i] = np.uint16(y) + np.uint16(1)


def encode(values: np.ndarray, lo: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``uint16`` codes of float32 ``values[..., D]`` with per-cell ``lo``/``scale`` (float32)."""
    with np.errstate(invalid="ignore", over="ignore"):
        x = np.floor((values - lo) * scale)
        np.clip(x, 0, TOP, out=x)
        x[np.isnan(x)] = 0  # NaN values, and inf * 0 for a constant cell
        codes = x.astype(np.uint16) + np.uint16(1)
    codes[np.isnan(values)] = 0
    return codes


class CodeIndex:
    """The index of one source in one folder."""

    def __init__(self, source: StateSource, folder: Path, chunk: int = CHUNK) -> None:
        self.source = source
        self.folder = Path(folder)
        self.chunk = chunk
        self._manifest: dict | None = None

    # --- freshness ---------------------------------------------------------------
    def _expected(self) -> dict:
        T, D = self.source.shape
        return {"version": VERSION, "fingerprint": self.source.fingerprint,
                "shape": [int(T), int(D)], "transform": self.source.transform}

    def _read_manifest(self) -> dict | None:
        try:
            return json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None

    def state(self) -> str:
        """``"fresh"``, ``"missing"`` or ``"stale"``."""
        manifest = self._read_manifest()
        if manifest is None:
            return "missing"
        if any(manifest.get(key) != value for key, value in self._expected().items()):
            return "stale"
        codes = self.folder / str(manifest.get("codes", ""))
        T, D = self.source.shape
        if not codes.is_file() or codes.stat().st_size < 2 * T * D:
            return "stale"
        self._manifest = manifest
        return "fresh"

    def writable(self) -> bool:
        """Whether the index can be (re)built in the folder."""
        folder = self.folder if self.folder.exists() else self.folder.parent
        return folder.is_dir() and os.access(folder, os.W_OK)

    # --- build -------------------------------------------------------------------
    def _ranges(self, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-cell finite ``lo``, ``hi``, ``scale`` (float32) and whether the cell holds +-inf."""
        T, D = self.source.shape
        if self.source.transform == "tanh":  # tanh values lie in [-1, 1]: no pass needed
            return (np.full(D, -1, np.float32), np.full(D, 1, np.float32),
                    np.full(D, TOP / 2, np.float32), np.zeros(D, bool))
        lo, hi = np.full(D, np.inf), np.full(D, -np.inf)
        has_inf = np.zeros(D, dtype=bool)
        step = max(1, min(self.chunk, _BUILD_CELLS // D))
        for a, b in _progress(chunks(0, T, step), T, step, progress, "index: value ranges"):
            v = read_values(self.source, a, b)
            fin = np.where(np.isfinite(v), v, np.nan)
            with np.errstate(invalid="ignore"), _quiet_nan():
                lo = np.fmin(lo, np.nanmin(fin, axis=0))
                hi = np.fmax(hi, np.nanmax(fin, axis=0))
            has_inf |= np.isinf(v).any(0)
        lo = np.where(np.isfinite(lo), lo, 0.0).astype(np.float32)
        hi = np.where(np.isfinite(hi), hi, 0.0).astype(np.float32)
        span = hi.astype(np.float64) - lo
        scale = np.where(span > 0, TOP / np.where(span > 0, span, 1), 0).astype(np.float32)
        return lo, hi, scale, has_inf

    def build(self, progress: bool = True) -> None:
        """Write the codes and the manifest (temporary names, then rename)."""
        T, D = self.source.shape
        self.folder.mkdir(parents=True, exist_ok=True)
        lo, hi, scale, has_inf = self._ranges(progress)
        name = f"codes-{uuid.uuid4().hex[:12]}.npy"
        tmp = self.folder / (name + ".tmp")
        blank = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint16, shape=(D, T))
        header = int(blank.offset)
        del blank
        step = max(1, min(self.chunk, _BUILD_CELLS // D))
        fd = os.open(tmp, os.O_WRONLY)

        def write_chunk(bounds: tuple[int, int]) -> np.ndarray:
            a, b = bounds
            values = read_values(self.source, a, b)
            codes = np.empty((D, b - a), np.uint16)
            encode_transposed(values, lo, scale, codes)
            for c in range(D):
                os.pwrite(fd, codes[c].data, header + 2 * (c * T + a))
            with np.errstate(invalid="ignore"):  # inf + -inf: the mean is NaN, as numpy's
                return np.nansum(values, axis=0, dtype=np.float64)  # for cell_stats' mean

        total = np.zeros(D)
        try:  # two chunks at a time: reading, tanh and encoding release the GIL
            with ThreadPoolExecutor(2) as pool:
                done = pool.map(write_chunk, chunks(0, T, step))
                for part in _progress(done, T, step, progress, "index: codes"):
                    with np.errstate(invalid="ignore"):
                        total += part
            os.fsync(fd)  # durable before the manifest points at it
        finally:
            os.close(fd)
        os.replace(tmp, self.folder / name)
        manifest = dict(self._expected(), codes=name, header=header, lo=lo.tolist(), hi=hi.tolist(),
                        scale=scale.tolist(), has_inf=has_inf.tolist(), sum=total.tolist())
        mtmp = self.folder / f"manifest.json.{uuid.uuid4().hex[:8]}.tmp"
        mtmp.write_text(json.dumps(manifest))
        os.replace(mtmp, self.folder / "manifest.json")
        for old in self.folder.glob("codes-*.npy"):
            if old.name != name:
                old.unlink(missing_ok=True)
        self._manifest = manifest

    # --- query -------------------------------------------------------------------
    def read_codes(self, cell: int) -> np.ndarray:
        """``uint16[T]``: one cell's codes (index must be fresh)."""
        T = self.source.shape[0]
        out = np.empty(T, np.uint16)
        fd = os.open(self.folder / self._manifest["codes"], os.O_RDONLY)
        try:
            _pread(fd, out, self._manifest["header"] + 2 * cell * T)
        finally:
            os.close(fd)
        return out

    def cell_stats(self, cell: int, bins: int) -> CellStats | None:
        """Exact :class:`CellStats` from the codes (None: use a scan; see stats_from_codes)."""
        m = self._manifest
        batch = max(1, _CHECK_CELLS // self.source.shape[1])

        def exact(steps: np.ndarray) -> np.ndarray:
            parts = [np.asarray(self.source.read_steps(steps[i : i + batch]))[:, cell]
                     for i in range(0, steps.size, batch)]
            return apply_transform(np.concatenate(parts), self.source.transform)

        return stats_from_codes(cell, self.read_codes(cell), float(m["lo"][cell]),
                                float(m["scale"][cell]), bool(m["has_inf"][cell]),
                                float(m["sum"][cell]), exact, bins)

    def threshold_code(self, cell: int, threshold: float) -> tuple[int, bool]:
        """``(k, ambiguous)``: on iff ``code > k``, or ``code == k`` and (if ambiguous) the
        exact check says so."""
        m = self._manifest
        lo, hi = np.float32(m["lo"][cell]), np.float32(m["hi"][cell])
        t = threshold32(threshold)
        if not m["has_inf"][cell]:
            if t <= lo:  # every non-NaN value is on: code >= 1
                return 0, False
            if t > hi:  # nothing is on
                return TOP + 1, False
        k = encode(np.array([t], dtype=np.float32), lo, np.float32(m["scale"][cell]))[0]
        return int(k), True

    def mask_blocks(self, cells: np.ndarray, threshold: float, start: int = 0,
                    stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(lo, uint64[W, n])`` on-bit words of ``cells`` per block of ``start .. stop-1``,
        ambiguous steps checked exactly."""
        T = self.source.shape[0]
        stop = T if stop is None else stop
        m, W = cells.size, (cells.size + 63) // 64
        block = max(1, min(4 * self.chunk, _CHECK_CELLS // m))
        ks = np.empty(m, np.int64)
        amb = np.empty(m, np.uint8)
        for j, c in enumerate(cells):
            ks[j], amb[j] = self.threshold_code(int(c), threshold)
        codes = np.empty((m, block), np.uint16)
        amb_steps, amb_cells = np.empty(1 << 12, np.int64), np.empty(1 << 12, np.int64)
        fd = os.open(self.folder / self._manifest["codes"], os.O_RDONLY)
        try:
            for lo, hi in chunks(start, stop, block):
                part = codes[:, : hi - lo]
                for j, c in enumerate(cells):
                    _pread(fd, part[j], self._manifest["header"] + 2 * (int(c) * T + lo))
                masks = np.empty((W, hi - lo), np.uint64)
                n_amb = sweep.code_masks(part, ks, amb, masks, amb_steps, amb_cells)
                if n_amb > amb_steps.size:
                    amb_steps, amb_cells = np.empty(n_amb, np.int64), np.empty(n_amb, np.int64)
                    sweep.code_masks(part, ks, amb, masks, amb_steps, amb_cells)
                if n_amb:
                    self._check_exact(masks, lo, cells, threshold, amb_steps[:n_amb],
                                      amb_cells[:n_amb])
                yield lo, masks
        finally:
            os.close(fd)

    def _check_exact(self, masks, lo, cells, threshold, steps, which) -> None:
        """Read the exact values at the ambiguous (step, cell) entries; clear those that are off."""
        unique = np.unique(steps)
        batch = max(1, _CHECK_CELLS // self.source.shape[1])
        t32 = threshold32(threshold)
        for i in range(0, unique.size, batch):
            part = unique[i : i + batch]
            sel = np.flatnonzero((steps >= part[0]) & (steps <= part[-1]))
            raw = np.asarray(self.source.read_steps(part + lo))
            vals = apply_transform(raw[np.searchsorted(part, steps[sel]), cells[which[sel]]],
                                   self.source.transform)
            off = sel[~(vals >= t32)]
            sweep.clear_bits(masks, steps[off], which[off])


def _pread(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill ``out`` from the file at ``offset`` (pread; no lasting memory map)."""
    view, done = memoryview(out).cast("B"), 0
    while done < view.nbytes:
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            raise OSError("the index file is truncated; rebuild it with `hiddenscope index`")
        done += n


class _quiet_nan:
    """Silence numpy's all-NaN-slice warning (a cell whose chunk is all NaN is expected)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _progress(it, T: int, step: int, progress: bool, desc: str):
    if not progress:
        return it
    from tqdm import tqdm

    return tqdm(it, total=-(-T // step), desc=desc, unit="chunk", file=None)
