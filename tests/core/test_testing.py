"""delta_core.testing: the contract checks pass on a correct model and fail on broken ones."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import torch

from delta_core.interfaces.nn import NNSpec, NNSpecError
from delta_core.interfaces.phy import PhyModel, PhyOutput
from delta_core.interfaces.specs import Parameter, Variable
from delta_core.testing import (
    TinyNN,
    check_declarations,
    check_gradients_reach_nn,
    check_mass_balance,
    check_outputs,
    check_parameter_bounds,
    check_phy_model,
    check_state_continuation,
    make_params,
    make_static_params,
    make_unit_params,
)

K_LO, K_HI = 0.05, 0.8


class Bucket(PhyModel):
    """A correct toy model that exercises every declaration feature.

    Forcing P, PET (mm/day); attribute ``bypass`` (fraction of rain that skips the
    bucket); K per component and optionally dynamic; CET one value per entity
    (``per_component=False``); outputs Q, ET per day and Qsum per entity.

    ``bug`` selects one deliberate defect for the failure tests.
    """

    def __init__(self, n_components: int = 1, dynamic: tuple[str, ...] = (), bug: str | None = None):
        super().__init__()
        self._n = n_components
        self._dynamic = dynamic
        self.bug = bug

    forcings = (Variable("P", "mm/day"), Variable("PET", "mm/day"))
    attributes = (Variable("bypass", "1", dims="entity"),)
    param_specs = (
        Parameter("K", K_LO, K_HI, "1/day", "recession"),
        Parameter("CET", 0.5, 1.5, "1", "ET scaling", dynamic_allowed=False, per_component=False),
    )
    state_vars = (Variable("S", "mm"),)
    output_vars = (
        Variable("Q", "mm/day"),
        Variable("ET", "mm/day"),
        Variable("Qsum", "mm", dims="entity"),
    )

    @property
    def n_components(self) -> int:  # type: ignore[override]
        return self._n

    @property
    def dynamic_params(self) -> tuple[str, ...]:  # type: ignore[override]
        return self._dynamic

    def forward(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        *,
        attributes: torch.Tensor | None = None,
        states: Mapping[str, torch.Tensor] | None = None,
        warmup: int = 0,
    ) -> PhyOutput:
        self.check_inputs(forcing, params, attributes, warmup)
        bug = self.bug
        n_time, n_entity, _ = forcing.shape
        if bug == "inplace_forcing":
            forcing[..., 1].clamp_(max=3.0)
        if states is None or bug == "ignores_states":
            states = self.initial_states(n_entity, dtype=forcing.dtype, device=forcing.device)
        s = states["S"]
        assert attributes is not None
        bypass = attributes[:, 0:1]
        k_all, cet = params["K"], params["CET"][:, None]
        if bug == "cet_unused":
            cet = 0 * cet + 1.0  # zero gradient
        if bug == "cet_detached":
            cet = torch.ones_like(cet)  # no gradient at all
        start = warmup if bug == "skips_warmup" else 0
        qs, ets = [], []
        for t in range(start, n_time):
            k = k_all[t] if k_all.ndim == 3 else k_all
            if bug == "nan_at_lower_bound":
                k = k * (k - K_LO) / (k - K_LO)
            if bug == "inf_grad_at_lower_bound":
                k = K_LO + torch.sqrt((k - K_LO) * (K_HI - K_LO))
            p, pet = forcing[t, :, 0:1], forcing[t, :, 1:2]
            fast = bypass * p
            s = s + (1 - bypass) * p
            et = torch.minimum(cet * pet, s)
            s = s - et
            q = k * s
            s = s - q
            if bug == "leaks":
                s = 0.99 * s
            qs.append(q + fast)
            ets.append(et)
        q_all = torch.stack(qs)
        keep = 0 if bug in ("ignores_warmup", "skips_warmup") else warmup
        fluxes = {"Q": q_all[keep:].mean(-1), "ET": torch.stack(ets)[keep:].mean(-1)}
        fluxes["Qsum"] = fluxes["Q"].sum(0)
        if bug == "no_component_mean":
            fluxes["Q"] = q_all[keep:]
        if bug == "missing_output":
            del fluxes["ET"]
        if bug == "undeclared_output":
            fluxes["debug"] = q_all[keep:, :, 0]
        if bug == "float32_output":
            fluxes["Q"] = fluxes["Q"].float()
        if bug == "detached":
            fluxes = {k: v.detach() for k, v in fluxes.items()}
        out_states = {"S": s.mean(-1) if bug == "state_shape" else s}
        return PhyOutput(fluxes=fluxes, states=out_states)


def budget(forcing, params, initial_states, output):
    inflow = forcing[..., 0].sum(0)
    out = output.fluxes["Q"].sum(0) + output.fluxes["ET"].sum(0)
    return inflow - out - (output.states["S"].mean(-1) - initial_states["S"].mean(-1))


@pytest.fixture(scope="module")
def forcing() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    n_time, n_entity = 120, 3
    rain = (torch.rand(n_time, n_entity, generator=g) < 0.4) * torch.rand(n_time, n_entity, generator=g) * 20
    day = torch.arange(n_time, dtype=torch.float64)[:, None]
    pet = 3.0 + 2.0 * torch.sin(day / 20) + 0.1 * torch.rand(n_time, n_entity, generator=g)
    return torch.stack([rain.double(), pet.expand(n_time, n_entity)], dim=-1).contiguous()


@pytest.fixture(scope="module")
def attributes() -> torch.Tensor:
    return torch.tensor([[0.0], [0.2], [0.5]], dtype=torch.float64)


def run_all(phy, forcing, attributes, **kw):
    check_phy_model(phy, forcing, attributes=attributes, budget=budget, atol=1e-9, **kw)


# -- the correct model passes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_components", "dynamic", "warmup"),
    [(1, (), 0), (3, (), 10), (2, ("K",), 10)],
)
def test_correct_model_passes_every_check(forcing, attributes, n_components, dynamic, warmup):
    run_all(Bucket(n_components, dynamic), forcing, attributes, warmup=warmup)


def test_checks_leave_global_rng_and_grads_alone(forcing, attributes):
    state = torch.random.get_rng_state()
    phy = Bucket(2, ("K",))
    run_all(phy, forcing, attributes, warmup=5)
    assert torch.equal(state, torch.random.get_rng_state())
    assert forcing.grad is None and not forcing.requires_grad


def test_check_outputs_returns_the_mid_range_output(forcing, attributes):
    out = check_outputs(Bucket(), forcing, attributes=attributes, warmup=7)
    assert out.fluxes["Q"].shape == (forcing.shape[0] - 7, forcing.shape[1])


# -- declarations ---------------------------------------------------------------------------


class BadDeclarations(Bucket):
    forcings = (Variable("P", "mm/day"), Variable("P", "mm/day", dims="entity"))
    attributes = ()
    param_specs = (
        Parameter("K", 0.1, 1.0, "", default=2.0),
        Parameter("CET", 0.5, 1.5, dynamic_allowed=False),
    )
    state_vars = (Variable(" S", "mm"),)
    output_vars = (Variable("Q", ""), Variable("Q", "mm/day", dims="daily"))  # type: ignore[arg-type]


def test_declaration_problems_are_reported_together():
    phy = BadDeclarations(n_components=0, dynamic=("CET", "X", "CET"))
    with pytest.raises(AssertionError) as info:
        check_declarations(phy)
    message = str(info.value)
    for expected in [
        "BadDeclarations: 12 problems (declarations):",
        "forcing name 'P' is declared more than once",
        "forcing 'P' has dims='entity'; forcings are time series",
        "state #0 has name ' S'; expected a non-empty string without surrounding spaces",
        "output 'Q' declares no units (use '1' for dimensionless)",
        "output name 'Q' is declared more than once",
        "output 'Q' has dims='daily', expected one of ('time_entity', 'entity')",
        "parameter 'K' declares no units",
        "parameter 'K' has default 2.0 outside its bounds [0.1, 1.0]",
        "n_components must be a positive int, got 0",
        "parameter 'CET' is in dynamic_params but declares dynamic_allowed=False",
        "dynamic parameter 'X' is not declared; declared: K, CET",
        "dynamic_params lists ['CET'] more than once",
    ]:
        assert expected in message, f"{expected!r} not in:\n{message}"


def test_declarations_without_outputs_fail():
    class NoOutputs(Bucket):
        output_vars = ()

    with pytest.raises(AssertionError, match=r"NoOutputs: declares no output variables"):
        check_declarations(NoOutputs())


def test_unstable_declarations_fail():
    class Flaky(Bucket):
        calls = 0

        @property
        def output_vars(self):  # type: ignore[override]
            Flaky.calls += 1
            return (Variable("Q", "mm/day"),) if Flaky.calls == 1 else (Variable("ET", "mm/day"),)

    with pytest.raises(AssertionError, match="declarations differ between two reads"):
        check_declarations(Flaky())


# -- outputs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bug", "warmup", "message"),
    [
        ("no_component_mean", 0,
         r"Bucket: output 'Q' has shape \(120, 3, 2\), expected \(120, 3\) = \[time - warmup, entity\]"),
        ("ignores_warmup", 10,
         r"output 'Q' has shape \(120, 3\), expected \(110, 3\) = \[time - warmup, entity\]"),
        ("missing_output", 0,
         r"Bucket: output 'ET' is declared but missing from PhyOutput.fluxes \(returned: Q, Qsum\)"),
        ("undeclared_output", 0,
         r"PhyOutput.fluxes holds undeclared outputs \['debug'\]; declared: Q, ET, Qsum"),
        ("state_shape", 0,
         r"state 'S' has shape \(3,\), expected \(3, 2\) = \[entity, n_components\]"),
        ("float32_output", 0,
         r"output 'Q' is torch.float32 on cpu, expected the forcing's torch.float64 on cpu"),
        ("inplace_forcing", 0, r"Bucket: forward modified its forcing tensor in place"),
        ("skips_warmup", 10,
         r"output '\w+' with warmup=10 differs from time\[10:\] of a run without warm-up by .* "
         r"warm-up must only spin up the states"),
    ],
)
def test_check_outputs_fails_on_broken_models(forcing, attributes, bug, warmup, message):
    forcing = forcing.clone()  # one bug edits it in place
    with pytest.raises(AssertionError, match=message):
        check_outputs(Bucket(2, bug=bug), forcing, attributes=attributes, warmup=warmup)


def test_warmup_consistency_can_be_switched_off(forcing, attributes):
    check_outputs(Bucket(bug="skips_warmup"), forcing, attributes=attributes, warmup=10,
                  warmup_consistent=False)


def test_non_finite_mid_range_output_fails(forcing, attributes):
    bad = forcing.clone()
    bad[5:7, 1, 0] = 1.7e308  # finite rain, but storage overflows to inf on the second day
    with pytest.raises(AssertionError, match=r"output 'Q' has \d+ non-finite values \(first at time index 6, "
                                             r"entity index 1\)"):
        check_outputs(Bucket(), bad, attributes=attributes)


def test_missing_attributes_are_a_usage_error(forcing):
    with pytest.raises(AssertionError, match=r"Bucket: the model declares attributes \(bypass\); "
                                             r"pass attributes=\[entity, 1\]"):
        check_outputs(Bucket(), forcing)


def test_wrong_forcing_is_a_usage_error(forcing, attributes):
    with pytest.raises(AssertionError, match=r"the check needs forcing \[time, entity, 2\] \(P, PET\), "
                                             r"got \(120, 3\)"):
        check_outputs(Bucket(), forcing[..., 0], attributes=attributes)


def test_forward_exceptions_become_assertion_errors(forcing, attributes):
    with pytest.raises(AssertionError, match=r"Bucket: warmup=500 must be in \[0, 120\)"):
        check_outputs(Bucket(), forcing, attributes=attributes, warmup=500)
    with pytest.raises(AssertionError, match=r"Bucket: forward raised PhyInputError: Bucket: attributes have "
                                             r"non-finite values \(mid-range parameters, warmup=0\)"):
        check_outputs(Bucket(), forcing, attributes=attributes * torch.nan)


def test_state_continuation_fails_when_states_are_ignored(forcing, attributes):
    wet = forcing.clone()
    wet[..., 0] += 5.0  # the bucket never runs dry, so its storage carries memory
    check_state_continuation(Bucket(), wet, attributes=attributes)
    with pytest.raises(AssertionError, match=r"(?s)Bucket: .*output 'Q' of a run continued at time index 60 "
                                             r"from the returned states differs from the uninterrupted run.*"
                                             r"continuation=False"):
        check_state_continuation(Bucket(bug="ignores_states"), wet, attributes=attributes)


# -- parameter bounds -------------------------------------------------------------------------


def test_nan_at_a_bound_names_output_case_and_parameter(forcing, attributes):
    with pytest.raises(AssertionError) as info:
        check_parameter_bounds(Bucket(bug="nan_at_lower_bound"), forcing, attributes=attributes)
    message = str(info.value)
    assert "Bucket: " in message
    assert "(all parameters at their lower bounds)" in message
    assert "output 'Q' has 360 non-finite values (first at time index 0, entity index 0)" in message
    assert "parameters that cause non-finite values when moved alone to these values: ['K']" in message


def test_nan_at_the_upper_bound_is_found(forcing, attributes):
    class NanAtUpper(Bucket):
        def forward(self, forcing, params, **kw):
            params = dict(params)
            k = params["K"]
            params["K"] = k * (K_HI - k) / (K_HI - k)
            return super().forward(forcing, params, **kw)

    with pytest.raises(AssertionError, match=r"all parameters at their upper bounds"):
        check_parameter_bounds(NanAtUpper(2), forcing, attributes=attributes)


def test_infinite_gradient_at_a_bound_names_output_and_parameter(forcing, attributes):
    with pytest.raises(
        AssertionError,
        match=r"(?s)Bucket: \d problems \(all parameters at their lower bounds\):.*"
              r"gradient of mean\(output 'Q'\) w.r.t. parameter 'K' has 3 non-finite values",
    ):
        check_parameter_bounds(Bucket(bug="inf_grad_at_lower_bound"), forcing, attributes=attributes)


def test_random_corners_catch_a_defect_at_mixed_bounds(forcing, attributes):
    class MixedCorner(Bucket):
        def forward(self, forcing, params, **kw):
            out = super().forward(forcing, params, **kw)
            k, cet = params["K"][:, 0], params["CET"]
            mixed = (k == K_LO) & (cet == 1.5)  # only when K is low *and* CET is high
            out.fluxes["Qsum"] = torch.where(mixed, torch.nan, out.fluxes["Qsum"])
            return out

    phy = MixedCorner()
    check_outputs(phy, forcing, attributes=attributes)  # fine mid-range
    with pytest.raises(AssertionError, match=r"output 'Qsum' has \d+ non-finite values .*"
                                             r"\(parameters at random bound corners, seed 0 draw \d\)"):
        check_parameter_bounds(phy, forcing, attributes=attributes, n_random=8)


# -- gradients reach the network ----------------------------------------------------------------


def test_parameter_that_does_not_reach_the_output_fails(forcing, attributes):
    with pytest.raises(
        AssertionError,
        match=r"Bucket: parameter 'CET' does not reach any output \(its gradient is zero everywhere\), "
              r"so the network cannot learn it",
    ):
        check_gradients_reach_nn(Bucket(bug="cet_unused"), forcing, attributes=attributes)


def test_absent_gradient_fails(forcing, attributes):
    with pytest.raises(AssertionError, match=r"parameter 'CET' does not reach any output \(its gradient is "
                                             r"absent\)"):
        check_gradients_reach_nn(Bucket(bug="cet_detached"), forcing, attributes=attributes)


@pytest.mark.parametrize("bug", ["cet_unused", "cet_detached"])
def test_insensitive_parameters_may_be_declared(forcing, attributes, bug):
    check_gradients_reach_nn(Bucket(bug=bug), forcing, attributes=attributes, insensitive=["CET"])
    with pytest.raises(ValueError, match=r"insensitive names undeclared parameters \['X'\]"):
        check_gradients_reach_nn(Bucket(), forcing, attributes=attributes, insensitive=["X"])


def test_detached_outputs_fail(forcing, attributes):
    with pytest.raises(AssertionError, match=r"no output requires grad"):
        check_gradients_reach_nn(Bucket(bug="detached"), forcing, attributes=attributes)


def test_dead_network_weights_fail(forcing, attributes):
    with pytest.raises(AssertionError, match=r"only \d+ of \d+ network weights \(\d+%\) have a non-zero gradient, "
                                             r"expected at least 100%"):
        # CET unused: its head row has zero gradient, so not every weight can be non-zero
        check_gradients_reach_nn(Bucket(bug="cet_unused"), forcing, attributes=attributes,
                                 insensitive=["CET"], min_nonzero_fraction=1.0)


def test_static_only_network_inputs(forcing, attributes):
    check_gradients_reach_nn(Bucket(2), forcing, attributes=attributes, n_dynamic_inputs=0)


def test_dynamic_parameters_need_dynamic_network_inputs(forcing, attributes):
    with pytest.raises(AssertionError, match=r"Bucket: cannot be coupled to a network: dynamic parameters "
                                             r"\['K'\] need time-varying network inputs"):
        check_gradients_reach_nn(Bucket(dynamic=("K",)), forcing, attributes=attributes, n_dynamic_inputs=0)


# -- mass balance -----------------------------------------------------------------------------


def test_leaking_bucket_fails_mass_balance(forcing, attributes):
    with pytest.raises(
        AssertionError,
        match=r"Bucket: mass balance does not close: \|residual\| > atol=0.0001 for 3 of 3 entities "
              r"\(worst: entity index \d, residual [-\d.e]+\) \(mid-range parameters\)",
    ):
        check_mass_balance(Bucket(bug="leaks"), forcing, budget, attributes=attributes)


def test_mass_balance_uses_given_initial_states(forcing, attributes):
    states = {"S": torch.full((3, 2), 50.0, dtype=torch.float64)}
    check_mass_balance(Bucket(2), forcing, budget, attributes=attributes, states=states, atol=1e-9)

    def ignores_initial_storage(forcing, params, initial_states, output):
        return budget(forcing, params, {"S": torch.zeros_like(initial_states["S"])}, output)

    with pytest.raises(AssertionError, match=r"residual -50\) \(mid-range parameters\)"):
        check_mass_balance(Bucket(2), forcing, ignores_initial_storage, attributes=attributes, states=states)


def test_budget_must_return_one_residual_per_entity(forcing, attributes):
    with pytest.raises(AssertionError, match=r"the budget must return a residual per entity, shape \(3,\), "
                                             r"got \(\)"):
        check_mass_balance(Bucket(), forcing, lambda *a: budget(*a).sum(), attributes=attributes)


def test_check_phy_model_runs_mass_balance_only_with_a_budget(forcing, attributes):
    leaky = Bucket(bug="leaks")
    check_phy_model(leaky, forcing, attributes=attributes)
    with pytest.raises(AssertionError, match="mass balance does not close"):
        check_phy_model(leaky, forcing, attributes=attributes, budget=budget)


# -- helpers ----------------------------------------------------------------------------------


def test_make_params_shapes_and_values():
    phy = Bucket(n_components=2, dynamic=("K",))
    params = make_params(phy, 4, n_time=5, u={"K": 1.0}, dtype=torch.float64)
    assert params["K"].shape == (5, 4, 2) and torch.all(params["K"] == K_HI)
    assert params["CET"].shape == (4,) and torch.all(params["CET"] == 1.0)
    static = make_static_params(phy, 4, u=0.0)
    assert static["K"].shape == (4, 2) and torch.all(static["K"] == K_LO)
    assert static["K"].dtype == torch.float32
    drawn = make_params(phy, 4, u=torch.Generator().manual_seed(0), requires_grad=True)
    assert drawn["K"].requires_grad and drawn["K"].is_leaf
    assert torch.all((drawn["K"] >= K_LO) & (drawn["K"] <= K_HI)) and drawn["K"].unique().numel() == 8
    units = make_unit_params(phy, 4, u=0.25)
    assert torch.all(units["CET"] == 0.25)
    with pytest.raises(ValueError, match=r"u for parameter 'K' must be in \[0, 1\], got 1.5"):
        make_params(phy, 4, u=1.5)
    with pytest.raises(ValueError, match=r"u names undeclared parameters \['X'\]"):
        make_params(phy, 4, u={"X": 0.1})


@pytest.mark.parametrize(
    ("spec", "dyn_shape", "sta_shape"),
    [
        (NNSpec(3, 2, n_dynamic_outputs=4, n_static_outputs=5), (6, 7, 4), (7, 5)),
        (NNSpec(3, 0, n_static_outputs=5), None, (7, 5)),
        (NNSpec(0, 2, n_static_outputs=5), None, (7, 5)),
        (NNSpec(3, 0, n_dynamic_outputs=4, output_range="unbounded"), (6, 7, 4), None),
    ],
)
def test_tiny_nn_honours_its_spec(spec, dyn_shape, sta_shape):
    net = TinyNN(spec)
    x = torch.randn(6, 7, spec.n_dynamic_inputs) if spec.n_dynamic_inputs else None
    c = torch.randn(7, spec.n_static_inputs) if spec.n_static_inputs else None
    out = net(x, c)
    for value, shape in ((out.dynamic, dyn_shape), (out.static, sta_shape)):
        if shape is None:
            assert value is None
        else:
            assert value.shape == shape
            if spec.output_range == "unit":
                assert torch.all((value > 0) & (value < 1))
    if spec.output_range == "unbounded":
        assert (out.dynamic < 0).any()


def test_tiny_nn_rejects_impossible_specs_and_inputs():
    with pytest.raises(NNSpecError, match="cannot produce 2 dynamic outputs without dynamic inputs"):
        TinyNN(NNSpec(0, 3, n_dynamic_outputs=2))
    with pytest.raises(NNSpecError, match="needs at least one dynamic or static input feature"):
        TinyNN(NNSpec(0, 0, n_static_outputs=1))
    net = TinyNN(NNSpec(3, 2, n_static_outputs=1))
    with pytest.raises(NNSpecError, match=r"x_dynamic must be \[time, batch, 3\], got shape \(5, 4, 2\)"):
        net(torch.randn(5, 4, 2), torch.randn(4, 2))
    with pytest.raises(NNSpecError, match=r"x_static \[batch, 2\] is required by the spec but was None"):
        net(torch.randn(5, 4, 3), None)


def test_state_continuation_checks_shapes_first(forcing, attributes):
    with pytest.raises(AssertionError, match=r"Bucket: state 'S' has shape \(3,\), expected \(3, 2\) = "
                                             r"\[entity, n_components\] \(state continuation, whole window\)"):
        check_state_continuation(Bucket(2, bug="state_shape"), forcing, attributes=attributes)
