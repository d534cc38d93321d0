"""Parsing helpers shared by importers: numbers, dates and series with precise errors.

Every helper takes a ``source`` (usually the file path) and the 1-based file line of
each value, so that bad input becomes a :class:`~delta_core.data.importers.DataImportError`
like ``forcing.txt: line 17: column 'prcp(mm/day)': 'x1' is not a number``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from delta_core.data.importers import DataImportError

T = TypeVar("T")

MISSING_TOKENS: frozenset[str] = frozenset({"", "NA", "NaN", "nan", "NAN"})
"""Cell texts read as missing values by default (besides any sentinel an importer adds)."""


def short_list(items: Iterable[object], limit: int = 8) -> str:
    """``"a, b, c"`` or ``"a, b, ... (12 in all)"`` for error messages."""
    values = [str(i) for i in items]
    if len(values) <= limit:
        return ", ".join(values)
    return ", ".join(values[:limit]) + f", ... ({len(values)} in all)"


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool | None = None) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm progress bar on stderr.

    Parameters
    ----------
    enabled
        ``None`` (default): show the bar only when stderr is a terminal, so logs and
        pipes stay quiet. ``True``/``False`` force it on/off.
    """
    if enabled is None:
        enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)


def read_lines(path: Path) -> list[str]:
    """The lines of a text file, with a clear error when it is missing or not text."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    if not path.is_file():
        raise DataImportError(f"{path}: is a folder, expected a file")
    try:
        return path.read_text(encoding="utf-8", errors="strict").splitlines()
    except UnicodeDecodeError:
        try:
            return path.read_text(encoding="latin-1").splitlines()
        except OSError as exc:  # pragma: no cover - I/O failure
            raise DataImportError(f"{path}: cannot read: {exc}") from exc


def split_rows(lines: Sequence[str], first: int, *, source: str, n_fields: int | Sequence[int],
               names: Sequence[str] | None = None) -> tuple[list[list[str]], np.ndarray]:
    """Split whitespace-separated rows starting at 0-based index ``first``; skip blank lines.

    Returns
    -------
    rows, line_numbers
        The split rows, and the 1-based file line of each.

    Raises
    ------
    DataImportError
        A row with a number of fields not in ``n_fields`` (naming the file and line).
    """
    allowed = {n_fields} if isinstance(n_fields, int) else set(n_fields)
    rows: list[list[str]] = []
    numbers: list[int] = []
    for index in range(first, len(lines)):
        fields = lines[index].split()
        if not fields:
            continue
        if len(fields) not in allowed:
            expected = " or ".join(str(n) for n in sorted(allowed))
            what = f" ({' '.join(names)})" if names else ""
            raise DataImportError(
                f"{source}: line {index + 1}: expected {expected} fields{what}, got {len(fields)}: "
                f"{lines[index].strip()[:80]!r}"
            )
        rows.append(fields)
        numbers.append(index + 1)
    return rows, np.asarray(numbers, dtype=np.int64)


def to_float(raw: Sequence[str] | np.ndarray, *, source: str, column: str, lines: np.ndarray,
             missing_tokens: Iterable[str] = MISSING_TOKENS, missing_values: Iterable[float] = ()) -> np.ndarray:
    """Convert cell texts to float64, NaN for missing values.

    Parameters
    ----------
    raw
        The texts of one column.
    source, column, lines
        Named in errors: the file, the column and the 1-based line of each value.
    missing_tokens
        Texts (after stripping blanks) that mean "missing".
    missing_values
        Numeric sentinels that mean "missing" (e.g. ``-999``), compared after conversion.

    Raises
    ------
    DataImportError
        The first value that is not a number or is infinite, with file, line and column.
    """
    text = np.char.strip(np.asarray(raw, dtype=str))
    tokens = sorted(set(missing_tokens))
    missing = np.isin(text, tokens) if tokens else np.zeros(text.shape, dtype=bool)
    try:
        values = np.where(missing, "nan", text).astype(np.float64)
    except ValueError:
        for i, cell in enumerate(text.tolist()):
            if missing[i]:
                continue
            try:
                float(cell)
            except ValueError:
                raise DataImportError(
                    f"{source}: line {int(lines[i])}: column {column!r}: {cell!r} is not a number"
                ) from None
        raise  # pragma: no cover - numpy and float() disagree
    infinite = np.isinf(values)
    if infinite.any():
        i = int(np.argmax(infinite))
        cell = str(text[i])
        raise DataImportError(f"{source}: line {int(lines[i])}: column {column!r}: {cell!r} is not a finite number")
    sentinels = [float(v) for v in missing_values]
    if sentinels:
        values[np.isin(values, sentinels)] = np.nan
    return values


def dates_from_parts(year: np.ndarray, month: np.ndarray, day: np.ndarray, *, source: str,
                     lines: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` from year, month and day texts; an impossible date names its line."""
    parts = {}
    for name, raw in (("year", year), ("month", month), ("day", day)):
        text = np.asarray(raw, dtype=str)
        try:
            parts[name] = text.astype(np.int64)
        except ValueError:
            for i, cell in enumerate(text.tolist()):
                if not cell.lstrip("+-").isdigit():
                    raise DataImportError(
                        f"{source}: line {int(lines[i])}: {name} {cell!r} is not an integer") from None
            raise  # pragma: no cover
    dates = pd.to_datetime(pd.DataFrame(parts), errors="coerce").to_numpy(dtype="datetime64[D]")
    bad = np.isnat(dates)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataImportError(
            f"{source}: line {int(lines[i])}: {parts['year'][i]}-{parts['month'][i]:02d}-{parts['day'][i]:02d} "
            "is not a valid date"
        )
    return dates


def dates_from_text(raw: Sequence[str] | np.ndarray, *, source: str, column: str, lines: np.ndarray,
                    fmt: str | None = None) -> np.ndarray:
    """``datetime64[D]`` from date texts (``fmt`` as in ``strptime``; default ISO 8601).

    A time of day is dropped (daily data stamped at noon keep their day); two values
    falling on the same day are then reported by :func:`check_unique_dates`.
    """
    text = np.char.strip(np.asarray(raw, dtype=str))
    parsed = pd.to_datetime(pd.Series(text), format=fmt or "ISO8601", errors="coerce")
    dates = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    bad = np.isnat(dates)
    if bad.any():
        i = int(np.argmax(bad))
        how = f"format {fmt!r}" if fmt else "ISO 8601 (YYYY-MM-DD); set the date format in the mapping"
        cell = str(text[i])
        raise DataImportError(f"{source}: line {int(lines[i])}: column {column!r}: {cell!r} is not a date in {how}")
    return dates


def check_unique_dates(dates: np.ndarray, *, source: str, lines: np.ndarray | None = None,
                       where: str = "lines") -> None:
    """Raise when a date occurs twice, naming the file, the date and both ``lines`` (or other positions)."""
    order = np.argsort(dates, kind="stable")
    ordered = dates[order]
    same = np.nonzero(ordered[1:] == ordered[:-1])[0]
    if same.size:
        first, second = order[same[0]], order[same[0] + 1]
        n = same.size
        at = ""
        if lines is not None:
            at = f" ({where} {int(lines[first])} and {int(lines[second])})"
        more = f"; {n} duplicated dates in all" if n > 1 else ""
        raise DataImportError(f"{source}: duplicated date {str(dates[first])[:10]}{at}{more}")


def daily_axis(date_arrays: Iterable[np.ndarray]) -> np.ndarray:
    """The daily ``datetime64[D]`` axis from the earliest to the latest of all dates (union)."""
    starts, ends = [], []
    for dates in date_arrays:
        if dates.size:
            starts.append(dates.min())
            ends.append(dates.max())
    if not starts:
        raise DataImportError("no dated values in any input file")
    return np.arange(min(starts), max(ends) + np.timedelta64(1, "D"), dtype="datetime64[D]")


def place_on_axis(axis: np.ndarray, dates: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
    """Write ``values`` (one entity) at ``dates`` into the row ``out`` laid on ``axis``."""
    positions = (dates - axis[0]).astype(np.int64)
    out[positions] = values


def stack(axis: np.ndarray, series: Sequence[tuple[np.ndarray, Mapping[str, np.ndarray]]], names: Sequence[str],
          dtype: np.dtype | type = np.float32) -> dict[str, np.ndarray]:
    """Stack per-entity series onto ``axis``: name → ``[entity, time]`` array, NaN where absent."""
    out = {name: np.full((len(series), axis.size), np.nan, dtype=dtype) for name in names}
    for row, (dates, values) in enumerate(series):
        for name, column in values.items():
            place_on_axis(axis, dates, column, out[name][row])
    return out


def as_str_array(values: Iterable[object]) -> np.ndarray:
    """A numpy unicode array (the canonical store keeps strings as fixed-width unicode)."""
    items = ["" if v is None else str(v) for v in values]
    return np.asarray(items, dtype=str) if items else np.asarray([], dtype="<U1")
