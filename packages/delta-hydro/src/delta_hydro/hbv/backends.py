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

Optional capabilities (duck-typed, so that this module stays torch-free): a backend
may have ``is_available() -> bool`` (false when, e.g., its compiled library cannot be
built here), ``supports(forcing) -> bool`` (false for inputs it does not run, e.g.
another device or dtype) and ``route(series, weights) -> routed``, a faster
:func:`delta_hydro.hbv.routing.route` (same arguments and result) that the model then
uses for the unit-hydrograph routing.

Registered backends
-------------------
``"reference"``
    :func:`delta_hydro.hbv.reference.time_loop`, plain PyTorch; any device and dtype.
``"cpp"``
    :data:`delta_hydro.hbv.kernels.time_loop`, the fused C++ loop with a hand-written
    adjoint (issue 6); float32/float64 CPU tensors; compiled on first use, falls back
    to ``"reference"`` with one warning where it cannot be built.

and the name :data:`AUTO` (``"auto"``): per call, the first backend of
:data:`AUTO_ORDER` that is available and supports the inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from delta_core.plugins.registry import resolve_ref

BACKENDS: dict[str, str] = {
    "reference": "delta_hydro.hbv.reference:time_loop",
    "cpp": "delta_hydro.hbv.kernels:time_loop",
}
"""Backend name -> ``"module:callable"`` of the time loop (imported on first use)."""

AUTO = "auto"
"""Configuration name that selects, per call, the fastest backend that can run the inputs."""

AUTO_ORDER: list[str] = ["cpp", "reference"]
"""Backends ``auto`` tries, fastest first; ``"reference"`` (runs anything) last."""


def register_backend(name: str, ref: str, *, auto: bool = False) -> None:
    """Make a time-loop implementation selectable as ``HBVConfig(backend=name)``.

    Parameters
    ----------
    name
        New backend name (for example ``"compiled"``).
    ref
        ``"package.module:function"`` of a callable honouring the contract above.
    auto
        Also let ``backend: auto`` use it, tried before every backend already in
        :data:`AUTO_ORDER` (a new backend is normally registered because it is faster
        for the inputs its ``supports`` accepts).
    """
    if name == AUTO:
        raise ValueError(f"{AUTO!r} is reserved: it selects among the registered backends")
    if name in BACKENDS and BACKENDS[name] != ref:
        raise ValueError(f"HBV backend {name!r} is already registered as {BACKENDS[name]!r}")
    BACKENDS[name] = ref
    if auto and name not in AUTO_ORDER:
        AUTO_ORDER.insert(0, name)


def backend_names() -> tuple[str, ...]:
    """Names of the registered backends (not including :data:`AUTO`)."""
    return tuple(BACKENDS)


def config_names() -> tuple[str, ...]:
    """Values accepted by ``HBVConfig.backend``: :data:`AUTO` and every registered backend."""
    return (AUTO, *BACKENDS)


def load_backend(name: str) -> Callable[..., Any]:
    """Import and return the time loop registered as ``name``.

    A backend with ``is_available`` is checked now (a compiled one is built or loaded
    here, and warns once if it cannot be). ``"auto"`` returns an :class:`AutoLoop`
    over :data:`AUTO_ORDER` without the backends that are unavailable.
    """
    if name == AUTO:
        candidates = []
        for candidate in AUTO_ORDER:
            if candidate not in BACKENDS:
                continue
            try:
                candidates.append((candidate, load_backend(candidate)))
            except Exception as exc:  # a broken optional backend must not break "auto"
                if candidate == "reference":
                    raise
                warnings.warn(f"HBV backend 'auto': skipping {candidate!r}: {exc}", RuntimeWarning, stacklevel=2)
        return AutoLoop(candidates)
    if name not in BACKENDS:
        raise ValueError(f"unknown HBV backend {name!r}; available: {', '.join(config_names())}")
    loop = resolve_ref(BACKENDS[name], f"HBV backend {name!r}")
    available = getattr(loop, "is_available", None)
    if available is not None:
        available()  # build/load now, so that a fallback warning appears when the model is made
    return loop  # type: ignore[no-any-return]


class AutoLoop:
    """The ``auto`` backend: per call, the first available backend that supports the inputs.

    Parameters
    ----------
    candidates
        ``(name, time loop)`` pairs, preferred first; the last one should run anything
        (``"reference"``).
    """

    def __init__(self, candidates: list[tuple[str, Callable[..., Any]]]) -> None:
        if not candidates:
            raise ValueError("HBV backend 'auto': no backend to choose from")
        self.candidates = [
            (name, loop)
            for name, loop in candidates
            if getattr(loop, "is_available", None) is None or loop.is_available()  # type: ignore[attr-defined]
        ]
        if not self.candidates:
            raise ValueError("HBV backend 'auto': none of the backends is available")

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy (or unpickled model) re-selects among the backends of its process.
        return (load_backend, (AUTO,))

    def choose(self, forcing: Any) -> tuple[str, Callable[..., Any]]:
        """``(name, time loop)`` that ``auto`` runs for ``forcing``."""
        for name, loop in self.candidates:
            supports = getattr(loop, "supports", None)
            if supports is None or supports(forcing):
                return name, loop
        return self.candidates[-1]

    def __call__(self, forcing: Any, *args: Any, **kwargs: Any) -> Any:
        """Run the chosen backend's time loop (same arguments and result)."""
        return self.choose(forcing)[1](forcing, *args, **kwargs)

    def route(self, series: Any, weights: Any) -> Any:
        """Routing of the backend chosen for ``series`` (its own ``route``, else the torch one)."""
        own = getattr(self.choose(series)[1], "route", None)
        if own is not None:
            return own(series, weights)
        # By reference, so that this module stays torch-free at import.
        return resolve_ref("delta_hydro.hbv.routing:route", "HBV routing")(series, weights)
