"""Curves in the canonical format: entity dimension ``curve``, rows on the ``time`` axis.

The core's canonical format (:mod:`delta_core.data.canonical`) wants a daily ``time``
coordinate. Leaf curves have rows, not days, so rows are stored on a **synthetic daily
time axis**: row ``k`` of every curve sits at :data:`ROW_ORIGIN` + ``k`` days. The
coordinate ``row`` (integers along ``time``) and the dataset attribute
``time_axis = "row"`` say so; nothing in the core had to change, and windows, periods
and samplers of the core work on rows unchanged (a "period" is a range of row
indices; a curve is served whole by a window as long as the number of rows).

Variables (``(curve, time)`` float32 unless noted):

- the canonical variables found (:data:`~delta_photosynth.data.columns.VARIABLES`), in
  their canonical units;
- ``row_valid``: 1 on measured rows, 0 on padding rows;
- ``source_line``: 1-based line of the row in its file (NaN on padding rows);
- ``n_rows`` ``(curve,)``: measured rows per curve;
- ``source_file`` ``(curve,)`` and the group attributes (treatment, species, ...) as strings.

Padding: curves shorter than the longest are padded. Drivers (Ci, Q, Tleaf, Ca, ...)
repeat the curve's last measured row on padding rows, so the PhyModel inputs are
complete (the core requires it) and their outputs there are finite copies of the last
row; observations (``A``, ``gsw``) are NaN there, so losses and metrics, which mask
NaN observations, ignore padding rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from delta_core.data.importers import DataImportError
from delta_photosynth.data.columns import BY_NAME, VARIABLES
from delta_photosynth.data.readers import LeafFile

ROW_ORIGIN = "2000-01-01"
"""Date of row 0 on the synthetic daily time axis."""

ENTITY_DIM = "curve"


def row_times(n_rows: int) -> np.ndarray:
    """The synthetic daily ``time`` coordinate of ``n_rows`` rows (``datetime64[ns]``)."""
    return pd.date_range(ROW_ORIGIN, periods=n_rows, freq="D").values.astype("datetime64[ns]")


def curves_to_dataset(
    curves: Sequence[str],
    series: Mapping[str, Sequence[np.ndarray]],
    *,
    units: Mapping[str, tuple[str, str]],
    observations: Sequence[str] = (),
    static: Mapping[str, tuple[np.ndarray, str, str]] | None = None,
    attrs: Mapping[str, object] | None = None,
) -> xr.Dataset:
    """Pad per-curve rows into a canonical dataset.

    Parameters
    ----------
    curves
        Unique curve ids.
    series
        Variable -> one 1-D array of rows per curve (same lengths across variables).
    units
        Variable -> (units, long_name).
    observations
        Variables padded with NaN (the others repeat the curve's last row).
    static
        ``(curve,)`` variables: name -> (values, units or "" for strings, long_name).
    attrs
        Dataset attributes.
    """
    ids = [str(c) for c in curves]
    if len(set(ids)) != len(ids):
        dup = sorted({c for c in ids if ids.count(c) > 1})
        raise DataImportError(f"duplicate curve ids: {', '.join(dup[:10])}")
    names = list(series)
    lengths = np.array([len(a) for a in series[names[0]]], dtype=np.int64) if names else np.zeros(len(ids), int)
    if (lengths == 0).any():
        raise DataImportError(f"curves without rows: {', '.join(np.asarray(ids)[lengths == 0][:10])}")
    n_rows = int(lengths.max())
    data_vars: dict[str, tuple] = {}
    for name in names:
        out = np.full((len(ids), n_rows), np.nan, dtype=np.float64)
        for c, arr in enumerate(series[name]):
            if len(arr) != lengths[c]:
                raise DataImportError(f"curve {ids[c]!r}: {name} has {len(arr)} rows, expected {lengths[c]}")
            out[c, : len(arr)] = arr
            if name not in observations:
                out[c, len(arr):] = arr[-1]
        u, long_name = units[name]
        data_vars[name] = ((ENTITY_DIM, "time"), out.astype(np.float32), {"units": u, "long_name": long_name})
    valid = (np.arange(n_rows)[None, :] < lengths[:, None]).astype(np.float32)
    data_vars["row_valid"] = ((ENTITY_DIM, "time"), valid,
                              {"units": "1", "long_name": "1 on measured rows, 0 on padding rows"})
    data_vars["n_rows"] = ((ENTITY_DIM,), lengths.astype(np.float32),
                           {"units": "1", "long_name": "number of measured rows of the curve"})
    for name, (values, u, long_name) in (static or {}).items():
        meta = {"long_name": long_name}
        if u:
            meta["units"] = u
            values = np.asarray(values, dtype=np.float32)
        else:
            values = np.asarray(values).astype(str)
        data_vars[name] = ((ENTITY_DIM,), values, meta)
    ds = xr.Dataset(
        data_vars,
        coords={
            ENTITY_DIM: np.array(ids, dtype=str),
            "time": ("time", row_times(n_rows), {"long_name": f"row index within each curve, as days since "
                                                              f"{ROW_ORIGIN} (synthetic daily axis)"}),
            "row": ("time", np.arange(n_rows, dtype=np.int64), {"long_name": "row index within each curve"}),
        },
        attrs={"entity_dim": ENTITY_DIM, "time_axis": "row", "row_origin": ROW_ORIGIN, **(attrs or {})},
    )
    return ds


def files_to_dataset(files: Sequence[LeafFile], *, prefix: bool | None = None) -> xr.Dataset:
    """Canonical dataset of the curves of ``files`` (see the module docstring).

    Parameters
    ----------
    files
        Files read by :func:`~delta_photosynth.data.readers.read_leaf_file`.
    prefix
        Prefix curve ids with ``<file stem>:``; default: when there is more than one file.

    Raises
    ------
    DataImportError
        No curve, or duplicate curve ids.
    """
    if not files:
        raise DataImportError("no input files")
    prefix = len(files) > 1 if prefix is None else prefix
    variables = [v.name for v in VARIABLES if any(v.name in f.variables for f in files)]
    attributes = list(dict.fromkeys(a for f in files for a in f.attributes))
    ids: list[str] = []
    series: dict[str, list[np.ndarray]] = {name: [] for name in (*variables, "source_line")}
    static: dict[str, list[str]] = {name: [] for name in (*attributes, "source_file")}
    for f in files:
        for curve, rows in f.table.groupby("curve", sort=False):
            ids.append(f"{Path(f.source).stem}:{curve}" if prefix else str(curve))
            for name in variables:
                present = name in rows.columns
                series[name].append(rows[name].to_numpy(np.float64) if present else np.full(len(rows), np.nan))
            series["source_line"].append(rows["source_line"].to_numpy(np.float64))
            for name in attributes:
                static[name].append(str(rows[name].iloc[0]) if name in rows else "")
            static["source_file"].append(Path(f.source).name)
    if not ids:
        raise DataImportError(f"no curve with a valid row in {', '.join(str(f.source) for f in files)}")
    units = {name: (BY_NAME[name].units, BY_NAME[name].long_name) for name in variables}
    units["source_line"] = ("1", "1-based line of the row in its source file")
    observations = [v.name for v in VARIABLES if v.observation] + ["source_line"]
    static_meta = {name: (np.array(values), "", f"group attribute from column {name!r}")
                   for name, values in static.items() if name != "source_file"}
    static_meta["source_file"] = (np.array(static["source_file"]), "", "file the curve was read from")
    dropped = "; ".join(f.report.message() for f in files)
    return curves_to_dataset(
        ids, series, units=units, observations=observations, static=static_meta,
        attrs={
            "title": "leaf gas-exchange curves",
            "source_files": ", ".join(str(f.source) for f in files),
            "rows_read": int(sum(f.report.rows_read for f in files)),
            "rows_dropped": int(sum(f.report.n_dropped for f in files)),
            "dropped_rows": dropped,
        },
    )
