"""Generic importer: a folder of per-entity CSV or NetCDF files plus an attributes table.

For users whose own basins, sites or plots are not in a published layout. One file per
entity holds its daily series; the entity id comes from the file name; an optional
CSV table holds static attributes, one row per entity. A small mapping says which
column becomes which variable, with units and a long name::

    entity_dim: site                 # name of the entity dimension (default: entity)
    files:
      pattern: "{id}_daily.csv"      # {id} marks the entity id; '*' matches anything;
                                     # may contain folders ("*/{id}.csv")
      format: csv                    # csv | netcdf (default: from the pattern's extension)
      delimiter: ","                 # csv only; "whitespace" for blank-separated columns
      skip_rows: 0                   # lines before the header row (csv only)
    time:
      column: date                   # date column (csv) or time variable (netcdf)
      format: "%Y-%m-%d"             # strptime format; default ISO 8601
      # or, instead of column/format, separate columns:  year: Year, month: Mnth, day: Day
    missing: [-999, "-"]             # also read as missing (empty cells, NA, NaN always are)
    variables:                       # name in the dataset -> column in the files
      P: {column: prcp, units: mm/day, long_name: precipitation}
      Q: {column: flow_mm, units: mm/day, long_name: observed streamflow}
    attributes:                      # optional
      file: attributes.csv           # relative to the source folder, or absolute
      id_column: site_id             # ids are compared as text: "0123" is not "123"
      delimiter: ","
      variables:                     # with units: numeric; without units: a string (categorical)
        area: {column: area_km2, units: km2, long_name: catchment area}
        land_cover: {long_name: dominant land cover}   # column defaults to the name

``long_name`` defaults to the variable name. The result is a canonical dataset
(:mod:`delta_core.data.canonical`): entities sorted by id, one daily time axis from
the earliest to the latest date of any file (NaN outside an entity's record and on
days its file lacks), time series as float32, numeric attributes as float64.

Bad input raises :class:`~delta_core.data.importers.DataImportError` (or
``FileNotFoundError``) naming the mapping key, file, line, column, entity or date.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

from delta_core.data.importers import DataImportError
from delta_core.data.importers.common import (
    MISSING_TOKENS,
    as_str_array,
    check_unique_dates,
    daily_axis,
    dates_from_parts,
    dates_from_text,
    progress,
    short_list,
    stack,
    to_float,
)

FORMATS = ("csv", "netcdf")
ID_FIELD = "{id}"


@attrs.frozen
class VariableSpec:
    """One variable of the mapping.

    Attributes
    ----------
    name
        Variable name in the dataset.
    column
        Column (CSV) or variable (NetCDF) it is read from.
    units
        CF-style units; ``None`` only for string attributes.
    long_name
        Description stored as the ``long_name`` attribute.
    """

    name: str
    column: str
    units: str | None
    long_name: str


@attrs.frozen
class GenericMapping:
    """How to read a folder of per-entity files (see the module docstring for the YAML form)."""

    variables: tuple[VariableSpec, ...]
    pattern: str = "{id}.csv"
    file_format: str = "csv"
    delimiter: str = ","
    skip_rows: int = 0
    time_column: str | None = "date"
    time_format: str | None = None
    time_parts: tuple[str, str, str] | None = None
    missing_tokens: frozenset[str] = MISSING_TOKENS
    missing_values: tuple[float, ...] = ()
    attributes_file: str | None = None
    id_column: str = "id"
    attributes_delimiter: str = ","
    attributes: tuple[VariableSpec, ...] = ()
    entity_dim: str = "entity"


# --------------------------------------------------------------------------- mapping


_KEYS: dict[str, tuple[str, ...]] = {
    "": ("entity_dim", "files", "time", "missing", "variables", "attributes"),
    "files": ("pattern", "format", "delimiter", "skip_rows"),
    "time": ("column", "format", "year", "month", "day"),
    "attributes": ("file", "id_column", "delimiter", "variables"),
    "variable": ("column", "units", "long_name"),
}


def _where(source: str, path: str) -> str:
    return f"{source}: {path}" if path else source


def _check_keys(data: Mapping[str, Any], kind: str, path: str, source: str) -> None:
    allowed = _KEYS[kind]
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else f" (known keys: {', '.join(allowed)})"
            raise DataImportError(f"{_where(source, path)}: unknown key {key!r}{did}")


def _section(data: Mapping[str, Any], key: str, path: str, source: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DataImportError(f"{_where(source, path + key)}: expected a mapping, got {type(value).__name__}")
    return value


def _text(value: Any, path: str, source: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise DataImportError(f"{_where(source, path)}: missing (required)")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DataImportError(f"{_where(source, path)}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    if required and not text:
        raise DataImportError(f"{_where(source, path)}: empty")
    return text


def _variables(data: Any, path: str, source: str, *, units_required: bool) -> tuple[VariableSpec, ...]:
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        raise DataImportError(f"{_where(source, path)}: expected a mapping of name -> {{column, units, long_name}}")
    specs = []
    for name, spec in data.items():
        where = f"{path}.{name}"
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise DataImportError(f"{_where(source, where)}: expected a mapping with column, units, long_name")
        _check_keys(spec, "variable", where, source)
        units = _text(spec.get("units"), f"{where}.units", source)
        if units_required and not units:
            raise DataImportError(f"{_where(source, where)}: 'units' is required for a time series")
        column = _text(spec.get("column"), f"{where}.column", source) or str(name)
        long_name = _text(spec.get("long_name"), f"{where}.long_name", source) or str(name)
        specs.append(VariableSpec(str(name), column, units or None, long_name))
    return tuple(specs)


def parse_mapping(data: Mapping[str, Any], *, source: str = "mapping") -> GenericMapping:
    """Build a :class:`GenericMapping` from its YAML-like dictionary, strictly.

    Unknown keys (typos) are errors with a suggestion; ``source`` names the file in messages.
    """
    if not isinstance(data, Mapping):
        raise DataImportError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    _check_keys(data, "", "", source)
    files = _section(data, "files", "", source)
    _check_keys(files, "files", "files", source)
    time = _section(data, "time", "", source)
    _check_keys(time, "time", "time", source)
    attributes = _section(data, "attributes", "", source)
    _check_keys(attributes, "attributes", "attributes", source)

    variables = _variables(data.get("variables"), "variables", source, units_required=True)
    if not variables:
        raise DataImportError(f"{source}: variables: give at least one variable (name: {{column, units, long_name}})")

    pattern = _text(files.get("pattern"), "files.pattern", source) or "{id}.csv"
    if pattern.count(ID_FIELD) != 1:
        raise DataImportError(f"{source}: files.pattern: {pattern!r} must contain {ID_FIELD} exactly once")
    fmt = _text(files.get("format"), "files.format", source)
    if fmt is None:
        fmt = "netcdf" if pattern.lower().endswith((".nc", ".nc4", ".netcdf")) else "csv"
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise DataImportError(f"{source}: files.format: {fmt!r} is not one of {', '.join(FORMATS)}")
    skip_rows = files.get("skip_rows", 0)
    if isinstance(skip_rows, bool) or not isinstance(skip_rows, int) or skip_rows < 0:
        raise DataImportError(f"{source}: files.skip_rows: expected a non-negative integer, got {skip_rows!r}")

    parts = [_text(time.get(k), f"time.{k}", source) for k in ("year", "month", "day")]
    time_parts: tuple[str, str, str] | None = None
    if any(parts):
        if not all(parts):
            raise DataImportError(f"{source}: time: give all of year, month and day columns, or a date column")
        if time.get("column") is not None or time.get("format") is not None:
            raise DataImportError(f"{source}: time: give either column/format or year/month/day, not both")
        time_parts = (str(parts[0]), str(parts[1]), str(parts[2]))
    time_column = None if time_parts else (_text(time.get("column"), "time.column", source) or
                                          ("time" if fmt == "netcdf" else "date"))

    missing = data.get("missing") or []
    if not isinstance(missing, list):
        missing = [missing]
    tokens, sentinels = set(MISSING_TOKENS), []
    for item in missing:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise DataImportError(f"{source}: missing: {item!r} is neither text nor a number")
        tokens.add(str(item).strip())
        with contextlib.suppress(ValueError):
            sentinels.append(float(item))

    attr_specs = _variables(attributes.get("variables"), "attributes.variables", source, units_required=False)
    attr_file = _text(attributes.get("file"), "attributes.file", source)
    if attributes and not attr_file:
        raise DataImportError(f"{source}: attributes.file: missing (the CSV table of static attributes)")
    if attr_file and not attr_specs:
        raise DataImportError(f"{source}: attributes.variables: name the attributes to import "
                              "(with units for numbers, without for strings)")

    mapping = GenericMapping(
        variables=variables,
        pattern=pattern,
        file_format=fmt,
        delimiter=_text(files.get("delimiter"), "files.delimiter", source) or ",",
        skip_rows=skip_rows,
        time_column=time_column,
        time_format=_text(time.get("format"), "time.format", source),
        time_parts=time_parts,
        missing_tokens=frozenset(tokens),
        missing_values=tuple(sentinels),
        attributes_file=attr_file,
        id_column=_text(attributes.get("id_column"), "attributes.id_column", source) or "id",
        attributes_delimiter=_text(attributes.get("delimiter"), "attributes.delimiter", source) or ",",
        attributes=attr_specs,
        entity_dim=_text(data.get("entity_dim"), "entity_dim", source) or "entity",
    )
    _check_names(mapping, source)
    return mapping


def _check_names(mapping: GenericMapping, source: str) -> None:
    if mapping.entity_dim == "time":
        raise DataImportError(f"{source}: entity_dim: 'time' is the time dimension; choose another name")
    seen: dict[str, str] = {}
    for group, specs in (("variables", mapping.variables), ("attributes.variables", mapping.attributes)):
        for spec in specs:
            if spec.name in (mapping.entity_dim, "time"):
                raise DataImportError(f"{source}: {group}.{spec.name}: the name is taken by a dimension")
            if spec.name in seen:
                raise DataImportError(f"{source}: {group}.{spec.name}: also defined in {seen[spec.name]}")
            seen[spec.name] = group


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a mapping YAML file into a dictionary (parse it with :func:`parse_mapping`)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: mapping file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataImportError(f"{p}: not valid YAML: {exc}") from None
    if data is None:
        raise DataImportError(f"{p}: the mapping file is empty")
    if not isinstance(data, dict):
        raise DataImportError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _spec_option(text: str, option: str, *, units_required: bool) -> tuple[str, dict[str, str]]:
    """``NAME=COLUMN[:UNITS[:LONG_NAME]]`` → ``(NAME, {column, units, long_name})``."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip() or not rest.strip():
        form = "NAME=COLUMN:UNITS[:LONG_NAME]" if units_required else "NAME=COLUMN[:UNITS[:LONG_NAME]]"
        raise DataImportError(f"{option} {text!r}: expected {form}")
    pieces = rest.split(":", 2)
    spec = {"column": pieces[0].strip()}
    if len(pieces) > 1 and pieces[1].strip():
        spec["units"] = pieces[1].strip()
    elif units_required:
        raise DataImportError(f"{option} {text!r}: give the units, NAME=COLUMN:UNITS[:LONG_NAME]")
    if len(pieces) > 2 and pieces[2].strip():
        spec["long_name"] = pieces[2].strip()
    return name.strip(), spec


def apply_options(
    data: Mapping[str, Any] | None = None,
    *,
    entity_dim: str | None = None,
    pattern: str | None = None,
    file_format: str | None = None,
    delimiter: str | None = None,
    date_column: str | None = None,
    date_format: str | None = None,
    variables: Sequence[str] = (),
    missing: Sequence[str] = (),
    attributes_file: str | None = None,
    id_column: str | None = None,
    attributes: Sequence[str] = (),
) -> dict[str, Any]:
    """Layer command-line options over a mapping dictionary (options win).

    ``variables`` and ``attributes`` are ``NAME=COLUMN:UNITS[:LONG_NAME]`` texts (units
    optional for attributes: without them the attribute is a string).
    """
    out: dict[str, Any] = copy.deepcopy(dict(data or {}))

    def section(key: str) -> dict[str, Any]:
        value = out.get(key)
        if not isinstance(value, dict):
            value = {} if value is None else value
            out[key] = value
        return value  # type: ignore[no-any-return]

    if entity_dim:
        out["entity_dim"] = entity_dim
    for key, value in (("pattern", pattern), ("format", file_format), ("delimiter", delimiter)):
        if value is not None:
            section("files")[key] = value
    if date_column is not None:
        section("time")["column"] = date_column
    if date_format is not None:
        section("time")["format"] = date_format
    if variables:
        target = section("variables")
        for text in variables:
            name, spec = _spec_option(text, "--var", units_required=True)
            target[name] = spec
    if missing:
        existing = out.get("missing") or []
        out["missing"] = [*(existing if isinstance(existing, list) else [existing]), *missing]
    if attributes_file is not None:
        section("attributes")["file"] = attributes_file
    if id_column is not None:
        section("attributes")["id_column"] = id_column
    if attributes:
        attrs_section = section("attributes")
        target = attrs_section.setdefault("variables", {})
        for text in attributes:
            name, spec = _spec_option(text, "--attr", units_required=False)
            target[name] = spec
    return out


# --------------------------------------------------------------------------- files


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    head, _, tail = pattern.partition(ID_FIELD)

    def literal(text: str) -> str:
        return "[^/]*".join(re.escape(p) for p in text.split("*"))

    return re.compile(f"{literal(head)}(?P<id>[^/]+?){literal(tail)}")


def find_entity_files(src: Path, pattern: str, *, exclude: Iterable[Path] = ()) -> dict[str, Path]:
    """Entity id → file for every file under ``src`` matching ``pattern`` (sorted by id).

    ``exclude`` lists files that are not entity files even if they match (the attributes table).
    """
    glob = pattern.replace(ID_FIELD, "*")
    regex = _pattern_regex(pattern)
    skip = {p.resolve() for p in exclude}
    found: dict[str, Path] = {}
    for path in sorted(src.glob(glob)):
        if not path.is_file() or path.resolve() in skip:
            continue
        match = regex.fullmatch(path.relative_to(src).as_posix())
        if match is None:
            continue
        entity = match.group("id")
        if entity in found:
            raise DataImportError(f"entity {entity!r} has two files: {found[entity]} and {path}")
        found[entity] = path
    if not found:
        present = sorted(p.relative_to(src).as_posix() for p in src.iterdir())
        listing = short_list(present) if present else "the folder is empty"
        raise DataImportError(f"{src}: no file matches the pattern {pattern!r} (found: {listing})")
    return dict(sorted(found.items()))


@attrs.frozen
class _Table:
    source: str
    header: tuple[str, ...]
    cells: np.ndarray  # [row, column] of str
    lines: np.ndarray

    def column(self, name: str, what: str = "column") -> np.ndarray:
        if name not in self.header:
            hint = difflib.get_close_matches(name, self.header, n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            raise DataImportError(
                f"{self.source}: no {what} {name!r}{did} (columns: {short_list(self.header, 20)})")
        return self.cells[:, self.header.index(name)]


def read_table(path: Path, *, delimiter: str = ",", skip_rows: int = 0) -> _Table:
    """Read a delimited text table: header row then data rows; blank lines skipped."""
    source = str(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataImportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    header: tuple[str, ...] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    if delimiter.lower() == "whitespace":
        records: Iterable[tuple[int, list[str]]] = ((i + 1, ln.split()) for i, ln in enumerate(lines) if i >= skip_rows)
    else:
        if len(delimiter) != 1:
            raise DataImportError(f"{path}: delimiter {delimiter!r} must be one character or 'whitespace'")
        reader = csv.reader(lines[skip_rows:], delimiter=delimiter)
        records = ((reader.line_num + skip_rows, row) for row in reader)
    for number, row in records:
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = tuple(cell.strip() for cell in row)
            dups = sorted({h for h in header if header.count(h) > 1})
            if dups:
                raise DataImportError(f"{path}: line {number}: duplicated column names: {', '.join(dups)}")
            continue
        if len(row) != len(header):
            raise DataImportError(
                f"{path}: line {number}: expected {len(header)} fields as in the header, got {len(row)}")
        rows.append(row)
        numbers.append(number)
    if header is None:
        raise DataImportError(f"{path}: no header row (the file is empty)")
    if not rows:
        raise DataImportError(f"{path}: no data rows after the header")
    return _Table(source, header, np.asarray(rows, dtype=str), np.asarray(numbers, dtype=np.int64))


def _read_csv_entity(path: Path, mapping: GenericMapping) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    table = read_table(path, delimiter=mapping.delimiter, skip_rows=mapping.skip_rows)
    if mapping.time_parts is not None:
        y, m, d = (table.column(c, "date column") for c in mapping.time_parts)
        dates = dates_from_parts(y, m, d, source=table.source, lines=table.lines)
    else:
        assert mapping.time_column is not None
        dates = dates_from_text(table.column(mapping.time_column, "date column"), source=table.source,
                                column=mapping.time_column, lines=table.lines, fmt=mapping.time_format)
    check_unique_dates(dates, source=table.source, lines=table.lines)
    values = {
        spec.name: to_float(table.column(spec.column), source=table.source, column=spec.column, lines=table.lines,
                            missing_tokens=mapping.missing_tokens, missing_values=mapping.missing_values)
        for spec in mapping.variables
    }
    return dates, values


def _read_netcdf_entity(path: Path, mapping: GenericMapping) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        ds = xr.open_dataset(path)
    except Exception as exc:
        raise DataImportError(f"{path}: cannot open as NetCDF: {exc}") from None
    with ds:
        tname = mapping.time_column or "time"
        if tname not in ds.variables:
            raise DataImportError(f"{path}: no time variable {tname!r} (variables: {short_list(ds.variables, 20)})")
        times = ds[tname]
        if times.ndim != 1 or not np.issubdtype(times.dtype, np.datetime64):
            raise DataImportError(
                f"{path}: time variable {tname!r} is not a 1-D array of dates (dtype {times.dtype}); "
                "it needs CF units such as 'days since 2000-01-01'")
        tdim = times.dims[0]
        dates = times.values.astype("datetime64[D]")
        check_unique_dates(dates, source=str(path), lines=np.arange(dates.size), where="time indices")
        values = {}
        for spec in mapping.variables:
            if spec.column not in ds.variables:
                listing = short_list(ds.data_vars, 20)
                raise DataImportError(f"{path}: no variable {spec.column!r} for {spec.name!r} (variables: {listing})")
            var = ds[spec.column].squeeze(drop=True)
            if var.dims != (tdim,):
                raise DataImportError(f"{path}: variable {spec.column!r} has dims {var.dims}; expected ({tdim!r},)")
            if var.dtype.kind not in "fiu":
                raise DataImportError(f"{path}: variable {spec.column!r} is {var.dtype}, not numeric")
            column = var.values.astype(np.float64)
            if np.isinf(column).any():
                i = int(np.argmax(np.isinf(column)))
                raise DataImportError(f"{path}: variable {spec.column!r}: infinite value at {dates[i]!s}")
            if mapping.missing_values:
                column[np.isin(column, mapping.missing_values)] = np.nan
            values[spec.name] = column
    return dates, values


def _read_attributes(path: Path, mapping: GenericMapping, entities: Sequence[str]) -> dict[str, np.ndarray]:
    table = read_table(path, delimiter=mapping.attributes_delimiter)
    ids = np.char.strip(table.column(mapping.id_column, "id column"))
    order = np.argsort(ids, kind="stable")
    same = np.nonzero(ids[order][1:] == ids[order][:-1])[0]
    if same.size:
        a, b = order[same[0]], order[same[0] + 1]
        raise DataImportError(
            f"{path}: id {str(ids[a])!r} appears twice in column {mapping.id_column!r} "
            f"(lines {int(table.lines[a])} and {int(table.lines[b])})")
    row_of = {str(i): n for n, i in enumerate(ids.tolist())}
    absent = [e for e in entities if e not in row_of]
    if absent:
        raise DataImportError(
            f"{path}: no row for {len(absent)} entities with files: {short_list(absent)} "
            f"(ids are compared as text in column {mapping.id_column!r})")
    rows = np.asarray([row_of[e] for e in entities], dtype=np.int64)
    out = {}
    for spec in mapping.attributes:
        raw = table.column(spec.column)[rows]
        if spec.units:
            out[spec.name] = to_float(raw, source=str(path), column=spec.column, lines=table.lines[rows],
                                      missing_tokens=mapping.missing_tokens, missing_values=mapping.missing_values)
        else:
            text = np.char.strip(raw)
            out[spec.name] = np.where(np.isin(text, sorted(mapping.missing_tokens)), "", text)
    return out


# --------------------------------------------------------------------------- import


def import_generic(
    src: str | Path,
    mapping: GenericMapping | Mapping[str, Any] | str | Path,
    *,
    entity_dim: str | None = None,
    dtype: type = np.float32,
    show_progress: bool | None = None,
) -> xr.Dataset:
    """Import a folder of per-entity files into a canonical ``xarray.Dataset``.

    Parameters
    ----------
    src
        Folder holding the per-entity files (and, usually, the attributes table).
    mapping
        A :class:`GenericMapping`, its dictionary form, or the path of a YAML file.
    entity_dim
        Name of the entity dimension; overrides the mapping's ``entity_dim``.
    dtype
        Floating type of the time series (default float32; attributes are float64).
    show_progress
        Progress bar on stderr: ``None`` shows it only on a terminal.

    Returns
    -------
    xarray.Dataset
        Valid under :func:`delta_core.data.canonical.validate`.

    Raises
    ------
    FileNotFoundError
        ``src``, the mapping or the attributes table is missing.
    DataImportError
        Bad mapping or file content, naming the key, file, line, column or date.
    """
    from delta_core.data.canonical import validate

    folder = Path(src)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: source folder not found" if not folder.exists()
                                else f"{folder}: not a folder")
    if isinstance(mapping, str | Path):
        spec = parse_mapping(load_mapping(mapping), source=str(mapping))
    elif isinstance(mapping, GenericMapping):
        spec = mapping
    else:
        spec = parse_mapping(mapping)
    if entity_dim:
        spec = attrs.evolve(spec, entity_dim=entity_dim)
        _check_names(spec, "mapping")
    edim = spec.entity_dim

    table_path: Path | None = None
    if spec.attributes_file:
        table_path = Path(spec.attributes_file)
        if not table_path.is_absolute():
            table_path = folder / table_path
    files = find_entity_files(folder, spec.pattern, exclude=[table_path] if table_path else [])
    reader = _read_netcdf_entity if spec.file_format == "netcdf" else _read_csv_entity
    series = [reader(path, spec) for path in progress(files.values(), total=len(files), desc="import",
                                                        unit="file", enabled=show_progress)]
    entities = list(files)
    axis = daily_axis(dates for dates, _ in series)
    stacked = stack(axis, series, [v.name for v in spec.variables], dtype=dtype)

    data_vars: dict[str, Any] = {}
    for v in spec.variables:
        data_vars[v.name] = ((edim, "time"), stacked[v.name],
                             {"units": v.units or "", "long_name": v.long_name, "source_column": v.column})
    if table_path is not None:
        if not table_path.is_file():
            raise FileNotFoundError(f"{table_path}: attributes table not found")
        values = _read_attributes(table_path, spec, entities)
        for v in spec.attributes:
            meta = {"long_name": v.long_name, "source_column": v.column}
            if v.units:
                meta["units"] = v.units
            data_vars[v.name] = ((edim,), values[v.name], meta)

    ds = xr.Dataset(
        data_vars,
        coords={edim: as_str_array(entities), "time": axis.astype("datetime64[ns]")},
        attrs={
            "title": f"imported from {folder.name} by delta data import generic",
            "source": str(folder.resolve()),
            "entity_dim": edim,
            "time_span": "union of the entity records; NaN outside an entity's record and on days its file lacks",
        },
    )
    ds[edim].attrs["long_name"] = f"{edim} id (from the file names, pattern {spec.pattern!r})"
    ds["time"].attrs["long_name"] = "day"
    report = validate(ds)
    if not report.ok:  # pragma: no cover - a bug of this importer, not of the input
        raise DataImportError("the imported dataset is not canonical: " + "; ".join(report.problems))
    return ds
