"""Property tests: water balance, non-negative storages, finite outputs and gradients.

Random forcing (including all-zero precipitation), random parameters in their bounds
(including exactly at the bounds and random bound corners), random dynamic-parameter
sets and initial states, every variant; float64 so that the budget is exact to
round-off. The only water the model creates is what the 1e-5 mm floors of SM (after
ET) and SLZ (after capillary rise) add: at most 2e-5 mm per step and component, plus
at most 1e-5 mm once for SM floored on entry; never negative. (2.0's leakage floor is
part of the reported ``leakage``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from delta_hydro.hbv.parameters import dynamic_candidates
from delta_hydro.hbv.reference import STATE_NAMES
from tests.hydro.helpers import FLOOR, attributes_2_0, to_physical, unit_params, water_budget_terms

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Scenario:
    variant: str
    dynamic: tuple[str, ...]
    n_time: int
    n_basin: int
    nmul: int
    precip: str
    params: str
    states: str
    warmup_mode: str
    seed: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    variant = draw(st.sampled_from(["1.0", "1.1p", "2.0"]))
    candidates = dynamic_candidates(variant)
    return Scenario(
        variant=variant,
        dynamic=tuple(draw(st.lists(st.sampled_from(candidates), unique=True, max_size=4))),
        n_time=draw(st.integers(1, 40)),
        n_basin=draw(st.integers(1, 3)),
        nmul=draw(st.integers(1, 3)),
        precip=draw(st.sampled_from(["zero", "light", "storms"])),
        params=draw(st.sampled_from(["lo", "hi", "corners", "mixed", "uniform"])),
        states=draw(st.sampled_from(["default", "zero", "random"])),
        warmup_mode=draw(st.sampled_from(["spinup_no_grad", "full_grad"])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


Inputs = tuple[HBV, torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None, dict[str, torch.Tensor]]


def _inputs(s: Scenario) -> Inputs:
    config = HBVConfig(variant=s.variant, nmul=s.nmul, dynamic=s.dynamic, warmup_mode=s.warmup_mode)
    model = HBV(config)
    rng = np.random.default_rng(s.seed)
    shape = (s.n_time, s.n_basin)
    if s.precip == "zero":
        precip = np.zeros(shape)
    elif s.precip == "light":
        precip = np.where(rng.random(shape) < 0.5, rng.exponential(3.0, shape), 0.0)
    else:
        precip = np.where(rng.random(shape) < 0.3, rng.exponential(40.0, shape), 0.0)
    temp = rng.uniform(-25.0, 35.0, shape)
    pet = rng.uniform(0.0, 10.0, shape) * (rng.random(shape) < 0.9)
    forcing = torch.tensor(np.stack([precip, temp, pet], -1), dtype=torch.float64)
    units = unit_params(model, s.n_time, s.n_basin, mode=s.params, seed=s.seed)
    params = {k: v.requires_grad_(True) for k, v in to_physical(model, units).items()}
    attributes = None
    if s.variant == "2.0":
        area = rng.choice([0.0, 100.0, 2499.0, 2500.0, 4000.0, 10000.0], s.n_basin)
        elevation = rng.choice([0.0, 1999.0, 2000.0, 4500.0], s.n_basin)
        attributes = torch.tensor(np.stack([area, elevation], -1), dtype=torch.float64)
    if s.states == "default":
        states = model.initial_states(s.n_basin, dtype=torch.float64)
    elif s.states == "zero":
        states = {k: torch.zeros(s.n_basin, s.nmul, dtype=torch.float64) for k in STATE_NAMES}
    else:
        states = {k: torch.tensor(rng.uniform(0, 300, (s.n_basin, s.nmul))) for k in STATE_NAMES}
    return model, forcing, params, attributes, states


@SETTINGS
@given(scenarios())
def test_water_balance_closes_and_storages_stay_non_negative(s: Scenario) -> None:
    model, forcing, params, attributes, states = _inputs(s)
    with torch.no_grad():
        out = model(forcing, params, attributes=attributes, states=states)
    for name, value in out.states.items():
        assert torch.isfinite(value).all() and (value >= 0).all(), f"state {name}: {value}"
    for name, value in out.fluxes.items():
        assert torch.isfinite(value).all(), f"output {name} not finite"
    for name in ("streamflow", "streamflow_no_rout", "AET_hydro", "SWE", "recharge", "percolation"):
        assert (out.fluxes[name] >= 0).all(), f"output {name} negative"
    net, change = water_budget_terms(forcing, states, out)
    # change - net is the water the floors added: 0 <= it <= 2e-5 mm per step (+1e-5 on entry).
    created = change - net
    scale = forcing[..., 0].sum(0) + sum(v.mean(-1) for v in states.values()) + 1.0
    tol = 1e-12 * scale
    n_time = forcing.shape[0]
    assert (created >= -tol).all(), f"water lost: {created}"
    assert (created <= 2 * FLOOR * n_time + FLOOR + tol).all(), f"water created beyond the floors: {created}"


@SETTINGS
@given(scenarios(), st.integers(0, 5))
def test_outputs_and_gradients_are_finite(s: Scenario, warmup: int) -> None:
    model, forcing, params, attributes, states = _inputs(s)
    warmup = min(warmup, forcing.shape[0] - 1)
    out = model(forcing, params, attributes=attributes, states=states, warmup=warmup)
    objective = sum(v.mean() for v in out.fluxes.values() if v.requires_grad and v.numel())
    if not isinstance(objective, torch.Tensor):
        return  # nothing depends on the parameters (e.g. every output cut by warm-up)
    names = list(params)
    grads = torch.autograd.grad(objective, [params[n] for n in names], allow_unused=True)
    for name, grad in zip(names, grads, strict=True):
        assert grad is None or torch.isfinite(grad).all(), f"gradient w.r.t. {name} not finite"


@pytest.mark.parametrize("variant", ["1.0", "1.1p", "2.0"])
def test_balance_over_a_year_with_snow(variant: str, year_forcing: torch.Tensor) -> None:
    """The same budget over a plausible year (snow accumulation and melt), mid-range parameters."""
    model = HBV(HBVConfig(variant=variant, nmul=3))
    n_basin = year_forcing.shape[1]
    params = to_physical(model, unit_params(model, 365, n_basin, mode="uniform", seed=3))
    attributes = attributes_2_0(n_basin) if variant == "2.0" else None
    states = model.initial_states(n_basin, dtype=torch.float64)
    out = model(year_forcing, params, attributes=attributes)
    assert float(out.fluxes["SWE"].max()) > 10.0  # the forcing does build a snowpack
    net, change = water_budget_terms(year_forcing, states, out)
    created = change - net
    assert (created >= -1e-9).all() and (created <= 2 * FLOOR * 365).all(), created
