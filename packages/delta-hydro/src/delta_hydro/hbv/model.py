"""HBV 1.0 / 1.1p / 2.0 as a differentiable :class:`~delta_core.interfaces.phy.PhyModel`.

Daily conceptual rainfall-runoff model after Bergström (1976, SMHI Report RHO 7; 1992,
SMHI Reports Hydrology 4) in the HBV-light formulation (Seibert & Vis 2012, HESS
16:3315), in the multi-component differentiable form of δHBV 1.0 (Feng et al. 2022,
WRR 58:e2022WR032404), 1.1p (Song et al. 2024, HESS) and 2.0 (Song et al. 2025, WRR,
doi:10.1029/2024WR038928). Outputs match MHPI's hydrodl2 1.4.0 for the same inputs and
parameters (tests/hydro/test_hbv_reference.py).

Tensor layout (``B`` basins, ``nmul`` components, ``T`` days):

==================  ======================================  ===========================
argument            shape                                   units
==================  ======================================  ===========================
``forcing``         ``[T, B, 3]``: P, T, PET                mm/day, °C, mm/day
``params[p]``       static ``[B, nmul]`` or ``[T, B, nmul]``  see :attr:`param_specs`
                    (last step used); dynamic ``[T, B, nmul]``
``params[route_*]`` ``[B]`` or ``[T, B]`` (last step used)
``attributes``      ``[B, 2]``: area, elevation (2.0 only)   km², m
``states[s]``       ``[B, nmul]``                             mm
fluxes              ``[T - warmup, B]``; ``BFI`` ``[B]``       mm/day (SWE mm, BFI %)
==================  ======================================  ===========================

A static parameter may be given as a ``[T, B, nmul]`` series, the convention of the
reference implementation (a network emits one value per day for every parameter): its
last step is used (and in spin-up its value on day ``warmup - 1``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from delta_core.interfaces.phy import PhyInputError, PhyModel, PhyOutput, all_finite
from delta_core.interfaces.specs import Parameter, Variable
from delta_hydro.hbv.backends import load_backend
from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.parameters import parameters
from delta_hydro.hbv.reference import NEARZERO, STATE_NAMES
from delta_hydro.hbv.routing import gamma_unit_hydrograph, route

INITIAL_STORAGE = 0.001
"""Default initial value (mm) of every storage."""

HIGH_ELEVATION = 2000.0
"""2.0: basins with mean elevation at or above this (m) use :data:`HIGH_ELEVATION_TT`."""

HIGH_ELEVATION_TT = 4.0
"""2.0: threshold temperature (°C) used for high-elevation basins."""

LEAKAGE_AREA = 2500.0
"""2.0: basin area (km²) above which the leakage decays exponentially with area."""

_FORCINGS = (
    Variable("P", "mm/day", "precipitation"),
    Variable("T", "degC", "daily mean air temperature"),
    Variable("PET", "mm/day", "potential evapotranspiration"),
)
_ATTRIBUTES_2_0 = (
    Variable("area", "km2", "basin (drainage) area", dims="entity"),
    Variable("elevation", "m", "mean basin elevation", dims="entity"),
)
_STATES = (
    Variable("SNOWPACK", "mm", "snowpack (frozen water equivalent)", dims="entity"),
    Variable("MELTWATER", "mm", "liquid water held in the snowpack", dims="entity"),
    Variable("SM", "mm", "soil moisture storage", dims="entity"),
    Variable("SUZ", "mm", "upper groundwater zone storage", dims="entity"),
    Variable("SLZ", "mm", "lower groundwater zone storage", dims="entity"),
)
_OUTPUTS_COMMON = (
    Variable("streamflow", "mm/day", "streamflow, routed"),
    Variable("srflow", "mm/day", "surface flow Q0, routed"),
    Variable("ssflow", "mm/day", "subsurface flow Q1, routed"),
    Variable("gwflow", "mm/day", "groundwater flow Q2, routed"),
    Variable("AET_hydro", "mm/day", "actual evapotranspiration"),
    Variable("PET_hydro", "mm/day", "potential evapotranspiration (input)"),
    Variable("SWE", "mm", "snow water equivalent (snowpack storage)"),
    Variable("streamflow_no_rout", "mm/day", "streamflow Q0 + Q1 + Q2, unrouted"),
    Variable("srflow_no_rout", "mm/day", "surface flow Q0, unrouted"),
    Variable("ssflow_no_rout", "mm/day", "subsurface flow Q1, unrouted"),
    Variable("gwflow_no_rout", "mm/day", "groundwater flow Q2, unrouted"),
    Variable("recharge", "mm/day", "recharge from soil to the upper zone"),
    Variable("excs", "mm/day", "soil moisture excess above field capacity"),
    Variable("evapfactor", "1", "evapotranspiration factor (actual/potential before the SM limit)"),
    Variable("tosoil", "mm/day", "liquid water released from the snowpack to the soil"),
    Variable("percolation", "mm/day", "percolation from the upper to the lower zone"),
)
_CAPILLARY = Variable("capillary", "mm/day", "capillary rise from the lower zone to the soil")
_LEAKAGE = Variable(
    "leakage", "mm/day", "groundwater leakage into the lower zone as applied (negative: loss)"
)
_BFI = Variable("BFI", "%", "baseflow index 100 * sum(gwflow) / sum(streamflow)", dims="entity")

# Loop record name -> output name (unrouted / unit-free ones).
_DIRECT = {
    "AET": "AET_hydro",
    "SWE": "SWE",
    "Q": "streamflow_no_rout",
    "Q0": "srflow_no_rout",
    "Q1": "ssflow_no_rout",
    "Q2": "gwflow_no_rout",
    "recharge": "recharge",
    "excess": "excs",
    "evapfactor": "evapfactor",
    "tosoil": "tosoil",
    "percolation": "percolation",
    "capillary": "capillary",
    "leakage": "leakage",
}

_ROUTING_NAMES = ("route_a", "route_b")

# Plausibility limits that catch wrong units (e.g. Kelvin, or m instead of mm).
_TEMPERATURE_RANGE = (-90.0, 65.0)
_ELEVATION_RANGE = (-500.0, 9000.0)


class HBVNumericalError(FloatingPointError):
    """The model produced non-finite outputs from finite, in-range inputs."""


class HBV(PhyModel):
    """The HBV family as a PhyModel, registered as ``hydro.hbv``.

    Parameters
    ----------
    config
        :class:`~delta_hydro.hbv.config.HBVConfig`: ``variant`` ("1.0", "1.1p" or
        "2.0"), ``nmul``, ``dynamic``, ``warmup_mode``, ``route_length``, ``backend``.
        Defaults (variant 1.0, nmul 16, all parameters static, spin-up without
        gradients) when ``None``.

    Notes
    -----
    Per day and component (mm, mm/day, °C), in this order: rain/snow split at TT;
    degree-day melt ``min(max(CFMAX (T-TT), 0), SNOWPACK)``; refreezing
    ``min(max(CFR CFMAX (TT-T), 0), MELTWATER)``; release to soil
    ``max(MELTWATER - CWH SNOWPACK, 0)``; recharge ``(rain + tosoil) clip((SM/FC)^BETA,
    0, 1)``; excess ``max(SM - FC, 0)``; ET ``min(SM, PET clip((SM/(LP FC))^BETAET, 0,
    1))``; capillary rise ``min(SLZ, C SLZ (1 - min(SM/FC, 1)))`` (1.1p, 2.0);
    percolation ``min(SUZ, PERC)``; ``Q0 = K0 max(SUZ - UZL, 0)``; ``Q1 = K1 SUZ``;
    leakage (2.0); ``Q2 = K2 SLZ``. SM and SLZ are floored at 1e-5 mm after ET,
    capillary rise and leakage. Component means are routed with a gamma unit
    hydrograph (:mod:`delta_hydro.hbv.routing`). See :mod:`delta_hydro.hbv.reference`.

    2.0 leakage into the lower zone, with basin area ``A`` (km²):
    ``clip((A - AC)/1000, -1, 1) RT`` for ``A < 2500``, else
    ``exp(clip(-(A - 2500)/50, -10, 0)) RT``; and ``TT = 4 °C`` where the basin's mean
    elevation is >= 2000 m. The leakage actually applied (after the floor) is reported
    as the extra output ``leakage`` so that the water balance can be closed.

    Warm-up (``warmup`` steps given to :meth:`forward`) follows
    :attr:`HBVConfig.warmup_mode <delta_hydro.hbv.config.HBVConfig.warmup_mode>`.

    Parameters of the whole family (physical value ``lo + u (hi - lo)``, ``u`` in
    [0, 1]); 1.0 uses the first twelve (plus BETAET when it is dynamic), 1.1p adds
    BETAET and C, 2.0 adds BETAET, C, RT and AC; all use route_a and route_b::

        name     lo     hi    units            dynamic  description
        BETA     1      6     1                yes      shape exponent of the soil recharge curve (SM/FC)^BETA
        FC       50     1000  mm               yes      field capacity: maximum soil moisture storage
        K0       0.05   0.9   day-1            yes      upper-zone recession above UZL (surface flow Q0)
        K1       0.01   0.5   day-1            yes      upper-zone recession (subsurface flow Q1)
        K2       0.001  0.2   day-1            yes      lower-zone recession (groundwater flow Q2)
        LP       0.2    1     1                yes      fraction of FC above which ET is potential
        PERC     0      10    mm/day           yes      maximum percolation, upper to lower zone
        UZL      0      100   mm               yes      upper-zone threshold for surface flow
        TT       -2.5   2.5   degC             yes      threshold temperature for snowfall and snowmelt
        CFMAX    0.5    10    mm degC-1 day-1  yes      degree-day snowmelt factor
        CFR      0      0.1   1                yes      refreezing coefficient (fraction of CFMAX)
        CWH      0      0.2   1                yes      water holding capacity of the snowpack (fraction)
        BETAET   0.3    5     1                yes      ET curve shape exponent (1.0: only if dynamic, else 1)
        C        0      1     day-1            yes      capillary rise coefficient, lower zone to soil (1.1p, 2.0)
        RT       0      20    mm/day           yes      groundwater leakage / exchange rate (2.0)
        AC       0      2500  km2              yes      basin-area threshold of the leakage (2.0)
        route_a  0      2.9   1                no       gamma unit hydrograph: shape a = relu(route_a) + 0.1
        route_b  0      6.5   day              no       gamma unit hydrograph: scale theta = relu(route_b) + 0.5
    """

    config: HBVConfig

    def __init__(self, config: HBVConfig | None = None) -> None:
        config = HBVConfig() if config is None else config
        if not isinstance(config, HBVConfig):
            raise TypeError(f"HBV expects an HBVConfig, got {type(config).__name__}")
        super().__init__(config)
        self._time_loop = load_backend(config.backend)
        self._param_specs = parameters(config.variant, config.dynamic)
        outputs = list(_OUTPUTS_COMMON)
        if config.variant in ("1.1p", "2.0"):
            outputs.append(_CAPILLARY)
        if config.variant == "2.0":
            outputs.append(_LEAKAGE)
        outputs.append(_BFI)
        self._outputs = tuple(outputs)

    # -- declarations -------------------------------------------------------------------
    @property
    def forcings(self) -> tuple[Variable, ...]:
        """P (mm/day), T (°C), PET (mm/day), in this channel order."""
        return _FORCINGS

    @property
    def attributes(self) -> tuple[Variable, ...]:
        """2.0: basin area (km²) and mean elevation (m); none for 1.0 and 1.1p."""
        return _ATTRIBUTES_2_0 if self.config.variant == "2.0" else ()

    @property
    def param_specs(self) -> tuple[Parameter, ...]:
        """Parameters of the configured variant (:mod:`delta_hydro.hbv.parameters`)."""
        return self._param_specs

    @property
    def state_vars(self) -> tuple[Variable, ...]:
        """SNOWPACK, MELTWATER, SM, SUZ, SLZ (mm), each ``[B, nmul]``."""
        return _STATES

    @property
    def output_vars(self) -> tuple[Variable, ...]:
        """Fluxes returned by :meth:`forward` (``capillary`` from 1.1p, ``leakage`` in 2.0)."""
        return self._outputs

    @property
    def n_components(self) -> int:
        """``nmul``: parallel HBV components per basin."""
        return self.config.nmul

    @property
    def dynamic_params(self) -> tuple[str, ...]:
        """Parameters configured as dynamic (one value per day)."""
        return self.config.dynamic

    def initial_states(
        self, n_entity: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
    ) -> dict[str, torch.Tensor]:
        """Every storage at 0.001 mm, ``[n_entity, nmul]``."""
        return {
            name: torch.full((n_entity, self.n_components), INITIAL_STORAGE, dtype=dtype, device=device)
            for name in STATE_NAMES
        }

    # -- run --------------------------------------------------------------------------------
    def forward(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        *,
        attributes: torch.Tensor | None = None,
        states: Mapping[str, torch.Tensor] | None = None,
        warmup: int = 0,
    ) -> PhyOutput:
        """Run HBV over a window of daily forcing.

        Parameters
        ----------
        forcing
            ``[T, B, 3]``: precipitation (mm/day, >= 0), daily mean air temperature
            (°C), potential evapotranspiration (mm/day, >= 0).
        params
            Physical values by name (within the bounds of :attr:`param_specs`).
            Static per-component parameters ``[B, nmul]``, or a ``[T, B, nmul]``
            series of which the last step is used; dynamic ones (listed in
            ``config.dynamic``) ``[T, B, nmul]`` (a ``[B, nmul]`` value is taken as
            constant); ``route_a``/``route_b`` ``[B]`` (or ``[T, B]``, last step).
        attributes
            2.0 only: ``[B, 2]`` basin area (km²) and mean elevation (m).
        states
            Initial storages ``[B, nmul]`` (mm, >= 0) by name, e.g. the ``states`` of a
            previous run; ``None`` starts every storage at 0.001 mm. SM is floored at
            1e-5 mm on entry, as after every step.
        warmup
            Leading steps used to warm the states up, handled per
            ``config.warmup_mode``; outputs cover ``forcing[warmup:]``.

        Returns
        -------
        PhyOutput
            ``fluxes``: every :attr:`output_vars` entry, ``[T - warmup, B]`` (``BFI``
            ``[B]``), averaged over components; ``states``: final storages
            ``[B, nmul]``.

        Raises
        ------
        PhyInputError
            Wrong shapes, non-finite or implausible values (negative precipitation or
            PET, temperatures outside -90..65 °C, parameters outside their bounds,
            negative states).
        HBVNumericalError
            If an output is non-finite.
        """
        ranges = self.check_inputs(forcing, params, attributes, warmup)
        self._check_values(forcing, params, attributes, ranges)
        n_entity = forcing.shape[1]
        init = self._check_states(states, n_entity, forcing)

        spin_up = self.config.warmup_mode == "spinup_no_grad" and warmup > 0
        if spin_up:
            with torch.no_grad():
                spin_static, spin_dynamic = self._spinup_parameters(params, warmup)
                spin_static, spin_dynamic = self._derive(spin_static, spin_dynamic, attributes)
                init = self._time_loop(
                    forcing[:warmup], spin_static, spin_dynamic, init, record=False
                ).states
            init = {name: value.detach() for name, value in init.items()}
            run_forcing, drop = forcing[warmup:], 0
        else:
            run_forcing, drop = forcing, warmup

        static, dynamic = self._run_parameters(params, warmup if spin_up else 0)
        static, dynamic = self._derive(static, dynamic, attributes)
        result = self._time_loop(run_forcing, static, dynamic, init, record=True)
        fluxes = self._assemble(result.fluxes, run_forcing, params, drop)
        bad = [name for name, value in fluxes.items() if not all_finite(value)]
        if bad:
            raise HBVNumericalError(
                f"HBV {self.config.variant}: non-finite values in outputs {bad} from finite inputs; "
                "please report this with the inputs that produced it"
            )
        return PhyOutput(fluxes=fluxes, states=dict(result.states))

    # -- helpers ----------------------------------------------------------------------------
    def _is_series(self, spec: Parameter, value: torch.Tensor) -> bool:
        return value.ndim == (3 if spec.per_component else 2)

    def _physical_specs(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self._param_specs if p.name not in _ROUTING_NAMES)

    def _run_parameters(
        self, params: Mapping[str, torch.Tensor], start: int
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Static ``[B, nmul]`` and dynamic ``[T - start, B, nmul]`` values for the main run."""
        static: dict[str, torch.Tensor] = {}
        dynamic: dict[str, torch.Tensor] = {}
        for spec in self._physical_specs():
            value = params[spec.name]
            if not self._is_series(spec, value):
                static[spec.name] = value
            elif spec.name in self.config.dynamic:
                # No slice when nothing is cut: a slice's backward allocates and zero-fills
                # a gradient as large as the whole series (measured: ~25 ms per dynamic
                # parameter at 531 x 730 x 16, more than the compiled time loop).
                dynamic[spec.name] = value[start:] if start else value
            else:
                static[spec.name] = value[-1]
        return static, dynamic

    def _spinup_parameters(
        self, params: Mapping[str, torch.Tensor], warmup: int
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Parameters for spin-up: every series at day ``warmup - 1``; 1.1p keeps dynamic ones daily."""
        static: dict[str, torch.Tensor] = {}
        dynamic: dict[str, torch.Tensor] = {}
        keep_dynamic = self.config.variant == "1.1p"
        for spec in self._physical_specs():
            value = params[spec.name]
            if not self._is_series(spec, value):
                static[spec.name] = value
            elif keep_dynamic and spec.name in self.config.dynamic:
                dynamic[spec.name] = value[:warmup]
            else:
                static[spec.name] = value[warmup - 1]
        return static, dynamic

    def _derive(
        self,
        static: dict[str, torch.Tensor],
        dynamic: dict[str, torch.Tensor],
        attributes: torch.Tensor | None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """2.0: effective TT for high basins and leakage LF from RT, AC and area (per step if dynamic)."""
        if self.config.variant != "2.0":
            return static, dynamic
        assert attributes is not None  # check_inputs requires them for 2.0
        area = attributes[:, 0:1]  # [B, 1]
        high = attributes[:, 1:2] >= HIGH_ELEVATION

        def value(name: str) -> torch.Tensor:
            return dynamic[name] if name in dynamic else static[name]

        tt = torch.where(high, torch.full_like(value("TT"), HIGH_ELEVATION_TT), value("TT"))
        rt, ac = value("RT"), value("AC")
        small = torch.clamp((area - ac) / 1000.0, min=-1.0, max=1.0) * rt
        large = torch.exp(torch.clamp(-(area - LEAKAGE_AREA) / 50.0, min=-10.0, max=0.0)) * rt
        leak = torch.where(area < LEAKAGE_AREA, small, large)

        static = {k: v for k, v in static.items() if k not in ("TT", "RT", "AC")}
        dynamic = {k: v for k, v in dynamic.items() if k not in ("TT", "RT", "AC")}
        (dynamic if tt.ndim == 3 else static)["TT"] = tt
        (dynamic if leak.ndim == 3 else static)["LF"] = leak
        return static, dynamic

    def _assemble(
        self,
        records: Mapping[str, torch.Tensor],
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        drop: int,
    ) -> dict[str, torch.Tensor]:
        """Route the component means, compute BFI, cut the warm-up, name the outputs."""
        n_run = forcing.shape[0]
        length = self.config.route_length
        if self.config.variant != "2.0":
            length = min(n_run, length)
        route_a, route_b = (
            params[name][-1] if params[name].ndim == 2 else params[name] for name in _ROUTING_NAMES
        )
        weights = gamma_unit_hydrograph(route_a, route_b, length)
        # A backend may bring a faster routing (the compiled one does); same results.
        route_fn = getattr(self._time_loop, "route", route)
        routed = route_fn(torch.stack([records["Q"], records["Q0"], records["Q1"], records["Q2"]]), weights)
        streamflow, srflow, ssflow, gwflow = routed.unbind(0)
        # Baseflow index over the whole routed run (before the full_grad cut), as the
        # reference implementation does.
        bfi = 100.0 * gwflow.sum(0) / (streamflow.sum(0) + NEARZERO)

        out: dict[str, torch.Tensor] = {
            "streamflow": streamflow,
            "srflow": srflow,
            "ssflow": ssflow,
            "gwflow": gwflow,
            "PET_hydro": forcing[:, :, 2],
        }
        for key, name in _DIRECT.items():
            if key in records:
                out[name] = records[key]
        ordered = {v.name: out[v.name][drop:] for v in self._outputs if v.dims == "time_entity"}
        ordered["BFI"] = bfi
        return ordered

    # -- validation -------------------------------------------------------------------------
    def _check_values(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        attributes: torch.Tensor | None,
        ranges: Mapping[str, tuple[float, float]],
    ) -> None:
        """Plausibility and unit checks beyond :meth:`PhyModel.check_inputs`.

        ``ranges``: each parameter's ``(min, max)`` as ``check_inputs`` found them.
        """
        cls = f"HBV {self.config.variant}"
        if not forcing.is_floating_point():
            raise PhyInputError(f"{cls}: forcing must be a floating-point tensor, got {forcing.dtype}")
        for name, value in params.items():
            if value.dtype != forcing.dtype or value.device != forcing.device:
                raise PhyInputError(
                    f"{cls}: parameter {name!r} is {value.dtype} on {value.device}, but forcing is "
                    f"{forcing.dtype} on {forcing.device}; use one dtype and device"
                )
        if forcing.numel():
            self._check_forcing_values(forcing)
        for spec in self._param_specs:
            if spec.name not in ranges:  # not given, or empty
                continue
            tol = 1e-5 * (spec.hi - spec.lo)
            v_lo, v_hi = ranges[spec.name]
            if v_lo < spec.lo - tol or v_hi > spec.hi + tol:
                raise PhyInputError(
                    f"{cls}: parameter {spec.name!r} must lie in [{spec.lo:g}, {spec.hi:g}] {spec.units}, "
                    f"got values in [{v_lo:g}, {v_hi:g}]"
                )
        if self.config.variant == "2.0" and attributes is not None:
            if not attributes.is_floating_point() or attributes.dtype != forcing.dtype:
                raise PhyInputError(f"{cls}: attributes must have the forcing's dtype {forcing.dtype}")
            if bool((attributes[:, 0] < 0).any()):
                raise PhyInputError(f"{cls}: attribute 'area' (km2) must be >= 0")
            e_lo, e_hi = _ELEVATION_RANGE
            elev = attributes[:, 1]
            if bool(((elev < e_lo) | (elev > e_hi)).any()):
                raise PhyInputError(
                    f"{cls}: attribute 'elevation' must be mean basin elevation in m within "
                    f"[{e_lo:g}, {e_hi:g}], got range [{float(elev.min()):g}, {float(elev.max()):g}]"
                )

    def _check_forcing_values(self, forcing: torch.Tensor) -> None:
        """P and PET >= 0 and T in a plausible degC range, from one min/max pass over each
        variable of the forcing ``[time, entity, 3]``; the culprits are located only when a
        check fails. (A single ``aminmax(dim=0)`` over ``[time * entity, 3]`` is slower: a
        reduction across rows of three.)"""
        cls = f"HBV {self.config.variant}"
        found = [torch.aminmax(forcing[..., index].detach()) for index in range(3)]
        v_min = [float(lo) for lo, _ in found]
        v_max = [float(hi) for _, hi in found]
        for index, name, what in ((0, "P", "precipitation"), (2, "PET", "potential evapotranspiration")):
            if v_min[index] < 0:
                negative = forcing[..., index] < 0
                t, e = (int(v) for v in torch.nonzero(negative)[0])
                raise PhyInputError(
                    f"{cls}: forcing {name!r} ({what}, mm/day) must be >= 0; {int(negative.sum())} "
                    f"negative values, first at time index {t}, entity index {e}"
                )
        lo, hi = _TEMPERATURE_RANGE
        t_lo, t_hi = v_min[1], v_max[1]
        if t_lo < lo or t_hi > hi:
            raise PhyInputError(
                f"{cls}: forcing 'T' must be daily mean air temperature in degC within [{lo:g}, {hi:g}], "
                f"got range [{t_lo:g}, {t_hi:g}] (Kelvin?)"
            )

    def _check_states(
        self, states: Mapping[str, torch.Tensor] | None, n_entity: int, forcing: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if states is None:
            return self.initial_states(n_entity, dtype=forcing.dtype, device=forcing.device)
        cls = f"HBV {self.config.variant}"
        unknown = sorted(set(states) - set(STATE_NAMES))
        missing = [name for name in STATE_NAMES if name not in states]
        if unknown or missing:
            raise PhyInputError(
                f"{cls}: states must be exactly {', '.join(STATE_NAMES)}; "
                f"missing {missing}, unknown {unknown}"
            )
        shape = (n_entity, self.n_components)
        for name in STATE_NAMES:
            value = states[name]
            if tuple(value.shape) != shape:
                raise PhyInputError(
                    f"{cls}: state {name!r} must have shape {shape}, got {tuple(value.shape)}"
                )
            if value.dtype != forcing.dtype or value.device != forcing.device:
                raise PhyInputError(f"{cls}: state {name!r} must be {forcing.dtype} on {forcing.device}")
            if not bool(torch.isfinite(value).all()) or bool((value < 0).any()):
                raise PhyInputError(f"{cls}: state {name!r} must be finite and >= 0 (mm)")
        checked = {name: states[name] for name in STATE_NAMES}
        # SM is >= 1e-5 mm after every step; apply the same floor on entry, since at SM = 0
        # the ET curve (SM/(LP FC))^BETAET with BETAET < 1 has an infinite derivative.
        checked["SM"] = torch.clamp(checked["SM"], min=NEARZERO)
        return checked

