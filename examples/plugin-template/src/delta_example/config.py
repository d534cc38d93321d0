"""Configuration classes of the example components (torch-free: the CLI imports them).

Each class structures the ``params`` mapping of a component in an experiment file;
fields need types and defaults, and validators state the admissible values so that
``delta config validate`` reports bad values with their path.
"""

from __future__ import annotations

import datetime
import re

import attrs

from delta_core.config.validators import non_negative, positive, subset_of

RESERVOIR_PARAMETERS = ("K", "CET")


def _iso_date(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{attribute.name} must be an ISO date 'YYYY-MM-DD', got {value!r}") from None


@attrs.frozen
class LinearReservoirConfig:
    """Options of ``example.linear_reservoir``.

    Parameters
    ----------
    n_components
        Number of parallel reservoirs per entity, each with its own parameters; their
        outputs are averaged (more components give a network more freedom).
    initial_storage
        Storage ``S`` (mm) every reservoir starts from when no states are given.
    dynamic_params
        Parameters that vary in time (learned as one value per day): any of ``"K"``,
        ``"CET"``.
    """

    n_components: int = attrs.field(default=1, validator=positive)
    initial_storage: float = attrs.field(default=0.0, validator=non_negative)
    dynamic_params: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, validator=subset_of(RESERVOIR_PARAMETERS)
    )


@attrs.frozen
class SyntheticConfig:
    """Options of ``example.synthetic``.

    Parameters
    ----------
    n_entities
        Number of synthetic catchments.
    start
        First day of the series, ISO ``YYYY-MM-DD``.
    n_days
        Length of the daily series. The default covers 1999-10-01 to 2001-12-31: three
        months of spin-up before the preset's training year 2000 and test year 2001.
    seed
        Seed of the random generator; the same seed gives the same data.
    """

    n_entities: int = attrs.field(default=8, validator=positive)
    start: str = attrs.field(default="1999-10-01", validator=_iso_date)
    n_days: int = attrs.field(default=823, validator=positive)
    seed: int = attrs.field(default=0)
