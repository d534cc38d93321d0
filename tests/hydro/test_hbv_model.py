"""HBV behaviour: inputs, warm-up modes, parameter conventions, chaining, 2.0 physics, backends."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import torch

from delta_core.interfaces.phy import PhyInputError
from delta_hydro.hbv import backends
from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from delta_hydro.hbv.reference import LoopResult, time_loop
from tests.hydro.helpers import attributes_2_0, synthetic_forcing, to_physical, unit_params

T, B, NMUL = 60, 3, 2


def _model(variant: str = "1.1p", **kwargs: object) -> HBV:
    # These tests are about the model and its reference loop (graph structure, exact
    # equality); the compiled backend has its own tests (test_hbv_kernel.py).
    kwargs.setdefault("backend", "reference")
    return HBV(HBVConfig(variant=variant, nmul=NMUL, **kwargs))  # type: ignore[arg-type]


def _setup(model: HBV, *, seed: int = 0, n_time: int = T) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forcing = synthetic_forcing(n_time, B, seed=seed, start_day=75)  # March: snow, melt and rain
    params = to_physical(model, unit_params(model, n_time, B, seed=seed))
    return forcing, params


def _attrs(model: HBV) -> torch.Tensor | None:
    return attributes_2_0(B) if model.config.variant == "2.0" else None


def _assert_same(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], **tol: float) -> None:
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=lambda m, n=name: f"{n}: {m}", **tol)


# -- declarations ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["1.0", "1.1p", "2.0"])
def test_declarations(variant: str) -> None:
    model = _model(variant, dynamic=("BETA",))
    assert [v.name for v in model.forcings] == ["P", "T", "PET"]
    assert [v.units for v in model.forcings] == ["mm/day", "degC", "mm/day"]
    assert [v.name for v in model.attributes] == (["area", "elevation"] if variant == "2.0" else [])
    assert [v.name for v in model.state_vars] == ["SNOWPACK", "MELTWATER", "SM", "SUZ", "SLZ"]
    assert model.n_components == NMUL and model.dynamic_params == ("BETA",)
    names = [v.name for v in model.output_vars]
    assert ("capillary" in names) is (variant != "1.0")
    assert ("leakage" in names) is (variant == "2.0")
    assert names[-1] == "BFI" and model.output_vars[-1].dims == "entity"
    init = model.initial_states(4, dtype=torch.float64)
    assert all(v.shape == (4, NMUL) and torch.all(v == 0.001) for v in init.values())


# -- input validation -------------------------------------------------------------------------


def _bad(model: HBV, forcing: torch.Tensor, params: dict[str, torch.Tensor], match: str, **kw: object) -> None:
    with pytest.raises(PhyInputError, match=match):
        model(forcing, params, **kw)  # type: ignore[arg-type]


def test_bad_inputs_fail_clearly() -> None:
    model = _model("1.1p")
    forcing, params = _setup(model)
    nan = forcing.clone()
    nan[3, 1, 0] = float("nan")
    _bad(model, nan, params, r"forcing 'P' has 1 non-finite values \(first at time index 3, entity index 1\)")
    _bad(model, forcing[..., :2], params, r"forcing must be \[time, entity, 3\]")
    negative = forcing.clone()
    negative[5, 0, 2] = -0.1
    _bad(model, negative, params, r"forcing 'PET' \(potential evapotranspiration, mm/day\) must be >= 0")
    kelvin = forcing.clone()
    kelvin[..., 1] += 273.15
    _bad(model, kelvin, params, r"'T' must be daily mean air temperature in degC.*Kelvin")
    _bad(model, forcing, {k: v for k, v in params.items() if k != "FC"}, "parameter 'FC' is missing")
    _bad(model, forcing, {**params, "RT": params["C"]}, r"unknown parameters \['RT'\]")
    _bad(model, forcing, {**params, "FC": params["FC"] / 1000}, r"'FC' must lie in \[50, 1000\] mm")
    _bad(model, forcing, {**params, "K1": params["K1"][:, :1]}, "parameter 'K1' must have shape")
    _bad(model, forcing, {**params, "K1": params["K1"].float()}, "'K1' is torch.float32")
    nan_param = params["BETA"].clone()
    nan_param[0, 0] = float("nan")
    _bad(model, forcing, {**params, "BETA": nan_param}, "parameter 'BETA' has non-finite values")
    states = model.initial_states(B, dtype=torch.float64)
    _bad(model, forcing, params, r"missing \['SLZ'\]", states={k: v for k, v in states.items() if k != "SLZ"})
    _bad(model, forcing, params, "state 'SM' must be finite and >= 0", states={**states, "SM": -states["SM"]})
    _bad(model, forcing, params, r"warmup=60 must be in \[0, 60\)", warmup=T)


def test_2_0_needs_plausible_attributes() -> None:
    model = _model("2.0")
    forcing, params = _setup(model)
    _bad(model, forcing, params, r"attributes \[entity, 2\] \(area, elevation\) are required")
    attrs = attributes_2_0(B)
    _bad(model, forcing, params, r"attributes must be \[3, 2\]", attributes=attrs[:, :1])
    feet = attrs.clone()
    feet[:, 1] = 12000.0
    _bad(model, forcing, params, "'elevation' must be mean basin elevation in m", attributes=feet)


# -- parameter conventions ------------------------------------------------------------------


def test_static_series_convention_uses_the_last_step() -> None:
    model = _model("1.1p", dynamic=("BETA",))
    forcing, params = _setup(model)
    series = {}
    for name, value in params.items():
        if name == "BETA":
            series[name] = value
        else:  # a [T, ...] series whose last step is the static value; earlier steps differ
            noise = torch.rand((T, *value.shape), dtype=value.dtype) * 0.1
            spec = next(p for p in model.param_specs if p.name == name)
            s = spec.lo + (value - spec.lo) * (0.9 + noise)
            s[-1] = value
            series[name] = s.requires_grad_(True)
    a = model(forcing, params)
    b = model(forcing, series)
    _assert_same(a.fluxes, b.fluxes, rtol=0, atol=0)
    (grad,) = torch.autograd.grad(b.fluxes["streamflow"].mean(), [series["FC"]])
    assert torch.all(grad[:-1] == 0) and torch.any(grad[-1] != 0)


def test_dynamic_parameter_given_static_is_constant_in_time() -> None:
    model = _model("1.0", dynamic=("BETAET", "K0"))
    forcing, params = _setup(model)
    const = {**params, "BETAET": params["BETAET"][0], "K0": params["K0"][7]}
    expanded = {**const, "BETAET": const["BETAET"].expand(T, -1, -1), "K0": const["K0"].expand(T, -1, -1)}
    _assert_same(model(forcing, const).fluxes, model(forcing, expanded).fluxes, rtol=0, atol=0)


def test_dynamic_parameters_vary_per_step() -> None:
    model = _model("1.1p", dynamic=("K2",))
    forcing, params = _setup(model)
    out = model(forcing, params)
    const = {**params, "K2": params["K2"][-1]}
    assert not torch.allclose(out.fluxes["gwflow_no_rout"], model(forcing, const).fluxes["gwflow_no_rout"])


def test_1_0_betaet_only_when_dynamic_and_exponent_one_otherwise() -> None:
    plain = _model("1.0")
    assert "BETAET" not in [p.name for p in plain.param_specs]
    dyn = _model("1.0", dynamic=("BETAET",))
    forcing, params = _setup(plain)
    one = torch.ones(T, B, NMUL, dtype=torch.float64)
    _assert_same(plain(forcing, params).fluxes, dyn(forcing, {**params, "BETAET": one}).fluxes)
    other = dyn(forcing, {**params, "BETAET": 3 * one}).fluxes
    assert not torch.allclose(other["AET_hydro"], plain(forcing, params).fluxes["AET_hydro"])


# -- warm-up modes ----------------------------------------------------------------------------


def test_full_grad_drops_outputs_of_the_whole_run() -> None:
    model = _model("1.1p", dynamic=("BETA",), warmup_mode="full_grad")
    forcing, params = _setup(model)
    whole = model(forcing, params, warmup=0)
    cut = model(forcing, params, warmup=20)
    for name, value in cut.fluxes.items():
        expected = whole.fluxes[name] if name == "BFI" else whole.fluxes[name][20:]
        torch.testing.assert_close(value, expected, rtol=0, atol=0)
    _assert_same(cut.states, whole.states, rtol=0, atol=0)


@pytest.mark.parametrize("variant", ["1.0", "1.1p", "2.0"])
def test_spinup_runs_the_warmup_with_day_warmup_minus_one_parameters(variant: str) -> None:
    dynamic = ("BETA", "K0")
    model = _model(variant, dynamic=dynamic)
    forcing, params = _setup(model)
    attrs, w = _attrs(model), 25
    # a static parameter also given as a series: spin-up uses day w-1, the run the last day
    ramp = torch.linspace(0.5, 1.0, T, dtype=torch.float64)[:, None, None]
    params["FC"] = 50.0 + (params["FC"] - 50.0) * ramp
    out = model(forcing, params, attributes=attrs, warmup=w)

    spin = {}
    for name, value in params.items():
        series = value.ndim == (2 if name.startswith("route") else 3)
        if variant == "1.1p" and name in dynamic:
            spin[name] = value[:w]  # 1.1p keeps dynamic parameters dynamic in spin-up
        else:
            spin[name] = value[w - 1] if series else value
    with torch.no_grad():
        warm = model(forcing[:w], spin, attributes=attrs).states
    rest = {k: (v[w:] if v.ndim == (2 if k.startswith("route") else 3) else v) for k, v in params.items()}
    expected = model(forcing[w:], rest, attributes=attrs, states=warm)
    _assert_same(out.fluxes, expected.fluxes, rtol=0, atol=0)
    _assert_same(out.states, expected.states, rtol=0, atol=0)


def test_spinup_has_no_gradient_full_grad_has() -> None:
    grads = {}
    for mode in ("spinup_no_grad", "full_grad"):
        model = _model("1.1p", dynamic=("K2",), warmup_mode=mode)
        forcing, params = _setup(model)
        k2 = params["K2"].requires_grad_(True)
        out = model(forcing, params, warmup=20)
        assert out.fluxes["streamflow"].shape == (T - 20, B)
        (grads[mode],) = torch.autograd.grad(out.fluxes["streamflow"].mean(), [k2])
    assert torch.all(grads["spinup_no_grad"][:20] == 0)
    assert torch.any(grads["full_grad"][:20] != 0)
    assert torch.any(grads["spinup_no_grad"][20:] != 0)


# -- chaining -----------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["1.0", "1.1p", "2.0"])
def test_final_states_chain_runs(variant: str) -> None:
    model = _model(variant, dynamic=("BETA",))
    forcing, params = _setup(model)
    attrs, split = _attrs(model), 33
    whole = model(forcing, params, attributes=attrs)
    first = model(forcing[:split], {**params, "BETA": params["BETA"][:split]}, attributes=attrs)
    second = model(
        forcing[split:], {**params, "BETA": params["BETA"][split:]}, attributes=attrs, states=first.states
    )
    _assert_same(second.states, whole.states)
    # Unrouted fluxes continue exactly; routed ones restart their convolution at the split.
    for var in model.output_vars:
        if var.dims == "time_entity" and var.name not in ("streamflow", "srflow", "ssflow", "gwflow"):
            torch.testing.assert_close(second.fluxes[var.name], whole.fluxes[var.name][split:])


# -- physics details ------------------------------------------------------------------------------


def test_2_0_high_basins_use_tt_4_and_leakage_follows_area() -> None:
    model = _model("2.0")
    forcing, params = _setup(model)
    params = {k: v.detach() for k, v in params.items()}
    # basin 0: small, 1: small with AC > area (loss), 2: large (exponential decay)
    attrs = torch.tensor([[1000.0, 2500.0], [400.0, 100.0], [2600.0, 100.0]], dtype=torch.float64)
    params["RT"] = torch.full((B, NMUL), 2.0, dtype=torch.float64)
    params["AC"] = torch.full((B, NMUL), 500.0, dtype=torch.float64)
    params["K2"] = torch.full((B, NMUL), 0.001, dtype=torch.float64)
    tt = params["TT"].clone().requires_grad_(True)
    out = model(forcing, {**params, "TT": tt}, attributes=attrs)
    (grad,) = torch.autograd.grad(out.fluxes["streamflow"].sum(), [tt])
    assert torch.all(grad[0] == 0) and torch.any(grad[1:] != 0)  # TT overridden in the high basin
    leak = out.fluxes["leakage"]
    torch.testing.assert_close(leak[:, 0], torch.full((T,), 1.0, dtype=torch.float64))  # 0.5 * RT
    assert torch.all(leak[:, 1] <= 0) and torch.all(leak[:, 1] >= -0.2 - 1e-12)  # -0.1 * RT, floored
    torch.testing.assert_close(leak[:, 2], torch.full((T,), 2.0 * torch.exp(torch.tensor(-2.0)).item(),
                                                      dtype=torch.float64))


def test_all_zero_precipitation_dries_out_without_negative_storage() -> None:
    model = _model("1.1p")
    forcing, params = _setup(model)
    forcing[..., 0] = 0.0
    states = {k: torch.full((B, NMUL), 50.0, dtype=torch.float64) for k in model.initial_states(B)}
    out = model(forcing, params, states=states)
    assert all(torch.all(v >= 0) for v in out.states.values())
    assert torch.all(out.fluxes["streamflow_no_rout"] >= 0)
    assert torch.all(out.fluxes["streamflow_no_rout"][-1] < out.fluxes["streamflow_no_rout"][0])


def test_float32_and_float64_agree() -> None:
    model = _model("1.1p", dynamic=("BETA",))
    forcing, params = _setup(model)
    f64 = model(forcing, params)
    f32 = model(forcing.float(), {k: v.float() for k, v in params.items()})
    for name, value in f64.fluxes.items():
        assert f32.fluxes[name].dtype == torch.float32
        torch.testing.assert_close(f32.fluxes[name].double(), value, rtol=1e-4, atol=1e-4)


def _graph_node_counts(root: torch.Tensor) -> dict[str, int]:
    counts: dict[str, int] = {}
    seen, stack = set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        counts[type(node).__name__] = counts.get(type(node).__name__, 0) + 1
        stack.extend(child for child, _ in node.next_functions)
    return counts


def test_no_per_step_indexing_of_full_tensors() -> None:
    """Dynamic parameters and forcing are split once: no per-step select on a ``[T, ...]`` tensor.

    A per-step ``x[t]`` puts one SelectBackward node per step into the graph, whose
    backward each materialises a full ``[T, ...]`` gradient: quadratic in ``T``.
    """
    model = _model("2.0", dynamic=("BETA", "K0", "BETAET", "RT", "TT"))
    counts = {}
    for n in (20, 40):
        forcing, params = _setup(model, n_time=n)
        params = {k: v.requires_grad_(True) for k, v in params.items()}
        out = model(forcing, params, attributes=attributes_2_0(B))
        counts[n] = _graph_node_counts(out.fluxes["streamflow"].sum())
    assert counts[20].get("SelectBackward0", 0) == counts[40].get("SelectBackward0", 0)
    assert counts[40]["ClampBackward1"] > counts[20]["ClampBackward1"]  # the walk saw the loop


# -- backends --------------------------------------------------------------------------------------

CALLS: list[int] = []


def recording_loop(*args: object, **kwargs: object) -> LoopResult:
    """A stand-in backend: the reference loop, counting calls."""
    CALLS.append(1)
    return time_loop(*args, **kwargs)  # type: ignore[arg-type]


def test_backend_is_swappable_without_touching_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends.BACKENDS, "recording", f"{__name__}:recording_loop")
    with pytest.raises(ValueError, match="already registered"):
        backends.register_backend("recording", "somewhere:else")
    CALLS.clear()
    model = _model("1.1p", backend="recording", warmup_mode="spinup_no_grad")
    forcing, params = _setup(model)
    out = model(forcing, params, warmup=10)
    assert len(CALLS) == 2  # spin-up and run
    _assert_same(out.fluxes, _model("1.1p")(forcing, params, warmup=10).fluxes, rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", ["1.0", "1.1p", "2.0"])
def test_cuda_matches_cpu(variant: str) -> None:
    model = _model(variant, dynamic=("BETA",), warmup_mode="spinup_no_grad")
    forcing, params = _setup(model)
    attrs = _attrs(model)
    cpu = model(forcing, params, attributes=attrs, warmup=10)
    dev = torch.device("cuda")
    gpu = model(
        forcing.to(dev), {k: v.to(dev) for k, v in params.items()},
        attributes=None if attrs is None else attrs.to(dev), warmup=10,
    )
    for name, value in cpu.fluxes.items():
        torch.testing.assert_close(gpu.fluxes[name].cpu(), value)
