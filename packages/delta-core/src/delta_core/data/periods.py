"""Map configured date periods onto a dataset's daily time axis, with clear errors."""

from __future__ import annotations

import attrs
import numpy as np


class PeriodError(ValueError):
    """A period that the data cannot serve; the message names the period, dates and entities."""


@attrs.frozen
class TimeRange:
    """Positions ``[start, stop)`` of a period's days on a time axis, plus warm-up room.

    Attributes
    ----------
    start, stop
        First and one-past-last index of the period's days.
    """

    start: int
    stop: int

    @property
    def length(self) -> int:
        """Number of days in the period."""
        return self.stop - self.start


def _day(value: str | np.datetime64) -> np.datetime64:
    return np.datetime64(value, "D")


def time_range(times: np.ndarray, start: str, end: str, *, name: str = "period", warmup: int = 0) -> TimeRange:
    """Indices of the closed date interval ``[start, end]`` on the daily axis ``times``.

    Parameters
    ----------
    times
        Daily ``datetime64`` axis, increasing without gaps.
    start, end
        ISO dates, inclusive.
    name
        Period name used in messages (``"train"``).
    warmup
        Days needed *before* ``start`` to spin up states; they must exist in the data.

    Raises
    ------
    PeriodError
        If the period (or its warm-up) reaches outside the data, naming the missing dates.
    """
    days = times.astype("datetime64[D]")
    first, last = days[0], days[-1]
    s, e = _day(start), _day(end)
    problems = []
    if s < first:
        problems.append(f"starts on {s}, before the data's first day {first}")
    if e > last:
        problems.append(f"ends on {e}, after the data's last day {last}")
    if not problems:
        i0 = int(np.searchsorted(days, s))
        i1 = int(np.searchsorted(days, e, side="right"))
        if i0 < warmup:
            need = s - np.timedelta64(warmup, "D")
            problems.append(
                f"needs {warmup} warm-up days before {s} (from {need}), but the data start on {first}"
            )
    if problems:
        raise PeriodError(f"period {name!r} [{s} .. {e}] " + "; ".join(problems) + f" (data: {first} .. {last})")
    return TimeRange(i0, i1)


def missing_spans(valid: np.ndarray, days: np.ndarray, limit: int = 3) -> str:
    """Describe runs of ``False`` in ``valid`` as date spans, e.g. ``"1980-10-01..1980-12-31 (92 days)"``."""
    bad = ~valid
    if not bad.any():
        return ""
    edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    spans = [f"{days[a]}..{days[b - 1]} ({b - a} days)" for a, b in zip(starts[:limit], stops[:limit], strict=True)]
    more = f" and {len(starts) - limit} more spans" if len(starts) > limit else ""
    return ", ".join(spans) + more
