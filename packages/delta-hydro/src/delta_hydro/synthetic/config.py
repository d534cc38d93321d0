"""Options of the synthetic hydrology generator and dataset (torch-free)."""

from __future__ import annotations

import attrs

from delta_core.config.validators import in_range, non_negative, one_of, positive


@attrs.frozen
class SyntheticConfig:
    """What to generate.

    Parameters
    ----------
    basins
        Number of basins.
    years
        Number of years of daily data, starting on ``start``.
    seed
        Seed of every random draw: the same seed gives the same dataset, bit for bit.
    start
        First day (ISO date).
    variant
        HBV variant that produces the true flow (``"1.0"``, ``"1.1p"``, ``"2.0"``).
    noise
        Standard deviation of the multiplicative log-normal observation error of flow.
    missing
        Share of flow observations removed at random (gaps), in ``[0, 0.5]``.
    """

    basins: int = attrs.field(default=40, validator=positive)
    years: int = attrs.field(default=12, validator=positive)
    seed: int = attrs.field(default=0, validator=non_negative)
    start: str = "1990-01-01"
    variant: str = attrs.field(default="1.1p", validator=one_of(("1.0", "1.1p", "2.0")))
    noise: float = attrs.field(default=0.05, validator=in_range(0.0, 1.0))
    missing: float = attrs.field(default=0.02, validator=in_range(0.0, 0.5))
