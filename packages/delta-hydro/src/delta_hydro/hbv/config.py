"""Configuration of ``hydro.hbv`` (torch-free).

One registered component, ``hydro.hbv``, covers the three daily HBV variants of the δHBV
papers; the :attr:`HBVConfig.variant` option picks one:

``"1.0"``
    δHBV 1.0 (Feng et al. 2022, WRR 58:e2022WR032404): HBV after Bergström (1976, 1992)
    and Seibert & Vis (2012), ET curve exponent 1 unless BETAET is made dynamic.
``"1.1p"``
    δHBV 1.1p (Song et al. 2024, HESS): adds the ET shape parameter BETAET and
    capillary rise from the lower zone to the soil (parameter C).
``"2.0"``
    δHBV 2.0 (Song et al. 2025, WRR, doi:10.1029/2024WR038928): 1.1p plus a
    groundwater leakage term (RT, AC) that depends on basin area, and a fixed snow
    threshold of 4 °C for basins with mean elevation ≥ 2000 m. Needs the attributes
    basin area (km²) and mean elevation (m).

Example YAML::

    phy:
      hbv:
        name: hydro.hbv
        params: {variant: "1.1p", nmul: 16, dynamic: [BETA, K0, BETAET],
                 warmup_mode: full_grad}
"""

from __future__ import annotations

from typing import Any

import attrs

from delta_core.config.validators import one_of, positive, subset_of
from delta_hydro.hbv.backends import config_names
from delta_hydro.hbv.parameters import VARIANTS, dynamic_candidates

WARMUP_MODES: tuple[str, ...] = ("spinup_no_grad", "full_grad")
"""Ways of using the ``warmup`` leading steps of a window (see :class:`HBVConfig`)."""


def _names(value: object) -> tuple[str, ...]:
    """A single name or an iterable of names, as a tuple (``"BETA"`` -> ``("BETA",)``)."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)  # type: ignore[call-overload]


def _integer(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an integer, got {value!r}")


def _known_backend(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    # Read the registry at validation time: backends registered later are accepted.
    one_of(config_names())(_, attribute, value)


def _dynamic_of_variant(instance: HBVConfig, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{attribute.name} must hold parameter names, got {item!r}")
    try:
        subset_of(dynamic_candidates(instance.variant))(instance, attribute, value)
    except ValueError as exc:
        raise ValueError(f"{exc} (for HBV variant {instance.variant!r})") from None


@attrs.frozen
class HBVConfig:
    """Options of ``hydro.hbv``.

    Parameters
    ----------
    variant
        ``"1.0"``, ``"1.1p"`` or ``"2.0"``; see the module docstring.
    nmul
        Number of parallel HBV components per basin whose outputs are averaged
        (Feng et al. 2022), >= 1.
    dynamic
        Names of parameters given one value per day (``[time, basin, nmul]``); every
        other parameter is static (``[basin, nmul]``). Must be parameters of the
        variant (``route_a``/``route_b`` cannot be dynamic). In 1.0, listing
        ``BETAET`` is what adds the ET shape parameter. A single name is accepted.
    warmup_mode
        How the ``warmup`` leading steps given to ``forward`` are used:

        ``"spinup_no_grad"`` (default): run them first without gradients, every
        parameter given as a series at its value of day ``warmup - 1`` (in 1.1p
        dynamic parameters stay daily), then run the rest from the spun-up states;
        routing and BFI cover the rest only. hydrodl2's ``warm_up_states: true``.

        ``"full_grad"``: run the whole window with gradients and drop the first
        ``warmup`` outputs; routing and BFI see the whole window (as in hydrodl2's
        ``warm_up_states: false``).
    route_length
        Maximum length in days of the gamma unit hydrograph. 1.0 and 1.1p use
        ``min(run length, route_length)`` days, 2.0 always ``route_length`` days
        (as in the model description of issue 3). Default 15.
    backend
        Name of the time-loop implementation (:mod:`delta_hydro.hbv.backends`):
        ``"auto"`` (default, see below); ``"reference"``, the plain PyTorch loop of
        :mod:`delta_hydro.hbv.reference`; ``"cpp"``, the fused C++ loop with a
        hand-written adjoint (:mod:`delta_hydro.hbv.kernels`; compiled on first use,
        falls back to ``"reference"`` with one warning where it cannot be built);
        ``"auto"``, per call the fastest backend that loads and runs the inputs
        (``"cpp"`` for float32/float64 CPU tensors, else ``"reference"``). All give the
        same results to rounding, forward and backward.
    """

    variant: str = attrs.field(default="1.0", validator=one_of(VARIANTS))
    nmul: int = attrs.field(default=16, validator=[_integer, positive])
    dynamic: tuple[str, ...] = attrs.field(default=(), converter=_names, validator=_dynamic_of_variant)
    warmup_mode: str = attrs.field(default="spinup_no_grad", validator=one_of(WARMUP_MODES))
    route_length: int = attrs.field(default=15, validator=[_integer, positive])
    backend: str = attrs.field(default="auto", validator=_known_backend)
