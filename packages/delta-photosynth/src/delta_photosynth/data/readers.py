"""Readers of leaf gas-exchange files: LI-6400/LI-6800 exports, PhotoGEA files, long CSV tables.

Layouts understood
------------------
``layout="auto"`` (``delta data import licor``) looks for the header row: the first
line (within the first 1000) whose fields include an alias of net assimilation (``A``,
``Photo``, ...) and of at least one other known variable. Everything before it is
ignored (LI-6400 text exports: the instrument block up to ``$STARTOFDATA$``; LI-6800 text
exports: the ``[Header]`` block and the category row above the names). Non-numeric rows
between the header and the first data row are header rows too (units, categories: the
LI-6800 units row, PhotoGEA's category and units rows). Lines with fewer than half the
header's fields are remarks (LI-6400 ``Remark=`` and AutoProg lines, LI-6800 event
lines) and are skipped and counted. The delimiter (comma, tab or semicolon) is
detected from the header row.

``layout="table"`` (``delta data import leaf-csv``) takes the first non-empty line as
the header: a plain long table with one row per measurement.

Columns map to canonical variables through :data:`~delta_photosynth.data.columns.VARIABLES`
(aliases; ``columns`` overrides them). Units are those of the instruments (see the
column table); two conversions are applied with a note: pressures whose median exceeds
200 are taken as Pa and divided by 1000 (to kPa), O2 values all <= 100 are taken as %
and multiplied by 10 (to mmol mol⁻¹).

Curves
------
A curve is the set of rows with the same value of the curve-id column(s) (``Curve``,
``CurveID``, ... or ``curve_columns``; several columns are joined with ``_``), in file
order; without one, the whole file is one curve named after the file. ``split_on``
splits further: a new curve starts where a column changes by more than a step between
consecutive rows of a curve (e.g. ``("Tleaf", 1.0)`` for temperature series measured as
one run, ``("Qin", 10.0)`` for A/Ci curves at several light levels); the parts are
named ``<id>_1``, ``<id>_2``, ...

Dropped rows
------------
Rows with a non-finite A, Ci, Q or Tleaf (when the file has the column) or outside
:data:`~delta_photosynth.data.columns.LIMITS` (``|A| > 80``, ``Ci < 0``, ``Ca < 0``,
Tleaf outside [-10, 60] °C, Patm outside [30, 110] kPa) are dropped, never silently: a
:class:`DroppedRowsWarning` (also logged to ``delta_photosynth.data``) gives the count
per reason with the file lines, and the count is kept in the store's attributes.
"""

from __future__ import annotations

import csv
import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from delta_core.data.importers import DataImportError
from delta_photosynth.data.columns import (
    ATTRIBUTE_ALIASES,
    BY_NAME,
    CURVE_ALIASES,
    LIMITS,
    REQUIRED_FINITE,
    VARIABLES,
)

LOG = logging.getLogger("delta_photosynth.data")
LOG.addHandler(logging.NullHandler())

LAYOUTS: tuple[str, ...] = ("auto", "table")
MISSING_TOKENS = frozenset({"", "NA", "NaN", "nan", "NAN", "N/A", "#N/A", "na", "null", "NULL"})
_DELIMITERS = (",", "\t", ";")
_HEADER_SEARCH = 1000


class DroppedRowsWarning(UserWarning):
    """Rows of a gas-exchange file were dropped as physically impossible or incomplete."""


def _split_on(value: object) -> tuple[tuple[str, float], ...]:
    """``"COLUMN:STEP"`` strings or ``(column, step)`` pairs, as pairs."""
    items = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[call-overload]
    out = []
    for item in items:
        if isinstance(item, str):
            name, sep, step = item.rpartition(":")
            if not sep or not name:
                raise ValueError(f"split_on: expected COLUMN:STEP, got {item!r}")
            try:
                out.append((name, float(step)))
            except ValueError:
                raise ValueError(f"split_on: step of {item!r} is not a number") from None
        else:
            name, step = item
            out.append((str(name), float(step)))
    for name, step in out:
        if not step > 0:
            raise ValueError(f"split_on: step for {name!r} must be > 0, got {step}")
    return tuple(out)


def _optional_names(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)  # type: ignore[call-overload]


@attrs.frozen
class ReadOptions:
    """How to read a gas-exchange file.

    Parameters
    ----------
    layout
        ``"auto"`` (find the header row) or ``"table"`` (first line is the header).
    columns
        Canonical variable -> source column, overriding the aliases (e.g.
        ``{"A": "A_corrected"}``).
    curve_columns
        Columns whose values identify a curve; ``None``: the first curve alias found.
        An empty tuple: the whole file is one curve.
    split_on
        ``(column, step)`` pairs (or ``"COLUMN:STEP"`` strings): start a new curve where
        the column changes by more than ``step`` between consecutive rows. A canonical
        name (``Tleaf``, ``Q``) or a source column name.
    attributes
        Columns kept as per-curve string attributes; ``None``: the known group columns
        (treatment, species, ...) that are constant within every curve.
    delimiter
        Field delimiter; ``None``: detected.
    """

    layout: str = attrs.field(default="auto")
    columns: dict[str, str] = attrs.field(factory=dict)
    curve_columns: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_names)
    split_on: tuple[tuple[str, float], ...] = attrs.field(default=(), converter=_split_on)
    attributes: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_names)
    delimiter: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        unknown = sorted(set(self.columns) - set(BY_NAME))
        if unknown:
            raise ValueError(f"columns: unknown variables {unknown}; choose from {', '.join(BY_NAME)}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"delimiter must be one character, got {self.delimiter!r}")


@attrs.frozen
class DropReport:
    """What reading one file kept, skipped and dropped.

    Attributes
    ----------
    source
        The file.
    rows_read
        Data rows found (before dropping).
    dropped
        Reason -> 1-based file lines of the rows dropped for it.
    remarks
        Remark lines skipped (not data rows).
    header_rows
        Lines taken as headers (names, units, categories).
    empty_curves
        Curves all of whose rows were dropped.
    """

    source: str
    rows_read: int
    dropped: dict[str, tuple[int, ...]]
    remarks: int = 0
    header_rows: int = 1
    empty_curves: tuple[str, ...] = ()

    @property
    def n_dropped(self) -> int:
        """Number of rows dropped."""
        return sum(len(v) for v in self.dropped.values())

    def message(self) -> str:
        """One line: the count of dropped rows per reason with their file lines."""
        if not self.n_dropped:
            return f"{self.source}: kept all {self.rows_read} rows"
        parts = []
        for reason, lines in self.dropped.items():
            shown = ", ".join(map(str, lines[:8])) + (f", ... ({len(lines)} in all)" if len(lines) > 8 else "")
            parts.append(f"{reason}: {len(lines)} (lines {shown})")
        text = (f"{self.source}: dropped {self.n_dropped} of {self.rows_read} rows as physically impossible or "
                f"incomplete: " + "; ".join(parts))
        if self.empty_curves:
            text += f"; curves left without rows: {', '.join(self.empty_curves)}"
        return text


@attrs.define
class LeafFile:
    """One file read into a long table.

    Attributes
    ----------
    source
        The file.
    table
        One row per kept measurement, in file order: ``curve`` (str), ``source_line``
        (1-based), the canonical variables found (float, canonical units) and the
        per-curve attributes (str).
    variables
        Canonical variables found, in :data:`VARIABLES` order.
    attributes
        Attribute columns kept.
    report
        Rows read, dropped and skipped.
    notes
        Unit conversions and other remarks, for the log.
    """

    source: Path
    table: pd.DataFrame
    variables: tuple[str, ...]
    attributes: tuple[str, ...]
    report: DropReport
    notes: list[str] = attrs.field(factory=list)


# -- parsing ---------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    if not path.is_file():
        raise DataImportError(f"{path}: is a folder, expected a file")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(encoding).splitlines()
        except UnicodeDecodeError:
            continue
    raise DataImportError(f"{path}: not a text file")  # pragma: no cover - latin-1 decodes anything


def _fields(line: str, delimiter: str) -> list[str]:
    try:
        row = next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []
    return [f.strip() for f in row]


def _lookup(names: Sequence[str], wanted: str) -> int | None:
    """Index of column ``wanted``: first exact match, else first case-insensitive match."""
    for i, n in enumerate(names):
        if n == wanted:
            return i
    low = wanted.lower()
    for i, n in enumerate(names):
        if n.lower() == low:
            return i
    return None


def _find_column(names: Sequence[str], aliases: Sequence[str]) -> int | None:
    exact = {n: i for i, n in reversed(list(enumerate(names)))}
    for alias in aliases:
        if alias in exact:
            return exact[alias]
    for alias in aliases:
        idx = _lookup(names, alias)
        if idx is not None:
            return idx
    return None


def _a_aliases(options: ReadOptions) -> tuple[str, ...]:
    return (options.columns["A"],) if "A" in options.columns else BY_NAME["A"].aliases


def _looks_like_header(names: Sequence[str], options: ReadOptions) -> bool:
    if _find_column_exact(names, _a_aliases(options)) is None:
        return False
    others = [a for v in VARIABLES if v.name != "A" for a in ((options.columns[v.name],) if v.name in options.columns
                                                               else v.aliases)]
    others += list(CURVE_ALIASES)
    return _find_column_exact(names, others) is not None


def _find_column_exact(names: Sequence[str], aliases: Sequence[str]) -> int | None:
    present = set(names)
    for alias in aliases:
        if alias in present:
            return names.index(alias)
    return None


def _detect_header(lines: Sequence[str], options: ReadOptions, source: Path) -> tuple[int, str, list[str]]:
    delimiters = (options.delimiter,) if options.delimiter else _DELIMITERS
    if options.layout == "table":
        for i, line in enumerate(lines):
            if line.strip():
                delim = options.delimiter or max(_DELIMITERS, key=line.count)
                return i, delim, _fields(line, delim)
        raise DataImportError(f"{source}: the file is empty")
    for i, line in enumerate(lines[:_HEADER_SEARCH]):
        for delim in delimiters:
            if delim not in line:
                continue
            names = _fields(line, delim)
            if _looks_like_header(names, options):
                return i, delim, names
    raise DataImportError(
        f"{source}: no header row found in the first {_HEADER_SEARCH} lines: expected a row naming net "
        f"assimilation ({', '.join(_a_aliases(options))}) and another known column (e.g. Ci, Tleaf, PARi/Qin, "
        "Curve); use --column A=NAME for other names, or the leaf-csv layout for a plain table")


def _number(text: str) -> float:
    if text in MISSING_TOKENS:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _is_number_or_missing(text: str) -> bool:
    if text in MISSING_TOKENS:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_leaf_file(path: str | Path, options: ReadOptions | None = None, *, warn: bool = True) -> LeafFile:
    """Read one gas-exchange file into a :class:`LeafFile` (see the module docstring).

    Parameters
    ----------
    path
        CSV or tab-delimited text file.
    options
        Layout, column overrides, curve ids and splitting; defaults when ``None``.
    warn
        Issue a :class:`DroppedRowsWarning` when rows are dropped (they are always
        logged and reported in :attr:`LeafFile.report`).

    Raises
    ------
    FileNotFoundError, DataImportError
        Naming the file and the problem (no header row, no A column, unknown columns).
    """
    options = options or ReadOptions()
    source = Path(path)
    lines = _read_lines(source)
    start, delim, names = _detect_header(lines, options, source)
    width = len(names)
    a_idx = _find_column(names, _a_aliases(options))
    if a_idx is None:
        raise DataImportError(f"{source}: line {start + 1}: no net assimilation column "
                              f"({', '.join(_a_aliases(options))}) among {', '.join(names[:20])}")
    rows: list[list[str]] = []
    line_no: list[int] = []
    header_rows, remarks = 1, 0
    for k in range(start + 1, len(lines)):
        if not lines[k].strip():
            continue
        fields = _fields(lines[k], delim)
        if len(fields) < max(2, (width + 1) // 2):
            remarks += 1  # remark / event lines (LI-6400 "Remark=", LI-6800 events)
            continue
        if not rows and not _is_number_or_missing(fields[a_idx] if a_idx < len(fields) else ""):
            header_rows += 1  # units / categories rows before the first data row
            continue
        rows.append(fields + [""] * (width - len(fields)))
        line_no.append(k + 1)
    if not rows:
        raise DataImportError(f"{source}: no data rows after the header on line {start + 1}")

    notes: list[str] = []

    def column(idx: int) -> np.ndarray:
        return np.array([_number(r[idx]) for r in rows], dtype=np.float64)

    values: dict[str, np.ndarray] = {}
    for spec in VARIABLES:
        if spec.name in options.columns:
            idx = _lookup(names, options.columns[spec.name])
            if idx is None:
                raise DataImportError(f"{source}: column {options.columns[spec.name]!r} (for {spec.name}) not found; "
                                      f"columns: {', '.join(names[:40])}")
        else:
            idx = _find_column(names, spec.aliases)
        if idx is not None:
            values[spec.name] = column(idx)
            if names[idx] != spec.name:
                notes.append(f"{spec.name} <- column {names[idx]!r}")
    _convert_units(values, notes, source)

    # -- drop rows ------------------------------------------------------------------------------
    n = len(rows)
    keep = np.ones(n, dtype=bool)
    dropped: dict[str, list[int]] = {}

    def drop(mask: np.ndarray, reason: str) -> None:
        hit = mask & keep
        if hit.any():
            dropped.setdefault(reason, []).extend(int(line_no[i]) for i in np.nonzero(hit)[0])
            keep[hit] = False

    for name in REQUIRED_FINITE:
        if name in values:
            drop(~np.isfinite(values[name]), f"non-finite {name}")
    for name, (lo, hi, reason) in LIMITS.items():
        if name in values:
            v = values[name]
            with np.errstate(invalid="ignore"):
                drop(np.isfinite(v) & ((v < lo) | (v > hi)), reason)

    # -- curves ------------------------------------------------------------------------------------
    curve_idx = _curve_columns(names, options, source)
    if curve_idx:
        base = np.array(["_".join(r[i] for i in curve_idx) for r in rows], dtype=object)
    else:
        base = np.array([source.stem] * n, dtype=object)
        if not options.split_on and options.curve_columns is None:
            notes.append(f"{source}: no curve id column ({', '.join(CURVE_ALIASES[:3])}, ...): the whole file is "
                         f"one curve {source.stem!r}; use --curve-column / --split-on to separate curves")
    all_curves = list(dict.fromkeys(base.tolist()))
    curves = _split_curves(base, keep, names, rows, values, options, source)
    kept_base = set(base[keep].tolist())
    empty = tuple(c for c in all_curves if c not in kept_base)

    report = DropReport(str(source), n, {k: tuple(v) for k, v in dropped.items()}, remarks, header_rows, empty)
    if report.n_dropped:
        LOG.warning(report.message())
        if warn:
            warnings.warn(report.message(), DroppedRowsWarning, stacklevel=2)

    # -- attributes ------------------------------------------------------------------------------
    table = pd.DataFrame({"curve": curves[keep], "source_line": np.asarray(line_no)[keep]})
    for name, v in values.items():
        table[name] = v[keep]
    attributes = _attributes(names, rows, keep, curves, options, notes, source)
    for name, v in attributes.items():
        table[name] = v
    return LeafFile(source, table.reset_index(drop=True), tuple(values), tuple(attributes), report, notes)


def _convert_units(values: dict[str, np.ndarray], notes: list[str], source: Path) -> None:
    patm = values.get("Patm")
    if patm is not None and np.isfinite(patm).any() and np.nanmedian(patm) > 200.0:
        values["Patm"] = patm / 1000.0
        notes.append(f"{source}: Patm median {np.nanmedian(patm):g} > 200: read as Pa, converted to kPa")
    o2 = values.get("O2")
    if o2 is not None and np.isfinite(o2).any() and np.nanmax(o2) <= 100.0:
        values["O2"] = o2 * 10.0
        notes.append(f"{source}: O2 values <= 100: read as %, converted to mmol mol-1")


def _curve_columns(names: Sequence[str], options: ReadOptions, source: Path) -> list[int]:
    if options.curve_columns is None:
        idx = _find_column(names, CURVE_ALIASES)
        return [] if idx is None else [idx]
    out = []
    for col in options.curve_columns:
        idx = _lookup(names, col)
        if idx is None:
            raise DataImportError(f"{source}: curve column {col!r} not found; columns: {', '.join(names[:40])}")
        out.append(idx)
    return out


def _split_curves(base: np.ndarray, keep: np.ndarray, names: Sequence[str], rows: Sequence[Sequence[str]],
                  values: Mapping[str, np.ndarray], options: ReadOptions, source: Path) -> np.ndarray:
    curves = base.copy()
    if not options.split_on:
        return curves
    series = []
    for col, step in options.split_on:
        if col in values:
            series.append((values[col], step))
            continue
        idx = _lookup(names, col)
        if idx is None:
            raise DataImportError(f"{source}: split column {col!r} not found; columns: {', '.join(names[:40])}")
        series.append((np.array([_number(r[idx]) for r in rows]), step))
    for curve in dict.fromkeys(base[keep].tolist()):
        pos = np.nonzero((base == curve) & keep)[0]
        breaks = np.zeros(pos.size, dtype=bool)
        for v, step in series:
            jump = np.abs(np.diff(v[pos])) > step
            breaks[1:] |= jump
        part = np.cumsum(breaks)
        if part[-1] > 0:
            for k, i in enumerate(pos):
                curves[i] = f"{curve}_{part[k] + 1}"
    return curves


def _attributes(names: Sequence[str], rows: Sequence[Sequence[str]], keep: np.ndarray, curves: np.ndarray,
                options: ReadOptions, notes: list[str], source: Path) -> dict[str, np.ndarray]:
    wanted: list[tuple[str, int]] = []
    if options.attributes is None:
        taken = set()
        for alias in ATTRIBUTE_ALIASES:
            idx = _find_column_exact(names, (alias,))
            if idx is not None and idx not in taken:
                wanted.append((names[idx], idx))
                taken.add(idx)
        explicit = False
    else:
        for col in options.attributes:
            idx = _lookup(names, col)
            if idx is None:
                raise DataImportError(f"{source}: attribute column {col!r} not found; columns: {', '.join(names[:40])}")
            wanted.append((names[idx], idx))
        explicit = True
    out = {}
    kept_rows = np.nonzero(keep)[0]
    for name, idx in wanted:
        if name in BY_NAME or name == "curve" or name == "source_line":
            continue
        values = np.array([rows[i][idx] for i in kept_rows], dtype=object)
        if not explicit and all(v in MISSING_TOKENS for v in values):
            continue  # an empty group column carries nothing
        frame = pd.DataFrame({"curve": curves[kept_rows], "v": values})
        varying = frame.groupby("curve", sort=False)["v"].nunique()
        if (varying > 1).any():
            msg = f"{source}: attribute {name!r} varies within curves ({', '.join(varying[varying > 1].index[:5])})"
            if explicit:
                raise DataImportError(msg + "; it cannot be a per-curve attribute")
            notes.append(msg + ": not kept")
            continue
        out[name] = values.astype(str)
    return out


def read_leaf_files(paths: Sequence[str | Path], options: ReadOptions | None = None, *,
                    warn: bool = True) -> list[LeafFile]:
    """:func:`read_leaf_file` on every path (same options)."""
    if not paths:
        raise DataImportError("no input files given")
    return [read_leaf_file(p, options, warn=warn) for p in paths]


def summary_lines(files: Sequence[LeafFile]) -> list[str]:
    """Per-file lines for a CLI: curves, rows kept, drops, notes."""
    out = []
    for f in files:
        n_curves = f.table["curve"].nunique()
        out.append(f"{f.source}: {n_curves} curves, {len(f.table)} rows kept of {f.report.rows_read}; "
                   f"variables {', '.join(f.variables)}")
        if f.report.n_dropped:
            out.append("  " + f.report.message())
        if f.report.remarks:
            out.append(f"  {f.report.remarks} remark lines skipped")
        out += [f"  {n}" for n in f.notes]
    return out


def options_from_cli(layout: str, columns: Sequence[str], curve_columns: Sequence[str], split_on: Sequence[str],
                     attributes: Sequence[str], delimiter: str | None) -> ReadOptions:
    """:class:`ReadOptions` from command-line values (``NAME=COLUMN``, ``COLUMN:STEP``)."""
    mapping: dict[str, Any] = {}
    for item in columns:
        name, sep, col = item.partition("=")
        if not sep or not name or not col:
            raise ValueError(f"--column: expected NAME=COLUMN, got {item!r}")
        mapping[name.strip()] = col.strip()
    if delimiter == "tab":
        delimiter = "\t"
    return ReadOptions(layout=layout, columns=mapping, curve_columns=tuple(curve_columns) or None,
                       split_on=tuple(split_on), attributes=tuple(attributes) or None, delimiter=delimiter)
