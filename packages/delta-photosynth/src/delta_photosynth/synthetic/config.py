"""Options of the synthetic leaf-curve generator (torch-free)."""

from __future__ import annotations

from typing import Any

import attrs

from delta_core.config.validators import in_range, non_negative, positive


def _range(lo_min: float, hi_max: float) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: tuple[float, float]) -> None:
        if len(value) != 2 or not lo_min <= value[0] <= value[1] <= hi_max:
            raise ValueError(f"{attribute.name} must be [lo, hi] with {lo_min:g} <= lo <= hi <= {hi_max:g}, "
                             f"got {value!r}")

    return check


def _pair(value: object) -> tuple[float, float]:
    lo, hi = value  # type: ignore[misc]
    return (float(lo), float(hi))


@attrs.frozen
class SyntheticLeafConfig:
    """What to generate: one entity per leaf, measured as an A/Ci curve, a light curve and a
    temperature series (concatenated rows; the ``segment`` variable says which).

    Parameters
    ----------
    curves
        Number of leaves (entities).
    seed
        Seed of every random draw (same seed, same dataset bit for bit).
    noise
        Relative standard deviation of the measurement error of A (0.025 = 2.5 %).
    noise_floor
        Absolute standard deviation added in quadrature, µmol m⁻² s⁻¹ (IRGA resolution),
        so that points near A = 0 are noisy too.
    aci_points, light_points, temperature_points
        Rows of each segment (0 leaves a segment out; at least one row in all).
    vcmax25
        Range of the uniform distribution of true Vcmax25, µmol m⁻² s⁻¹.
    jv_ratio
        Range of the uniform distribution of Jmax25 / Vcmax25.
    """

    curves: int = attrs.field(default=200, validator=positive)
    seed: int = attrs.field(default=0, validator=non_negative)
    noise: float = attrs.field(default=0.025, validator=in_range(0.0, 0.5))
    noise_floor: float = attrs.field(default=0.05, validator=in_range(0.0, 5.0))
    aci_points: int = attrs.field(default=13, validator=in_range(0, 40))
    light_points: int = attrs.field(default=8, validator=in_range(0, 40))
    temperature_points: int = attrs.field(default=6, validator=in_range(0, 40))
    vcmax25: tuple[float, float] = attrs.field(default=(20.0, 150.0), converter=_pair, validator=_range(1.0, 300.0))
    jv_ratio: tuple[float, float] = attrs.field(default=(1.2, 2.2), converter=_pair, validator=_range(0.5, 4.0))

    def __attrs_post_init__(self) -> None:
        if self.aci_points + self.light_points + self.temperature_points < 1:
            raise ValueError("aci_points + light_points + temperature_points must be >= 1")
