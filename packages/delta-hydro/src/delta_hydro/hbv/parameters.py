"""Parameter declarations of the HBV family, per variant (torch-free).

Bounds follow the δHBV papers and their reference implementation (Feng et al. 2022,
Water Resources Research 58:e2022WR032404; Song et al. 2024, HESS; Song et al. 2025,
WRR, doi:10.1029/2024WR038928). A network output ``u`` in ``[0, 1]`` becomes the
physical value ``lo + u * (hi - lo)`` (see :mod:`delta_core.coupling`).

Which parameters a configured model declares:

=========  =====================================================================
variant    parameters
=========  =====================================================================
``1.0``    BETA FC K0 K1 K2 LP PERC UZL TT CFMAX CFR CWH (+ BETAET only when it
           is listed as dynamic), route_a route_b
``1.1p``   the twelve above + BETAET C, route_a route_b
``2.0``    the twelve above + BETAET C RT AC, route_a route_b
=========  =====================================================================

The routing parameters ``route_a``/``route_b`` are one value per basin
(``per_component=False``) and never dynamic.
"""

from __future__ import annotations

from delta_core.interfaces.specs import Parameter, format_parameter_table

VARIANTS: tuple[str, ...] = ("1.0", "1.1p", "2.0")
"""The HBV variants implemented, in release order."""

_CORE: tuple[Parameter, ...] = (
    Parameter("BETA", 1.0, 6.0, "1", "shape exponent of the soil recharge curve (SM/FC)^BETA"),
    Parameter("FC", 50.0, 1000.0, "mm", "field capacity: maximum soil moisture storage"),
    Parameter("K0", 0.05, 0.9, "day-1", "upper-zone recession above UZL (surface flow Q0)"),
    Parameter("K1", 0.01, 0.5, "day-1", "upper-zone recession (subsurface flow Q1)"),
    Parameter("K2", 0.001, 0.2, "day-1", "lower-zone recession (groundwater flow Q2)"),
    Parameter("LP", 0.2, 1.0, "1", "fraction of FC above which ET is potential"),
    Parameter("PERC", 0.0, 10.0, "mm/day", "maximum percolation, upper to lower zone"),
    Parameter("UZL", 0.0, 100.0, "mm", "upper-zone threshold for surface flow"),
    Parameter("TT", -2.5, 2.5, "degC", "threshold temperature for snowfall and snowmelt"),
    Parameter("CFMAX", 0.5, 10.0, "mm degC-1 day-1", "degree-day snowmelt factor"),
    Parameter("CFR", 0.0, 0.1, "1", "refreezing coefficient (fraction of CFMAX)"),
    Parameter("CWH", 0.0, 0.2, "1", "water holding capacity of the snowpack (fraction)"),
)

BETAET = Parameter(
    "BETAET", 0.3, 5.0, "1",
    "ET curve shape exponent (1.0: only if dynamic, else 1)",
)
C = Parameter("C", 0.0, 1.0, "day-1", "capillary rise coefficient, lower zone to soil (1.1p, 2.0)")
RT = Parameter("RT", 0.0, 20.0, "mm/day", "groundwater leakage / exchange rate (2.0)")
AC = Parameter("AC", 0.0, 2500.0, "km2", "basin-area threshold of the leakage (2.0)")

ROUTING: tuple[Parameter, ...] = (
    Parameter(
        "route_a", 0.0, 2.9, "1", "gamma unit hydrograph: shape a = relu(route_a) + 0.1",
        dynamic_allowed=False, per_component=False,
    ),
    Parameter(
        "route_b", 0.0, 6.5, "day", "gamma unit hydrograph: scale theta = relu(route_b) + 0.5",
        dynamic_allowed=False, per_component=False,
    ),
)

_EXTRA: dict[str, tuple[Parameter, ...]] = {
    "1.0": (),
    "1.1p": (BETAET, C),
    "2.0": (BETAET, C, RT, AC),
}

ALL_PARAMETERS: tuple[Parameter, ...] = (*_CORE, BETAET, C, RT, AC, *ROUTING)
"""Every parameter of the family, in channel order (the table of ``delta plugins show``)."""


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))}, got {variant!r}")


def dynamic_candidates(variant: str) -> tuple[str, ...]:
    """Names of the parameters that may be dynamic in ``variant``.

    Every per-component physical parameter may be dynamic (including BETAET in 1.0,
    where listing it as dynamic is what adds it); the routing parameters may not.
    """
    _check_variant(variant)
    params = (*_CORE, BETAET) if variant == "1.0" else (*_CORE, *_EXTRA[variant])
    return tuple(p.name for p in params if p.dynamic_allowed)


def physical_parameters(variant: str, dynamic: tuple[str, ...] = ()) -> tuple[Parameter, ...]:
    """Per-component physical parameters of ``variant``, in channel order.

    Parameters
    ----------
    variant
        ``"1.0"``, ``"1.1p"`` or ``"2.0"``.
    dynamic
        Names configured as dynamic; only matters for 1.0, which declares BETAET only
        when it is dynamic.
    """
    _check_variant(variant)
    extra = _EXTRA[variant]
    if variant == "1.0" and "BETAET" in dynamic:
        extra = (BETAET,)
    return (*_CORE, *extra)


def parameters(variant: str, dynamic: tuple[str, ...] = ()) -> tuple[Parameter, ...]:
    """All parameters of ``variant``: physical ones, then ``route_a``, ``route_b``."""
    return (*physical_parameters(variant, dynamic), *ROUTING)


def parameter_table() -> str:
    """Plain-text table of every parameter of the family (bounds, units, description)."""
    return format_parameter_table(ALL_PARAMETERS)
