"""delta_core.testing contract checks on every HBV variant."""

from __future__ import annotations

import pytest
import torch

from delta_core.testing import (
    check_declarations,
    check_gradients_reach_nn,
    check_mass_balance,
    check_outputs,
    check_parameter_bounds,
    check_state_continuation,
)
from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from tests.hydro.helpers import FLOOR, attributes_2_0, budget_residual

CONFIGS = {
    "1.0": HBVConfig(variant="1.0", nmul=2),
    "1.0-dynamic": HBVConfig(variant="1.0", nmul=2, dynamic=("BETA", "BETAET")),
    "1.1p": HBVConfig(variant="1.1p", nmul=2),
    "1.1p-dynamic": HBVConfig(variant="1.1p", nmul=2, dynamic=("BETA", "K0", "BETAET")),
    "2.0": HBVConfig(variant="2.0", nmul=2),
    "2.0-dynamic": HBVConfig(variant="2.0", nmul=2, dynamic=("BETA", "RT", "AC")),
}
ROUTED = ("streamflow", "srflow", "ssflow", "gwflow")


def _attributes(model: HBV, n_basin: int) -> torch.Tensor | None:
    return attributes_2_0(n_basin) if model.config.variant == "2.0" else None


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def model(request: pytest.FixtureRequest) -> HBV:
    return HBV(CONFIGS[request.param])


def test_contract(model: HBV, wet_year_forcing: torch.Tensor) -> None:
    """Every check of ``check_phy_model`` except state continuation (see the next test)."""
    attributes = _attributes(model, wet_year_forcing.shape[1])
    check_declarations(model)
    check_outputs(model, wet_year_forcing, attributes=attributes)
    check_parameter_bounds(model, wet_year_forcing, attributes=attributes, warmup=30)
    check_gradients_reach_nn(model, wet_year_forcing, attributes=attributes, warmup=30)
    # Floors add at most 2e-5 mm per day (+1e-5 once on entry): that is the tolerance.
    n_time = wet_year_forcing.shape[0]
    states = {k: torch.full_like(v, 20.0) for k, v in model.initial_states(4, dtype=torch.float64).items()}
    check_mass_balance(model, wet_year_forcing, budget_residual, attributes=attributes, states=states,
                       atol=2 * FLOOR * n_time + FLOOR)


def test_warmup_modes_against_the_contract(model: HBV, wet_year_forcing: torch.Tensor) -> None:
    """full_grad: warm-up only cuts outputs; spinup_no_grad spins up differently on purpose."""
    attributes = _attributes(model, wet_year_forcing.shape[1])
    full = HBV(HBVConfig(**{**_fields(model.config), "warmup_mode": "full_grad"}))
    check_outputs(full, wet_year_forcing, attributes=attributes, warmup=60, warmup_consistent=True)
    spin = HBV(HBVConfig(**{**_fields(model.config), "warmup_mode": "spinup_no_grad"}))
    check_outputs(spin, wet_year_forcing, attributes=attributes, warmup=60, warmup_consistent=False)


def test_state_continuation_fails_only_through_routing(model: HBV, wet_year_forcing: torch.Tensor) -> None:
    """Final states continue a run exactly, but the routed outputs restart their convolution.

    The unit-hydrograph convolution runs over each window (as in the reference
    implementation) and its memory is not a ``[entity, n_components]`` state, so
    ``check_state_continuation`` must fail, and only on the four routed outputs.
    """
    attributes = _attributes(model, wet_year_forcing.shape[1])
    with pytest.raises(AssertionError) as info:
        check_state_continuation(model, wet_year_forcing, attributes=attributes)
    problems = [line for line in str(info.value).splitlines() if line.strip().startswith("- ")]
    named = {line.split("'")[1] for line in problems}
    assert named <= set(ROUTED) and named, str(info.value)


def _fields(config: HBVConfig) -> dict[str, object]:
    import attrs

    return attrs.asdict(config)
