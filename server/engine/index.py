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
from pathlib import Path

import numpy as np

from .runs import join_runs, runs_of_rows, split_runs, threshold32
from .scan import CHUNK, chunks, read_values
from .source import StateSource, apply_transform

VERSION = 1
TOP = 65534  # codes run 1 .. TOP + 1; 0 is NaN
_BUILD_CELLS = 1 << 23  # values per build chunk (steps x D)
_CHECK_CELLS = 1 << 22  # values per read_steps batch when checking ambiguous steps


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
        step = max(1, _BUILD_CELLS // D)
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
        step = max(1, _BUILD_CELLS // D)
        fd = os.open(tmp, os.O_WRONLY)
        try:
            for a, b in _progress(chunks(0, T, step), T, step, progress, "index: codes"):
                codes = np.ascontiguousarray(encode(read_values(self.source, a, b), lo, scale).T)
                for c in range(D):
                    os.pwrite(fd, codes[c].data, header + 2 * (c * T + a))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.folder / name)
        manifest = dict(self._expected(), codes=name, header=header, lo=lo.tolist(), hi=hi.tolist(),
                        scale=scale.tolist(), has_inf=has_inf.tolist())
        mtmp = self.folder / f"manifest.json.{uuid.uuid4().hex[:8]}.tmp"
        mtmp.write_text(json.dumps(manifest))
        os.replace(mtmp, self.folder / "manifest.json")
        for old in self.folder.glob("codes-*.npy"):
            if old.name != name:
                old.unlink(missing_ok=True)
        self._manifest = manifest

    # --- query -------------------------------------------------------------------
    def read_codes(self, cell: int, out: np.ndarray | None = None) -> np.ndarray:
        """``uint16[T]`` codes of one cell, read with pread (no lasting memory map)."""
        T = self.source.shape[0]
        m = self._manifest
        buf = np.empty(T, dtype=np.uint16) if out is None else out
        view = memoryview(buf).cast("B")
        fd = os.open(self.folder / m["codes"], os.O_RDONLY)
        try:
            done, base = 0, m["header"] + 2 * cell * T
            while done < view.nbytes:
                n = os.preadv(fd, [view[done:]], base + done)
                if n <= 0:
                    raise OSError(f"index file {m['codes']} is truncated; rebuild it with `hiddenscope index`")
                done += n
        finally:
            os.close(fd)
        return buf

    def threshold_code(self, cell: int, threshold: float) -> tuple[int, bool]:
        """``(k, ambiguous)``: on iff ``code > k``, or ``code == k`` and (if ambiguous) the exact check."""
        m = self._manifest
        lo, hi = np.float32(m["lo"][cell]), np.float32(m["hi"][cell])
        t = threshold32(threshold)
        if not m["has_inf"][cell]:
            if t <= lo:  # every non-NaN value is on: code >= 1
                return 0, False
            if t > hi:  # nothing is on
                return TOP + 1, False
        return int(encode(np.array([t], dtype=np.float32), lo, np.float32(m["scale"][cell]))[0]), True

    def runs(self, cells: np.ndarray, threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """On-runs of ``cells`` from their codes, ambiguous steps checked exactly."""
        T = self.source.shape[0]
        offsets = np.asarray(self.source.sequence_offsets, dtype=np.int64)
        buf = np.empty(T, dtype=np.uint16)
        ons, pending = [], []
        for j, c in enumerate(cells):
            codes = self.read_codes(int(c), buf)
            k, ambiguous = self.threshold_code(int(c), threshold)
            ons.append(codes > k)
            if ambiguous:
                pending.append((j, np.flatnonzero(codes == k)))
        self._check_exact(cells, threshold, ons, pending)
        out = []
        for on in ons:
            (s, e), = runs_of_rows(on[None, :], 0)
            out.append(join_runs(*split_runs(s, e, offsets[1:-1]), offsets))
        return out

    def _check_exact(self, cells, threshold, ons, pending) -> None:
        """Decide the ambiguous steps by reading their exact values."""
        if not pending:
            return
        steps = np.unique(np.concatenate([p for _, p in pending]))
        batch = max(1, _CHECK_CELLS // self.source.shape[1])
        t32 = threshold32(threshold)
        for i in range(0, steps.size, batch):
            part = steps[i : i + batch]
            cols = np.array([cells[j] for j, _ in pending])
            vals = apply_transform(np.asarray(self.source.read_steps(part))[:, cols], self.source.transform)
            for col, (j, pos) in enumerate(pending):
                sel = pos[(pos >= part[0]) & (pos <= part[-1])]
                ons[j][sel] = vals[np.searchsorted(part, sel), col] >= t32


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
