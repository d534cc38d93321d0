"""A direct reader of Zarr v2 chunks for the sampling hot path.

Training reads ~100 random entities × a two-year window per batch, i.e. hundreds of
small chunks. zarr-python 3 spends ~0.3 ms of asynchronous bookkeeping per chunk,
about ten times the cost of reading and decoding the chunk itself (measured by
``benchmarks/data_sampling.py``). For the stores deltamod writes (Zarr format 2,
C order, one numcodecs compressor, no filters) this module reads the chunk files and
decodes them with numcodecs directly; anything else is refused with
:class:`UnsupportedArray` and the caller falls back to xarray/zarr.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numcodecs
import numpy as np


class UnsupportedArray(ValueError):
    """The array is not in the simple Zarr v2 layout this reader handles."""


def _fill(value: object, dtype: np.dtype) -> object:
    if value is None:
        return np.nan if dtype.kind == "f" else 0
    if isinstance(value, str):  # JSON cannot hold NaN/inf: Zarr v2 writes them as strings
        return {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}.get(value, value)
    return value


class ChunkedArray:
    """Read-only view of one Zarr v2 array (1-D or 2-D) in a directory store.

    Parameters
    ----------
    store
        The ``.zarr`` directory.
    name
        Array (variable) name inside the store.
    """

    def __init__(self, store: Path, name: str) -> None:
        self.dir = Path(store) / name
        meta_path = self.dir / ".zarray"
        if not meta_path.is_file():
            raise UnsupportedArray(f"{self.dir}: no .zarray (not a Zarr v2 array)")
        meta = json.loads(meta_path.read_text())
        if meta.get("zarr_format") != 2 or meta.get("filters") or meta.get("order", "C") != "C":
            raise UnsupportedArray(f"{self.dir}: only Zarr v2, C order, no filters is read directly")
        self.shape = tuple(meta["shape"])
        self.chunks = tuple(meta["chunks"])
        if len(self.shape) not in (1, 2):
            raise UnsupportedArray(f"{self.dir}: {len(self.shape)}-D arrays are not read directly")
        self.dtype = np.dtype(meta["dtype"])
        if self.dtype.kind not in "fiu":
            raise UnsupportedArray(f"{self.dir}: dtype {self.dtype} is not read directly")
        self.codec = numcodecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
        self.fill = _fill(meta.get("fill_value"), self.dtype)
        self.sep = meta.get("dimension_separator") or "."

    def _chunk(self, key: tuple[int, ...]) -> np.ndarray:
        path = self.dir / self.sep.join(map(str, key))
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # never-written chunk: all fill value
            return np.full(self.chunks, self.fill, dtype=self.dtype)
        buf = self.codec.decode(raw) if self.codec is not None else raw
        return np.frombuffer(buf, dtype=self.dtype).reshape(self.chunks)

    def rows(self, rows: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``array[rows, start:stop]`` (2-D) or ``array[rows]`` (1-D), each chunk read once.

        Parameters
        ----------
        rows
            Row positions, any order, duplicates allowed.
        start, stop
            Column range for 2-D arrays.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"{self.dir}: rows outside [0, {self.shape[0]})")
        c0 = self.chunks[0]
        if len(self.shape) == 1:
            out1 = np.empty(rows.size, dtype=self.dtype)
            for key in np.unique(rows // c0):
                sel = np.nonzero(rows // c0 == key)[0]
                out1[sel] = self._chunk((int(key),))[rows[sel] - key * c0]
            return out1
        stop = self.shape[1] if stop is None else stop
        if not 0 <= start <= stop <= self.shape[1]:
            raise IndexError(f"{self.dir}: columns [{start}, {stop}) outside [0, {self.shape[1]})")
        c1 = self.chunks[1]
        out = np.empty((rows.size, stop - start), dtype=self.dtype)
        row_keys = rows // c0
        for rk in np.unique(row_keys):
            sel = np.nonzero(row_keys == rk)[0]
            local = rows[sel] - rk * c0
            for ck in range(start // c1, math.ceil(stop / c1) if stop > start else start // c1):
                lo, hi = max(start, ck * c1), min(stop, (ck + 1) * c1)
                block = self._chunk((int(rk), ck))
                out[sel, lo - start : hi - start] = block[local, lo - ck * c1 : hi - ck * c1]
        return out
