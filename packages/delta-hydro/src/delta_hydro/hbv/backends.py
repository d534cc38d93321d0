"""Implementations of the HBV time loop, selectable by name (torch-free registry).

:class:`~delta_hydro.hbv.model.HBV` does everything that is not the per-step state
update itself (input checks, parameter selection, spin-up, averaging over components,
routing, warm-up cut) and hands the time loop to a *backend*: a callable looked up here
by :attr:`HBVConfig.backend <delta_hydro.hbv.config.HBVConfig.backend>`. Swapping in a
faster implementation (a fused C++/CUDA kernel, issue 6) therefore touches neither the
model nor its callers: register it and select it in the configuration.

Backend contract
----------------
A backend is a callable ``loop(forcing, static, dynamic, states, *, record) -> LoopResult``
(see :class:`delta_hydro.hbv.reference.LoopResult`) with

``forcing``
    ``[time, entity, 3]`` tensor: precipitation (mm/day), mean air temperature (°C),
    PET (mm/day).
``static``
    Mapping name -> ``[entity, nmul]`` tensor of parameters constant in time.
``dynamic``
    Mapping name -> ``[time, entity, nmul]`` tensor of parameters that vary per step.
    A name appears in exactly one of ``static``/``dynamic``. Always present: BETA FC
    K0 K1 K2 LP PERC UZL TT CFMAX CFR CWH. Optional, and their presence switches a
    process on: ``BETAET`` (ET shape exponent; absent means exponent 1), ``C``
    (capillary rise), ``LF`` (groundwater leakage in mm/day, already evaluated from
    RT, AC and the basin area). ``TT`` is the effective threshold temperature.
``states``
    Mapping SNOWPACK, MELTWATER, SM, SUZ, SLZ -> ``[entity, nmul]`` initial states (mm).
``record``
    When false only the final states are needed (spin-up); ``fluxes`` may be empty.

and it must return, for ``record=True``, component means ``[time, entity]`` (mm/day) of
``Q`` (Q0+Q1+Q2), ``Q0``, ``Q1``, ``Q2``, ``AET``, ``SWE`` (mm), ``recharge``,
``excess``, ``evapfactor`` (1), ``tosoil``, ``percolation``, plus ``capillary`` when
``C`` is given and ``leakage`` when ``LF`` is given; and the final states
``[entity, nmul]``. Results must agree with the ``"reference"`` backend to float
round-off, forward and backward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from delta_core.plugins.registry import resolve_ref

BACKENDS: dict[str, str] = {
    "reference": "delta_hydro.hbv.reference:time_loop",
}
"""Backend name -> ``"module:callable"`` of the time loop (imported on first use)."""


def register_backend(name: str, ref: str) -> None:
    """Make a time-loop implementation selectable as ``HBVConfig(backend=name)``.

    Parameters
    ----------
    name
        New backend name (for example ``"compiled"``).
    ref
        ``"package.module:function"`` of a callable honouring the contract above.
    """
    if name in BACKENDS and BACKENDS[name] != ref:
        raise ValueError(f"HBV backend {name!r} is already registered as {BACKENDS[name]!r}")
    BACKENDS[name] = ref


def backend_names() -> tuple[str, ...]:
    """Names of the registered backends."""
    return tuple(BACKENDS)


def load_backend(name: str) -> Callable[..., Any]:
    """Import and return the time loop registered as ``name``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown HBV backend {name!r}; available: {', '.join(BACKENDS)}")
    return resolve_ref(BACKENDS[name], f"HBV backend {name!r}")  # type: ignore[no-any-return]
