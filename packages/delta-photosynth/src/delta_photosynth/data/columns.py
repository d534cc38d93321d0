"""Column names of gas-exchange files and the canonical variables they map to (torch-free).

LI-COR LI-6400 exports name net assimilation ``Photo``, conductance ``Cond``, PPFD
``PARi``, sample CO2 ``CO2S`` and pressure ``Press``; LI-6800 exports use ``A``, ``gsw``,
``Qin``, ``CO2_s``/``Ca`` and ``Pa`` (kPa); tables from R and Python packages use either,
plus curve ids such as ``Curve`` or ``CurveID``. :data:`VARIABLES` lists, per canonical
variable, its units, whether it is an observation (NaN on padding rows) or a driver
(repeated on padding rows) and its aliases in order of preference.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ColumnSpec:
    """A canonical variable of leaf gas-exchange data.

    Parameters
    ----------
    name
        Variable name in the canonical store (also the PhyModel forcing name).
    units, long_name
        CF-style units and description.
    aliases
        Column names, most preferred first; matched exactly, then case-insensitively.
    observation
        ``True`` for measured responses (A, gsw): NaN on padding rows so that losses
        mask them; ``False`` for drivers, which repeat the curve's last row there.
    """

    name: str
    units: str
    long_name: str
    aliases: tuple[str, ...]
    observation: bool = False


VARIABLES: tuple[ColumnSpec, ...] = (
    ColumnSpec("A", "umol m-2 s-1", "net CO2 assimilation rate", ("Photo", "A", "An", "Anet", "Photosynthesis"),
               observation=True),
    ColumnSpec("gsw", "mol m-2 s-1", "stomatal conductance to water vapour", ("Cond", "gsw", "gs", "gs_w"),
               observation=True),
    ColumnSpec("Ci", "umol mol-1", "intercellular CO2 mole fraction", ("Ci", "C_i")),
    ColumnSpec("Ca", "umol mol-1", "CO2 mole fraction in the leaf chamber (sample)", ("CO2S", "Ca", "CO2_s", "Cs")),
    ColumnSpec("Q", "umol m-2 s-1", "photosynthetic photon flux density incident on the leaf",
               ("Qin", "PARi", "PPFD", "PAR", "Q", "Qin_cuvette")),
    ColumnSpec("Tleaf", "degC", "leaf temperature", ("Tleaf", "TleafCnd", "T_leaf", "Tleaf_C")),
    ColumnSpec("Patm", "kPa", "atmospheric pressure", ("Patm", "Press", "Pa", "P_atm")),
    ColumnSpec("O2", "mmol mol-1", "O2 mole fraction", ("O2", "oxygen", "Oxygen")),
    ColumnSpec("VPD", "kPa", "leaf-to-air vapour pressure deficit", ("VPDleaf", "VpdL", "VPD", "VPDl")),
    ColumnSpec("RH", "%", "relative humidity in the leaf chamber", ("RH_S", "RHcham", "RH_s", "RH")),
    ColumnSpec("gbw", "mol m-2 s-1", "boundary-layer conductance to water vapour", ("gbw", "BLCond")),
)
"""Canonical variables in store order."""

BY_NAME: dict[str, ColumnSpec] = {v.name: v for v in VARIABLES}

CURVE_ALIASES: tuple[str, ...] = ("Curve", "CurveID", "curve", "curve_id", "CurveId", "Curve_ID", "curveID")
"""Columns identifying a curve, most preferred first."""

ATTRIBUTE_ALIASES: tuple[str, ...] = ("treatment", "Treatment", "species", "Species", "genotype", "Genotype", "plot",
                                      "site", "Site", "pft", "PFT", "instrument", "FittingGroup", "replicate",
                                      "leaf", "Leaf")
"""Group columns kept as per-curve string attributes when constant within every curve."""

REQUIRED_FINITE: tuple[str, ...] = ("A", "Ci", "Q", "Tleaf")
"""Variables whose non-finite values make a row unusable (when the file has them)."""

LIMITS: dict[str, tuple[float, float, str]] = {
    "A": (-80.0, 80.0, "|A| > 80 umol m-2 s-1"),
    "Ci": (0.0, float("inf"), "Ci < 0"),
    "Ca": (0.0, float("inf"), "Ca < 0"),
    "Tleaf": (-10.0, 60.0, "Tleaf outside [-10, 60] degC"),
    "Patm": (30.0, 110.0, "Patm outside [30, 110] kPa"),
}
"""Physically impossible values: rows outside ``[lo, hi]`` are dropped (with a count and a warning)."""
