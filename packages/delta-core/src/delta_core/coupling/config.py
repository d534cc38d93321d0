"""Configuration of the standard parameter-learning coupling (torch-free)."""

from __future__ import annotations

import attrs

from delta_core.config.validators import in_range, non_negative


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


@attrs.frozen
class FreeParametersConfig:
    """Options of ``core.free_parameters``.

    Parameters
    ----------
    init_default
        Initial position of every parameter within its bounds, in ``(0, 1)``.
    init
        Per-parameter initial positions overriding ``init_default``.
    fixed
        Parameters held at a physical value instead of fitted.
    warmup
        Leading steps used only to spin up states.
    """

    init_default: float = attrs.field(default=0.5, validator=in_range(0.0, 1.0))
    init: dict[str, float] = attrs.field(factory=dict)
    fixed: dict[str, float] = attrs.field(factory=dict)
    warmup: int = attrs.field(default=0, validator=non_negative)
