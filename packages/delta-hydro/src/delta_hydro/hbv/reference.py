"""The reference HBV time loop: plain, eager PyTorch, one step after the other.

This is the ``"reference"`` backend of :mod:`delta_hydro.hbv.backends` and the ground
truth that faster implementations are tested against, so it is written for reading:
each step below is one numbered equation of the model description, in order,
elementwise over ``[entity, nmul]``. The HBV structure follows Bergström (1976, 1992)
and HBV-light (Seibert & Vis 2012, HESS 16:3315); the multi-component, differentiable
form and its parameter ranges follow δHBV 1.0 (Feng et al. 2022, WRR 58:e2022WR032404),
with capillary rise and the ET shape exponent of δHBV 1.1p (Song et al. 2024, HESS)
and the groundwater leakage of δHBV 2.0 (Song et al. 2025, WRR,
doi:10.1029/2024WR038928).

Gradients are those of the plain torch operations: ``max(x, 0)`` is ``clamp(min=0)``,
``min(a, b)`` of two tensors ``torch.minimum``, ``clip`` ``clamp``; their
subgradients at ties are torch's.

Cost note: static parameters stay ``[entity, nmul]`` and dynamic ones are split into
per-step views once (``unbind``) before the loop, so the backward pass is linear in the
number of steps (indexing a full ``[time, ...]`` tensor per step would make every step's
backward touch the whole tensor, quadratic in time).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import torch

STATE_NAMES: tuple[str, ...] = ("SNOWPACK", "MELTWATER", "SM", "SUZ", "SLZ")
"""HBV storages (mm): snowpack, liquid water in the snowpack, soil moisture, upper zone,
lower zone."""

NEARZERO = 1e-5
"""Floor (mm) of soil moisture and lower-zone storage after ET, capillary rise and leakage."""

FLUX_NAMES: tuple[str, ...] = (
    "Q", "Q0", "Q1", "Q2", "AET", "SWE", "recharge", "excess", "evapfactor", "tosoil", "percolation",
)
"""Per-step quantities every variant records (component means); ``capillary`` is
appended when ``C`` is given, then ``leakage`` when ``LF`` is given."""


@attrs.frozen
class LoopResult:
    """What a time loop returns.

    Attributes
    ----------
    fluxes
        Name -> ``[time, entity]`` mean over the ``nmul`` components (mm/day; SWE in
        mm; evapfactor dimensionless). Empty when the loop ran with ``record=False``.
    states
        Name -> ``[entity, nmul]`` final storages (mm), see :data:`STATE_NAMES`.
    """

    fluxes: dict[str, torch.Tensor]
    states: dict[str, torch.Tensor]


def time_loop(
    forcing: torch.Tensor,
    static: Mapping[str, torch.Tensor],
    dynamic: Mapping[str, torch.Tensor],
    states: Mapping[str, torch.Tensor],
    *,
    record: bool = True,
) -> LoopResult:
    """Run the HBV state update over every step of ``forcing``.

    Parameters
    ----------
    forcing
        ``[time, entity, 3]``: precipitation P (mm/day), mean air temperature T (°C),
        potential evapotranspiration PET (mm/day).
    static
        Parameter name -> ``[entity, nmul]``, constant over the window.
    dynamic
        Parameter name -> ``[time, entity, nmul]``, one value per step. Each parameter
        is in exactly one of ``static`` and ``dynamic``. Required: BETA FC K0 K1 K2 LP
        PERC UZL TT CFMAX CFR CWH; optional: BETAET (ET shape exponent, 1 when absent),
        C (capillary rise, 1.1p/2.0), LF (leakage into the lower zone in mm/day, 2.0).
    states
        Initial storages, name -> ``[entity, nmul]`` (mm), see :data:`STATE_NAMES`.
    record
        Record the fluxes (``False`` for spin-up, where only final states matter).

    Returns
    -------
    LoopResult
    """
    names = set(static) | set(dynamic)
    required = {"BETA", "FC", "K0", "K1", "K2", "LP", "PERC", "UZL", "TT", "CFMAX", "CFR", "CWH"}
    missing = required - names
    if missing:
        raise ValueError(f"HBV time loop: missing parameters {sorted(missing)}")
    has_betaet = "BETAET" in names
    has_capillary = "C" in names
    has_leakage = "LF" in names

    # Per-step views, split once: [entity, 1] forcing (broadcast over nmul) and
    # [entity, nmul] dynamic parameters.
    n_time = forcing.shape[0]
    precip_steps = forcing[:, :, 0:1].unbind(0)
    temp_steps = forcing[:, :, 1:2].unbind(0)
    pet_steps = forcing[:, :, 2:3].unbind(0)
    dynamic_steps = {name: value.unbind(0) for name, value in dynamic.items()}

    snowpack, meltwater, sm, suz, slz = (states[name] for name in STATE_NAMES)
    records: list[torch.Tensor] = []

    for t in range(n_time):
        p = dict(static)
        for name, steps in dynamic_steps.items():
            p[name] = steps[t]
        precip, temp, pet = precip_steps[t], temp_steps[t], pet_steps[t]

        # 1. Rain above the threshold temperature, snow below it.
        rain = precip * (temp >= p["TT"]).to(precip.dtype)
        snow = precip - rain
        snowpack = snowpack + snow

        # 2. Degree-day melt, limited by the snowpack.
        melt = torch.minimum(torch.clamp(p["CFMAX"] * (temp - p["TT"]), min=0.0), snowpack)
        snowpack = snowpack - melt
        meltwater = meltwater + melt

        # 3. Refreezing of liquid water in the snowpack.
        refreeze = torch.minimum(
            torch.clamp(p["CFR"] * p["CFMAX"] * (p["TT"] - temp), min=0.0), meltwater
        )
        snowpack = snowpack + refreeze
        meltwater = meltwater - refreeze

        # 4. Liquid water beyond the holding capacity leaves the snowpack.
        tosoil = torch.clamp(meltwater - p["CWH"] * snowpack, min=0.0)
        meltwater = meltwater - tosoil

        # 5. Recharge: the share (SM/FC)^BETA of rain and snowmelt goes to the upper zone.
        wetness = torch.clamp((sm / p["FC"]) ** p["BETA"], min=0.0, max=1.0)
        recharge = (rain + tosoil) * wetness
        sm = sm + rain + tosoil - recharge

        # 6. Soil moisture above field capacity is excess water.
        excess = torch.clamp(sm - p["FC"], min=0.0)
        sm = sm - excess

        # 7. Actual evapotranspiration.
        ratio = sm / (p["LP"] * p["FC"])
        if has_betaet:
            ratio = ratio ** p["BETAET"]
        evapfactor = torch.clamp(ratio, min=0.0, max=1.0)
        aet = torch.minimum(sm, pet * evapfactor)
        sm = torch.clamp(sm - aet, min=NEARZERO)

        # 8. Capillary rise from the lower zone into the soil (1.1p, 2.0).
        if has_capillary:
            capillary = torch.minimum(
                slz, p["C"] * slz * (1.0 - torch.clamp(sm / p["FC"], max=1.0))
            )
            sm = torch.clamp(sm + capillary, min=NEARZERO)
            slz = torch.clamp(slz - capillary, min=NEARZERO)

        # 9. Upper zone receives recharge and excess; percolation to the lower zone.
        suz = suz + recharge + excess
        perc = torch.minimum(suz, p["PERC"])
        suz = suz - perc

        # 10. Surface flow above the threshold UZL.
        q0 = p["K0"] * torch.clamp(suz - p["UZL"], min=0.0)
        suz = suz - q0

        # 11. Subsurface flow.
        q1 = p["K1"] * suz
        suz = suz - q1
        slz = slz + perc

        # 12. Groundwater leakage / exchange (2.0); what is actually applied is recorded.
        if has_leakage:
            slz_new = torch.clamp(slz + p["LF"], min=NEARZERO)
            leakage = slz_new - slz
            slz = slz_new

        # 13. Groundwater flow.
        q2 = p["K2"] * slz
        slz = slz - q2

        if record:
            step = [q0 + q1 + q2, q0, q1, q2, aet, snowpack, recharge, excess, evapfactor, tosoil, perc]
            if has_capillary:
                step.append(capillary)
            if has_leakage:
                step.append(leakage)
            records.append(torch.stack(step).mean(-1))

    final = dict(zip(STATE_NAMES, (snowpack, meltwater, sm, suz, slz), strict=True))
    if not record:
        return LoopResult(fluxes={}, states=final)
    flux_names = (
        FLUX_NAMES + (("capillary",) if has_capillary else ()) + (("leakage",) if has_leakage else ())
    )
    if records:
        series = torch.stack(records).unbind(1)
    else:  # zero-length window
        empty = forcing.new_zeros(0, forcing.shape[1])
        series = tuple(empty for _ in flux_names)
    return LoopResult(fluxes=dict(zip(flux_names, series, strict=True)), states=final)
