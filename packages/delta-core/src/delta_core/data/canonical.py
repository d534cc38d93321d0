"""The canonical on-disk data format: a labelled ``xarray.Dataset`` stored as Zarr.

Layout
------
- one *entity* dimension (default name ``entity``; hydrology uses ``basin``) whose
  coordinate holds **string** ids (``"01013500"``), unique;
- a ``time`` dimension with a daily ``datetime64[ns]`` coordinate, strictly increasing,
  without duplicates or gaps;
- time series as variables with dims ``(entity, time)``; static attributes with dims
  ``(entity,)``; numeric variables are floating point with NaN for missing values;
  categorical attributes may be strings;
- every variable carries CF-style ``units`` (numeric variables) and ``long_name``
  attributes; the dataset carries ``delta_format`` (:data:`FORMAT`) and ``entity_dim``.

Stores are written as Zarr format 2 (stable string encoding across Zarr libraries),
chunked along entity and time, atomically (written beside the target, then renamed).
NetCDF files with the same layout are readable too (``.nc``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
import numpy as np
import xarray as xr

FORMAT = "deltamod-canonical/1"
TIME = "time"
# Small entity chunks keep random (entity, window) batches cheap to read lazily.
DEFAULT_CHUNKS = {"entity": 16, "time": 730}


class DataFormatError(ValueError):
    """A dataset that does not follow the canonical format; the message lists every problem."""


@attrs.frozen
class ValidationReport:
    """Result of :func:`validate`.

    Attributes
    ----------
    problems
        Violations of the format, each naming the variable, coordinate or attribute.
    nan_fraction
        Share of missing values per numeric variable, in ``[0, 1]``.
    """

    problems: tuple[str, ...]
    nan_fraction: dict[str, float]

    @property
    def ok(self) -> bool:
        """``True`` when there are no problems."""
        return not self.problems

    def raise_if_invalid(self, source: str) -> None:
        """Raise :class:`DataFormatError` listing every problem, naming ``source``."""
        if self.problems:
            lines = [f"{source}: not a valid deltamod dataset ({len(self.problems)} problems):"]
            raise DataFormatError("\n".join(lines + [f"  - {p}" for p in self.problems]))


def entity_dim(ds: xr.Dataset) -> str:
    """Name of the entity dimension: the ``entity_dim`` attribute, else the only non-time dim."""
    declared = ds.attrs.get("entity_dim")
    if isinstance(declared, str) and declared in ds.dims:
        return declared
    others = [d for d in ds.dims if d != TIME]
    if len(others) != 1:
        raise DataFormatError(
            f"cannot tell the entity dimension: expected one dimension besides 'time', got {sorted(map(str, others))}"
        )
    return str(others[0])


def validate(ds: xr.Dataset, *, required: Iterable[str] = (), count_nan: bool = True) -> ValidationReport:
    """Check ``ds`` against the canonical format and report every problem at once.

    Parameters
    ----------
    ds
        The dataset (lazy datasets are fine: values are read in entity blocks only to
        count NaN, and not at all with ``count_nan=False``).
    required
        Variables that must be present.
    count_nan
        Compute :attr:`ValidationReport.nan_fraction`.
    """
    problems: list[str] = []
    try:
        edim = entity_dim(ds)
    except DataFormatError as exc:
        return ValidationReport((str(exc),), {})
    missing = [v for v in required if v not in ds.variables]
    if missing:
        problems.append(f"missing variables: {', '.join(missing)}")

    if edim not in ds.coords:
        problems.append(f"entity dimension {edim!r} has no coordinate of ids")
    else:
        ids = ds[edim].values
        if ids.dtype.kind not in "UO" or not all(isinstance(i, str) for i in ids.tolist()):
            problems.append(f"entity ids ({edim!r}) must be strings, got dtype {ids.dtype}")
        values, counts = np.unique(ids.astype(str), return_counts=True)
        dups = values[counts > 1]
        if dups.size:
            problems.append(f"duplicate entity ids: {', '.join(map(str, dups[:10]))}")

    if TIME in ds.dims:
        if TIME not in ds.coords:
            problems.append("dimension 'time' has no coordinate")
        else:
            problems += _time_problems(ds[TIME].values)

    nan_fraction: dict[str, float] = {}
    for name, var in ds.data_vars.items():
        dims = tuple(map(str, var.dims))
        if dims not in ((edim, TIME), (edim,)):
            problems.append(f"variable {name!r} has dims {dims}; expected ({edim!r}, 'time') or ({edim!r},)")
        numeric = var.dtype.kind in "fiub"
        if var.dtype.kind in "iub" and TIME in dims:
            problems.append(f"variable {name!r} is {var.dtype}; time series must be floating point (NaN = missing)")
        if numeric and not str(var.attrs.get("units", "")).strip():
            problems.append(f"variable {name!r} has no 'units' attribute")
        if not str(var.attrs.get("long_name", "")).strip():
            problems.append(f"variable {name!r} has no 'long_name' attribute")
        if count_nan and var.dtype.kind == "f" and dims and dims[0] == edim:
            nan_fraction[str(name)] = _nan_share(var.variable)
    return ValidationReport(tuple(problems), nan_fraction)


def _nan_share(var: xr.Variable, block: int = 256) -> float:
    if var.size == 0:
        return 0.0
    missing = 0
    for start in range(0, var.shape[0], block):  # bounded memory on large lazy stores
        missing += int(np.isnan(var[start : start + block].values).sum())
    return missing / var.size


def _time_problems(times: np.ndarray) -> list[str]:
    if not np.issubdtype(times.dtype, np.datetime64):
        return [f"time coordinate must be datetime64, got {times.dtype}"]
    out = []
    t = times.astype("datetime64[D]")
    if (times != t.astype(times.dtype)).any():
        out.append("time coordinate must be daily at midnight")
    steps = np.diff(t).astype(int)
    dup = np.nonzero(steps == 0)[0]
    if dup.size:
        out.append(f"duplicated times: {', '.join(str(t[i]) for i in dup[:5])}")
    back = np.nonzero(steps < 0)[0]
    if back.size:
        out.append(f"times not increasing: {t[back[0]]} is followed by {t[back[0] + 1]}")
    gaps = np.nonzero(steps > 1)[0]
    if gaps.size:
        out.append(
            f"{gaps.size} gaps in the daily time axis, first after {t[gaps[0]]} (next {t[gaps[0] + 1]})"
        )
    return out


def open_canonical(path: str | Path, *, required: Iterable[str] = (), check: bool = True) -> xr.Dataset:
    """Open a canonical store lazily (Zarr directory, or NetCDF file ending in ``.nc``).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Naming ``path`` and every problem found.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such dataset (expected a .zarr directory or a .nc file)")
    try:
        # cache=False: indexing reads only the chunks a batch needs, never whole arrays
        if p.is_dir():
            ds = xr.open_dataset(p, engine="zarr", chunks=None, cache=False)
        else:
            ds = xr.open_dataset(p, chunks=None, cache=False)
    except Exception as exc:
        raise DataFormatError(f"{p}: cannot open as Zarr or NetCDF: {exc}") from exc
    if check:
        validate(ds, required=required, count_nan=False).raise_if_invalid(str(p))
    return ds


def write_canonical(
    ds: xr.Dataset,
    path: str | Path,
    *,
    chunks: Mapping[str, int] | None = None,
    overwrite: bool = False,
) -> Path:
    """Validate ``ds`` and write it as a Zarr (v2) store at ``path``, atomically.

    Parameters
    ----------
    ds
        A dataset in the canonical layout.
    path
        Target directory (conventionally ending in ``.zarr``).
    chunks
        Chunk lengths by ``"entity"`` and ``"time"`` (defaults :data:`DEFAULT_CHUNKS`).
    overwrite
        Replace an existing store; otherwise an existing ``path`` is an error.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    validate(ds).raise_if_invalid(f"dataset for {target}")
    edim = entity_dim(ds)
    sizes = {**DEFAULT_CHUNKS, **(chunks or {})}
    ds = ds.assign_attrs(delta_format=FORMAT, entity_dim=edim)
    encoding = {}
    for name, var in ds.variables.items():
        if name in ds.dims:
            continue
        shape = [min(sizes["entity"] if d == edim else sizes["time"], ds.sizes[d]) for d in var.dims]
        encoding[name] = {"chunks": tuple(max(1, s) for s in shape)}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def summary(ds: xr.Dataset, source: str = "") -> str:
    """Human-readable summary: entities, period, and each variable with units and NaN share."""
    edim = entity_dim(ds)
    report = validate(ds)
    lines = [f"{source or 'dataset'}: {ds.sizes[edim]} {edim} entities"]
    if TIME in ds.dims:
        t = ds[TIME].values
        lines[0] += f", {t.size} days {str(t[0])[:10]} .. {str(t[-1])[:10]}"
    rows = [("variable", "dims", "units", "NaN %", "long_name")]
    for name, var in ds.data_vars.items():
        nan = report.nan_fraction.get(str(name))
        rows.append((str(name), ",".join(map(str, var.dims)), str(var.attrs.get("units", "")),
                     "" if nan is None else f"{100 * nan:.1f}", str(var.attrs.get("long_name", ""))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    if report.problems:
        lines.append(f"{len(report.problems)} format problems (run `delta data check`)")
    return "\n".join(lines)
