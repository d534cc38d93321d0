"""Contract checks for plugin authors: call them from your own tests.

Like ``tox.pytest`` for tox plugins, this module lets a plugin test its components
against the contracts the core relies on::

    import torch
    from delta_core.testing import check_phy_model

    def test_my_model_honours_the_contract():
        forcing = torch.rand(365, 4, 2, dtype=torch.float64) * 10
        check_phy_model(MyModel(), forcing, budget=my_water_budget)

Every check raises :class:`AssertionError` with a message naming the model, the
variable or parameter concerned and what was expected.

Checks
------
:func:`check_declarations`
    Names, units, bounds and dynamic parameters as declared.
:func:`check_outputs`
    Declared outputs and states are returned with the right shapes, finite, nothing
    undeclared, inputs untouched, warm-up only spins up.
:func:`check_state_continuation`
    Returned final states continue a run seamlessly.
:func:`check_parameter_bounds`
    Finite outputs and gradients with parameters at their bounds and at random corners.
:func:`check_gradients_reach_nn`
    Gradients reach a network coupled through ``core.param_learning``; every learned
    parameter influences the outputs.
:func:`check_mass_balance`
    A user-supplied budget closes.
:func:`check_phy_model`
    All of the above.

Helpers: :func:`make_params`, :func:`make_static_params`, :func:`make_unit_params`,
:class:`TinyNN`. This module imports torch; it is not used on the CLI path.
"""

from __future__ import annotations

from delta_core.testing.checks import (
    Budget,
    check_declarations,
    check_gradients_reach_nn,
    check_mass_balance,
    check_outputs,
    check_parameter_bounds,
    check_phy_model,
    check_state_continuation,
)
from delta_core.testing.params import make_params, make_static_params, make_unit_params
from delta_core.testing.tiny_nn import TinyNN

__all__ = [
    "Budget",
    "TinyNN",
    "check_declarations",
    "check_gradients_reach_nn",
    "check_mass_balance",
    "check_outputs",
    "check_parameter_bounds",
    "check_phy_model",
    "check_state_continuation",
    "make_params",
    "make_static_params",
    "make_unit_params",
]
