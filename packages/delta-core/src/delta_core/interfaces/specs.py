"""Declarations that components publish about themselves: variables and parameters.

These classes are torch-free on purpose: the CLI reads them (``delta plugins show``)
and configuration code validates against them without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

Dims = Literal["time_entity", "entity"]


@attrs.frozen
class Variable:
    """A named physical quantity that crosses a component boundary.

    Parameters
    ----------
    name
        Identifier used as dictionary key and as variable name in outputs
        (e.g. ``"P"``, ``"streamflow"``).
    units
        UDUNITS/CF-style units string (``"mm/day"``, ``"degC"``, ``"umol m-2 s-1"``).
    long_name
        Human readable description, written to the CF ``long_name`` attribute.
    dims
        ``"time_entity"`` for a series shaped ``[time, entity]`` (the default) or
        ``"entity"`` for one value per entity, shaped ``[entity]``.
    """

    name: str
    units: str
    long_name: str = ""
    dims: Dims = "time_entity"


@attrs.frozen
class Parameter:
    """A learnable physical parameter and its admissible range.

    The standard coupling maps a value ``u`` in ``[0, 1]`` to the physical value
    ``lo + u * (hi - lo)``.

    Parameters
    ----------
    name
        Parameter identifier (``"BETA"``, ``"Vcmax25"``).
    lo, hi
        Physical bounds, ``lo < hi``; both finite.
    units
        Units of the physical value.
    description
        One line that says what the parameter controls.
    dynamic_allowed
        Whether the parameter may vary in time (one value per time step).
    per_component
        ``True`` (default) for one value per entity and component (shape
        ``[entity, n_components]``, or ``[time, entity, n_components]`` when dynamic);
        ``False`` for one value per entity (``[entity]``), e.g. routing parameters.
    default
        Value used when the parameter is neither learned nor given; ``None`` means
        the parameter must always be provided.
    """

    name: str
    lo: float
    hi: float
    units: str = "1"
    description: str = ""
    dynamic_allowed: bool = True
    per_component: bool = True
    default: float | None = None

    def __attrs_post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or not self.lo < self.hi:
            raise ValueError(
                f"parameter {self.name!r}: bounds must be finite with lo < hi, "
                f"got lo={self.lo}, hi={self.hi}"
            )

    def to_physical(self, unit_value: float) -> float:
        """Scale a value from ``[0, 1]`` into ``[lo, hi]``."""
        return self.lo + unit_value * (self.hi - self.lo)


def names(items: Iterable[Variable | Parameter]) -> tuple[str, ...]:
    """Names of declared variables or parameters, in declaration order."""
    return tuple(item.name for item in items)


def find(items: Sequence[Parameter], name: str) -> Parameter:
    """Return the declaration called ``name`` or raise ``KeyError`` naming the choices."""
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"unknown parameter {name!r}; declared: {', '.join(names(items))}")


def format_parameter_table(params: Sequence[Parameter]) -> str:
    """Plain-text table of parameters: name, bounds, units, dynamic, description."""
    rows = [("name", "lo", "hi", "units", "dynamic", "description")]
    for p in params:
        rows.append(
            (p.name, f"{p.lo:g}", f"{p.hi:g}", p.units, "yes" if p.dynamic_allowed else "no",
             p.description)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1])
    return "\n".join(line.rstrip() for line in lines)
