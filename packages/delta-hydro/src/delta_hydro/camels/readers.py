"""Readers of the CAMELS-US file formats (Newman et al. 2015; Addor et al. 2017).

Each reader checks its file's layout and raises
:class:`~delta_core.data.importers.DataImportError` (``FileNotFoundError`` for a missing
file) naming the file, the line and the column of the first problem: wrong header,
wrong number of fields, a value that is not a number, an impossible or duplicated date.

Formats (official CAMELS-US v1.2 release)
-----------------------------------------
basin mean forcing, ``basin_mean_forcing/<product>/<huc>/<id>_lump_<...>_forcing_leap.txt``
    lines 1-3: latitude (decimal degrees), mean elevation (m), area (m²); line 4 the
    column header ``Year Mnth Day Hr dayl(s) prcp(mm/day) srad(W/m2) swe(mm) tmax(C)
    tmin(C) vp(Pa)`` (any case); then one whitespace-separated row per day.
USGS streamflow, ``usgs_streamflow/<huc>/<id>_streamflow_qc.txt``
    no header; ``gauge_id year month day Q_cfs flag`` with flag ``A``, ``A:e`` or ``M``;
    missing values are ``-999.00``.
benchmark model output, ``model_output/flow_timeseries/<product>/<huc>/<id>_<seed>_model_output.txt``
    header ``YR MNTH DY HR SWE PRCP RAIM TAIR PET ET MOD_RUN OBS_RUN``; -999 missing.
attributes, ``camels_attributes_v2.0/camels_<group>.txt``
    ``;``-separated with header, first column ``gauge_id`` (kept as text: leading zeros
    matter), ``NA`` for missing values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np

from delta_core.data.importers import DataImportError
from delta_core.data.importers.common import (
    check_unique_dates,
    dates_from_parts,
    read_lines,
    short_list,
    split_rows,
    to_float,
)

FORCING_COLUMNS = ("Year", "Mnth", "Day", "Hr", "dayl(s)", "prcp(mm/day)", "srad(W/m2)", "swe(mm)",
                   "tmax(C)", "tmin(C)", "vp(Pa)")
"""Column header of a forcing file (compared case-insensitively)."""

FORCING_VARIABLES = {"dayl(s)": "dayl", "prcp(mm/day)": "prcp", "srad(W/m2)": "srad", "swe(mm)": "swe",
                     "tmax(C)": "tmax", "tmin(C)": "tmin", "vp(Pa)": "vp"}
"""Forcing column → key in :attr:`ForcingFile.values`."""

FORCING_HEADER_LINES = (
    ("latitude", "decimal degrees"),
    ("mean elevation", "m"),
    ("area", "m²"),
)

STREAMFLOW_FIELDS = ("gauge_id", "year", "month", "day", "Q_cfs", "flag")
STREAMFLOW_FLAGS = frozenset({"A", "A:e", "M", ""})
STREAMFLOW_MISSING = -999.0

MODEL_OUTPUT_COLUMNS = ("YR", "MNTH", "DY", "HR", "SWE", "PRCP", "RAIM", "TAIR", "PET", "ET", "MOD_RUN", "OBS_RUN")
MODEL_OUTPUT_MISSING = -999.0

ATTRIBUTE_GROUPS = ("clim", "geol", "hydro", "name", "soil", "topo", "vege")
"""The attribute files ``camels_<group>.txt`` of CAMELS attributes v2.0."""


@attrs.frozen
class ForcingFile:
    """A basin mean forcing file.

    Attributes
    ----------
    path
        The file.
    latitude, elevation, area_m2
        Header lines 1-3: decimal degrees, m, m².
    dates
        ``datetime64[D]``, one per row, in file order.
    values
        ``dayl`` (s), ``prcp`` (mm/day), ``srad`` (W/m²), ``swe`` (mm), ``tmax``, ``tmin``
        (°C), ``vp`` (Pa); float64.
    """

    path: Path
    latitude: float
    elevation: float
    area_m2: float
    dates: np.ndarray
    values: Mapping[str, np.ndarray]


@attrs.frozen
class StreamflowFile:
    """A USGS streamflow file: ``q_cfs`` (ft³/s) with NaN for -999 and for flag ``M``."""

    path: Path
    gauge_id: str
    dates: np.ndarray
    q_cfs: np.ndarray
    flags: np.ndarray


@attrs.frozen
class ModelOutputFile:
    """A CAMELS benchmark model output file; ``values`` keyed by the header names, -999 → NaN."""

    path: Path
    dates: np.ndarray
    values: Mapping[str, np.ndarray]


@attrs.frozen
class AttributeTable:
    """CAMELS static attributes, one row per gauge.

    Attributes
    ----------
    ids
        Gauge ids as text, in file order.
    columns
        Attribute name → values (float64 with NaN for ``NA``, or text with ``""`` for ``NA``).
    files
        Attribute name → the file it came from.
    """

    ids: tuple[str, ...]
    columns: Mapping[str, np.ndarray]
    files: Mapping[str, Path]

    def rows(self, basins: Sequence[str]) -> np.ndarray:
        """Row indices of ``basins``; an id without a row is an error."""
        index = {b: i for i, b in enumerate(self.ids)}
        absent = [b for b in basins if b not in index]
        if absent:
            folder = next(iter(self.files.values())).parent if self.files else "attributes"
            raise DataImportError(f"{folder}: no attributes for basin(s) {short_list(absent)}")
        return np.asarray([index[b] for b in basins], dtype=np.int64)


def _number(text: str, path: Path, line: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataImportError(f"{path}: line {line}: expected the basin {what} as a number, got {text!r}") from None
    if not np.isfinite(value):
        raise DataImportError(f"{path}: line {line}: the basin {what} must be finite, got {text!r}")
    return value


def read_forcing(path: Path) -> ForcingFile:
    """Read a basin mean forcing file (any product: Daymet, NLDAS, Maurer)."""
    lines = read_lines(path)
    if len(lines) < 5:
        raise DataImportError(
            f"{path}: {len(lines)} lines; a CAMELS forcing file has 3 header lines (latitude, elevation, area), "
            "a column header and one row per day")
    head = []
    for index, (what, units) in enumerate(FORCING_HEADER_LINES):
        fields = lines[index].split()
        if len(fields) != 1:
            raise DataImportError(
                f"{path}: line {index + 1}: expected the basin {what} ({units}) alone on the line, "
                f"got {lines[index].strip()[:60]!r}")
        head.append(_number(fields[0], path, index + 1, f"{what} ({units})"))
    latitude, elevation, area = head
    if not -90.0 <= latitude <= 90.0:
        raise DataImportError(f"{path}: line 1: latitude {latitude} is outside [-90, 90]")
    if area <= 0:
        raise DataImportError(f"{path}: line 3: basin area {area} m² must be positive")

    columns = lines[3].split()
    if [c.lower() for c in columns] != [c.lower() for c in FORCING_COLUMNS]:
        raise DataImportError(
            f"{path}: line 4: wrong column header {' '.join(columns)!r}; expected {' '.join(FORCING_COLUMNS)!r}")
    rows, numbers = split_rows(lines, 4, source=str(path), n_fields=len(FORCING_COLUMNS), names=FORCING_COLUMNS)
    if not rows:
        raise DataImportError(f"{path}: no data rows after the column header")
    cells = np.asarray(rows, dtype=str)
    dates = dates_from_parts(cells[:, 0], cells[:, 1], cells[:, 2], source=str(path), lines=numbers)
    check_unique_dates(dates, source=str(path), lines=numbers)
    values = {
        key: to_float(cells[:, FORCING_COLUMNS.index(column)], source=str(path), column=column, lines=numbers)
        for column, key in FORCING_VARIABLES.items()
    }
    return ForcingFile(path, latitude, elevation, area, dates, values)


def read_streamflow(path: Path, basin: str | None = None) -> StreamflowFile:
    """Read a USGS streamflow file; ``basin`` (if given) must match its gauge id column."""
    lines = read_lines(path)
    rows, numbers = split_rows(lines, 0, source=str(path), n_fields=(5, 6), names=STREAMFLOW_FIELDS)
    if not rows:
        raise DataImportError(f"{path}: no data rows (expected 'gauge_id year month day Q_cfs flag' per line)")
    ids = np.asarray([r[0] for r in rows], dtype=str)
    first = str(ids[0])
    if not first.isdigit():
        raise DataImportError(
            f"{path}: line {int(numbers[0])}: wrong layout: expected 'gauge_id year month day Q_cfs flag' "
            f"without a header, got {lines[int(numbers[0]) - 1].strip()[:60]!r}")
    gauge = basin or first
    other = np.nonzero(ids != gauge)[0]
    if other.size:
        i = int(other[0])
        raise DataImportError(
            f"{path}: line {int(numbers[i])}: gauge id {str(ids[i])!r} differs from the basin {gauge!r} of this file")
    flags = np.asarray([r[5] if len(r) == 6 else "" for r in rows], dtype=str)
    unknown = np.nonzero(~np.isin(flags, sorted(STREAMFLOW_FLAGS)))[0]
    if unknown.size:
        i = int(unknown[0])
        raise DataImportError(
            f"{path}: line {int(numbers[i])}: unknown quality flag {str(flags[i])!r} (known: A, A:e, M)")
    cells = np.asarray([r[1:5] for r in rows], dtype=str)
    dates = dates_from_parts(cells[:, 0], cells[:, 1], cells[:, 2], source=str(path), lines=numbers)
    check_unique_dates(dates, source=str(path), lines=numbers)
    q = to_float(cells[:, 3], source=str(path), column="Q_cfs", lines=numbers)
    q[(q < 0) | (flags == "M")] = np.nan  # -999.00 marks missing days (negative flows do not occur)
    return StreamflowFile(path, gauge, dates, q, flags)


def read_model_output(path: Path) -> ModelOutputFile:
    """Read a CAMELS benchmark model output file (SAC-SMA + Snow-17)."""
    lines = read_lines(path)
    if not lines:
        raise DataImportError(f"{path}: the file is empty")
    columns = lines[0].split()
    if columns != list(MODEL_OUTPUT_COLUMNS):
        raise DataImportError(
            f"{path}: line 1: wrong column header {' '.join(columns)!r}; expected {' '.join(MODEL_OUTPUT_COLUMNS)!r}")
    rows, numbers = split_rows(lines, 1, source=str(path), n_fields=len(columns), names=columns)
    if not rows:
        raise DataImportError(f"{path}: no data rows after the column header")
    cells = np.asarray(rows, dtype=str)
    dates = dates_from_parts(cells[:, 0], cells[:, 1], cells[:, 2], source=str(path), lines=numbers)
    check_unique_dates(dates, source=str(path), lines=numbers)
    values = {
        name: to_float(cells[:, j], source=str(path), column=name, lines=numbers,
                       missing_values=(MODEL_OUTPUT_MISSING,))
        for j, name in enumerate(columns) if j >= 4
    }
    return ModelOutputFile(path, dates, values)


def read_attributes(folder: Path, *, string_columns: frozenset[str] = frozenset()) -> AttributeTable:
    """Read the CAMELS attribute files ``camels_<group>.txt`` of ``folder``.

    Parameters
    ----------
    folder
        ``camels_attributes_v2.0``.
    string_columns
        Columns kept as text (categorical or codes such as ``huc_02``); every other
        column must be numeric (``NA`` → NaN), else the error names file, line, column.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: attributes folder not found (expected camels_attributes_v2.0/)")
    ids: tuple[str, ...] | None = None
    id_file: Path | None = None
    columns: dict[str, np.ndarray] = {}
    files: dict[str, Path] = {}
    for group in ATTRIBUTE_GROUPS:
        path = folder / f"camels_{group}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: attribute file not found (CAMELS attributes v2.0 has camels_"
                                    f"{{{','.join(ATTRIBUTE_GROUPS)}}}.txt)")
        lines = read_lines(path)
        if not lines or lines[0].split(";")[0].strip() != "gauge_id":
            got = lines[0][:60] if lines else "an empty file"
            raise DataImportError(f"{path}: line 1: wrong header: expected ';'-separated names starting with "
                                  f"'gauge_id', got {got!r}")
        header = [h.strip() for h in lines[0].split(";")]
        cells_rows: list[list[str]] = []
        numbers: list[int] = []
        for index in range(1, len(lines)):
            if not lines[index].strip():
                continue
            fields = lines[index].split(";")
            if len(fields) != len(header):
                raise DataImportError(
                    f"{path}: line {index + 1}: expected {len(header)} ';'-separated fields, got {len(fields)}")
            cells_rows.append([f.strip() for f in fields])
            numbers.append(index + 1)
        if not cells_rows:
            raise DataImportError(f"{path}: no rows after the header")
        cells = np.asarray(cells_rows, dtype=str)
        lines_no = np.asarray(numbers, dtype=np.int64)
        file_ids = tuple(cells[:, 0].tolist())
        check_ids = np.asarray(file_ids)
        order = np.argsort(check_ids, kind="stable")
        same = np.nonzero(check_ids[order][1:] == check_ids[order][:-1])[0]
        if same.size:
            a, b = order[same[0]], order[same[0] + 1]
            raise DataImportError(f"{path}: gauge_id {file_ids[a]!r} appears twice (lines {lines_no[a]} and "
                                  f"{lines_no[b]})")
        if ids is None:
            ids, id_file = file_ids, path
            position = np.arange(len(ids))
        else:
            index_of = {g: i for i, g in enumerate(file_ids)}
            absent = [g for g in ids if g not in index_of]
            extra = sorted(set(file_ids) - set(ids))
            if absent or extra:
                raise DataImportError(
                    f"{path}: gauge ids differ from {id_file}: "
                    + "; ".join(p for p in (f"missing {short_list(absent)}" if absent else "",
                                            f"extra {short_list(extra)}" if extra else "") if p))
            position = np.asarray([index_of[g] for g in ids])
        for j, name in enumerate(header[1:], start=1):
            if name in columns:
                raise DataImportError(f"{path}: column {name!r} is also in {files[name]}")
            raw = cells[position, j]
            if name in string_columns:
                columns[name] = np.where(raw == "NA", "", raw)
            else:
                columns[name] = to_float(raw, source=str(path), column=name, lines=lines_no[position])
            files[name] = path
    assert ids is not None
    return AttributeTable(ids, columns, files)
