"""Configuration of the standard parameter-learning coupling (torch-free)."""

from __future__ import annotations

import attrs

from delta_core.config.validators import non_negative


@attrs.frozen
class ParameterLearningConfig:
    """Options of ``core.param_learning``.

    Parameters
    ----------
    warmup
        Leading time steps of every window used only to spin up the PhyModel's states;
        outputs and losses start after them. Windows are sampled ``warmup`` steps longer.
    fixed
        Parameters that are not learned but held at the given physical value
        (must lie within the parameter's bounds).
    """

    warmup: int = attrs.field(default=0, validator=non_negative)
    fixed: dict[str, float] = attrs.field(factory=dict)
