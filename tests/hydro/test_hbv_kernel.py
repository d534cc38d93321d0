"""The compiled HBV backend (``cpp``, issue 6) against the reference backend.

The kernel is compiled once (cached across sessions in deltamod's cache directory) and
loaded once per test process. Every test here that compares the two backends first
makes sure the compiled library really is loaded: a fallback to the reference loop
would make the comparisons pass vacuously.

* hypothesis: every variant, both warm-up modes, random dynamic sets, forcing,
  parameters (also at their bounds) and initial states, float64: outputs and final
  states to 1e-5 relative, gradients of a random linear functional of every output
  and final state to 1e-4 (w.r.t. parameters, forcing and initial states);
* ``torch.autograd.gradcheck`` of the fused loop in float64 (every process switched on);
* the ../shared/reference/hbv cases (hydrodl2 outputs and gradients) on ``cpp``;
* float32, threads, the buffer pool, ``auto``, pickling, and the fallback with one
  warning when the compiler fails (a real build with a missing compiler).
"""

from __future__ import annotations

import copy
import functools
import pickle
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_hydro.hbv import backends, kernels, reference
from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.kernels import compiled, loader
from delta_hydro.hbv.model import HBV
from delta_hydro.hbv.parameters import dynamic_candidates
from delta_hydro.hbv.reference import STATE_NAMES
from tests.hydro import test_hbv_reference as reference_tests
from tests.hydro.helpers import attributes_2_0, synthetic_forcing, to_physical, unit_params

OUTPUT_RTOL = 1e-5
GRAD_RTOL = 1e-4

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="session", autouse=True)
def compiled_kernel() -> None:
    """Build/load the extension once; fail (not skip) if it cannot be: that is the feature."""
    if not kernels.is_available():
        pytest.fail(f"the compiled HBV kernel did not build or load: {loader.LOADER.error!r}")


def _close(name: str, got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> None:
    """``|got - want| <= atol + rtol |want|`` elementwise, with a readable failure."""
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    excess = (got - want).abs() - (atol + rtol * want.abs())
    if bool((excess > 0).any()):
        idx = np.unravel_index(int(excess.argmax()), tuple(excess.shape))
        raise AssertionError(
            f"{name}: {int((excess > 0).sum())} values differ beyond rtol={rtol:g}, atol={atol:g}; worst at "
            f"{tuple(int(i) for i in idx)}: cpp {float(got[idx])!r}, reference {float(want[idx])!r}"
        )


def _grad_close(name: str, got: torch.Tensor | None, want: torch.Tensor | None, rtol: float) -> None:
    """Gradients to ``rtol``, with an absolute floor of ``rtol`` times the largest one (1e-12 min)."""
    assert (got is None) == (want is None), f"{name}: gradient presence differs"
    if got is None or want is None:
        return
    floor = rtol * float(want.abs().max()) + 1e-12
    _close(f"gradient w.r.t. {name}", got, want, rtol, floor)


# -- random cases through the model ---------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    variant: str
    dynamic: tuple[str, ...]
    warmup_mode: str
    warmup: int
    n_time: int
    n_basin: int
    nmul: int
    precip: str
    params: str
    states: str
    forcing_grad: bool
    seed: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    variant = draw(st.sampled_from(["1.0", "1.1p", "2.0"]))
    n_time = draw(st.integers(1, 30))
    return Scenario(
        variant=variant,
        dynamic=tuple(draw(st.lists(st.sampled_from(dynamic_candidates(variant)), unique=True, max_size=4))),
        warmup_mode=draw(st.sampled_from(["spinup_no_grad", "full_grad"])),
        warmup=draw(st.integers(0, n_time - 1)),
        n_time=n_time,
        n_basin=draw(st.integers(1, 3)),
        nmul=draw(st.integers(1, 4)),
        precip=draw(st.sampled_from(["zero", "light", "storms"])),
        params=draw(st.sampled_from(["lo", "hi", "corners", "mixed", "uniform"])),
        states=draw(st.sampled_from(["default", "zero", "random"])),
        forcing_grad=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def _scenario_inputs(
    s: Scenario,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None, dict[str, torch.Tensor]]:
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
    model = HBV(HBVConfig(variant=s.variant, nmul=s.nmul, dynamic=s.dynamic))
    params = to_physical(model, unit_params(model, s.n_time, s.n_basin, mode=s.params, seed=s.seed))
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
    return forcing, params, attributes, states


def _run_both(
    s: Scenario,
) -> Iterator[tuple[str, dict[str, torch.Tensor], dict[str, torch.Tensor | None]]]:
    """For each backend: outputs (fluxes and final states) and gradients of one random functional."""
    forcing, params, attributes, states = _scenario_inputs(s)
    rng = np.random.default_rng(s.seed + 1)
    weights: dict[str, torch.Tensor] = {}
    for backend in ("reference", "cpp"):
        config = HBVConfig(
            variant=s.variant, nmul=s.nmul, dynamic=s.dynamic, warmup_mode=s.warmup_mode, backend=backend
        )
        model = HBV(config)
        leaves = {f"param {k}": v.clone().requires_grad_(True) for k, v in params.items()}
        leaves.update({f"state {k}": v.clone().requires_grad_(True) for k, v in states.items()})
        f = forcing.clone().requires_grad_(s.forcing_grad)
        out = model(
            f,
            {k.removeprefix("param "): v for k, v in leaves.items() if k.startswith("param ")},
            attributes=attributes,
            states={k.removeprefix("state "): v for k, v in leaves.items() if k.startswith("state ")},
            warmup=s.warmup,
        )
        results = {**out.fluxes, **{f"final {k}": v for k, v in out.states.items()}}
        if not weights:
            weights = {k: torch.tensor(rng.normal(size=v.shape)) for k, v in results.items()}
        objective = sum((weights[k] * v).sum() for k, v in results.items() if v.requires_grad)
        wrt = dict(leaves)
        if s.forcing_grad:
            wrt["forcing"] = f
        grads: dict[str, torch.Tensor | None] = dict.fromkeys(wrt)
        if isinstance(objective, torch.Tensor):
            values = torch.autograd.grad(objective, list(wrt.values()), allow_unused=True)
            grads = dict(zip(wrt, values, strict=True))
        yield backend, {k: v.detach() for k, v in results.items()}, grads


# HBV's input checks call float() on the forcing, which warns when it requires grad.
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")
@SETTINGS
@given(scenarios())
def test_cpp_matches_reference_outputs_and_gradients(s: Scenario) -> None:
    (_, ref_out, ref_grad), (_, cpp_out, cpp_grad) = list(_run_both(s))
    assert set(cpp_out) == set(ref_out)
    for name, want in ref_out.items():
        _close(name, cpp_out[name], want, OUTPUT_RTOL, 1e-8)
    assert set(cpp_grad) == set(ref_grad)
    for name, want in ref_grad.items():
        _grad_close(name, cpp_grad[name], want, GRAD_RTOL)


@pytest.mark.parametrize("variant", ["1.0", "1.1p", "2.0"])
@pytest.mark.parametrize("warmup_mode", ["spinup_no_grad", "full_grad"])
def test_cpp_matches_reference_over_a_year(variant: str, warmup_mode: str, wet_year_forcing: torch.Tensor) -> None:
    """A plausible wet year with snow, every process active, mid-range parameters, 60-day warm-up."""
    dynamic = ("BETA", "K0", "BETAET", "C", "RT")[: {"1.0": 3, "1.1p": 4, "2.0": 5}[variant]]
    scenario_outputs = []
    for backend in ("reference", "cpp"):
        model = HBV(HBVConfig(variant=variant, nmul=4, dynamic=dynamic, warmup_mode=warmup_mode, backend=backend))
        n_basin = wet_year_forcing.shape[1]
        params = to_physical(model, unit_params(model, 365, n_basin, mode="uniform", seed=7))
        params = {k: v.requires_grad_(True) for k, v in params.items()}
        attributes = attributes_2_0(n_basin) if variant == "2.0" else None
        out = model(wet_year_forcing, params, attributes=attributes, warmup=60)
        grads = torch.autograd.grad(out.fluxes["streamflow"].mean(), list(params.values()))
        scenario_outputs.append((out, dict(zip(params, grads, strict=True))))
    (ref, ref_grads), (cpp, cpp_grads) = scenario_outputs
    assert float(ref.fluxes["SWE"].detach().max()) > 1.0 and float(ref.fluxes["srflow_no_rout"].detach().max()) > 0.0
    for name, want in ref.fluxes.items():
        _close(name, cpp.fluxes[name].detach(), want.detach(), OUTPUT_RTOL, 1e-8)
    for name, want in ref.states.items():
        _close(f"state {name}", cpp.states[name].detach(), want.detach(), OUTPUT_RTOL, 1e-8)
    for name, want in ref_grads.items():
        assert float(want.abs().max()) > 0.0, f"{name}: no gradient to compare"
        _grad_close(name, cpp_grads[name], want, GRAD_RTOL)


# -- the fused loop itself ------------------------------------------------------------------------


def _loop_inputs(
    n_time: int, n_entity: int, nmul: int, *, optional: tuple[str, ...], dynamic: tuple[str, ...], seed: int
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Float64 loop inputs away from the kinks, all requiring gradients."""
    gen = torch.Generator().manual_seed(seed)

    def u(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=gen, dtype=torch.float64)

    precip = torch.where(u(n_time, n_entity) < 0.6, 2.0 + 20.0 * u(n_time, n_entity), torch.zeros(n_time, n_entity))
    temp = -8.0 + 20.0 * u(n_time, n_entity)
    pet = 0.5 + 4.0 * u(n_time, n_entity)
    forcing = torch.stack([precip, temp, pet], -1).requires_grad_(True)
    ranges = {
        "BETA": (1.0, 6.0), "FC": (50.0, 300.0), "K0": (0.05, 0.9), "K1": (0.01, 0.5), "K2": (0.001, 0.2),
        "LP": (0.2, 1.0), "PERC": (0.5, 10.0), "UZL": (0.0, 20.0), "TT": (-2.5, 2.5), "CFMAX": (0.5, 10.0),
        "CFR": (0.01, 0.1), "CWH": (0.01, 0.2), "BETAET": (0.3, 5.0), "C": (0.05, 1.0), "LF": (-3.0, 3.0),
    }
    static, dyn = {}, {}
    for name in (*list(ranges)[:12], *optional):
        lo, hi = ranges[name]
        if name in dynamic:
            dyn[name] = (lo + (hi - lo) * u(n_time, n_entity, nmul)).requires_grad_(True)
        else:
            static[name] = (lo + (hi - lo) * u(n_entity, nmul)).requires_grad_(True)
    states = {k: (1.0 + 40.0 * u(n_entity, nmul)).requires_grad_(True) for k in STATE_NAMES}
    return forcing, static, dyn, states


@pytest.mark.parametrize(
    ("optional", "dynamic"),
    [
        ((), ()),
        (("BETAET",), ("BETA", "TT", "BETAET")),
        (("BETAET", "C"), ("FC", "K0", "C")),
        (("BETAET", "C", "LF"), ("LP", "CFMAX", "LF", "PERC")),
        (("C", "LF"), ("UZL", "CWH")),
    ],
)
def test_gradcheck_float64(optional: tuple[str, ...], dynamic: tuple[str, ...]) -> None:
    """Finite differences agree with the hand-written adjoint, for every output and input."""
    forcing, static, dyn, states = _loop_inputs(6, 2, 2, optional=optional, dynamic=dynamic, seed=3)
    s_names, d_names = list(static), list(dyn)

    def fn(f: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n_s, n_d = len(s_names), len(d_names)
        s = dict(zip(s_names, tensors[:n_s], strict=True))
        d = dict(zip(d_names, tensors[n_s : n_s + n_d], strict=True))
        init = dict(zip(STATE_NAMES, tensors[n_s + n_d :], strict=True))
        result = kernels.time_loop(f, s, d, init)
        return (*result.fluxes.values(), *result.states.values())

    inputs = (forcing, *static.values(), *dyn.values(), *states.values())
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_loop_fluxes_and_states_equal_reference_without_the_model() -> None:
    """The backend contract directly: names, shapes, values, final states; record=False; T = 0."""
    forcing, static, dyn, states = _loop_inputs(20, 3, 5, optional=("BETAET", "C", "LF"), dynamic=("K1",), seed=5)
    with torch.no_grad():
        ref = reference.time_loop(forcing, static, dyn, states)
        cpp = kernels.time_loop(forcing, static, dyn, states)
        assert list(cpp.fluxes) == list(ref.fluxes)
        for name in ref.fluxes:
            _close(name, cpp.fluxes[name], ref.fluxes[name], 1e-12, 1e-12)
        for name in STATE_NAMES:
            _close(name, cpp.states[name], ref.states[name], 1e-12, 1e-12)
        spin = kernels.time_loop(forcing, static, dyn, states, record=False)
        assert spin.fluxes == {}
        for name in STATE_NAMES:
            _close(name, spin.states[name], ref.states[name], 1e-12, 1e-12)
        empty = kernels.time_loop(forcing[:0], static, {k: v[:0] for k, v in dyn.items()}, states)
        assert all(v.shape == (0, 3) for v in empty.fluxes.values())
        for name in STATE_NAMES:
            assert torch.equal(empty.states[name], states[name])


def test_gradients_from_final_states_only() -> None:
    """Chaining windows: a loss on the final storages alone reaches parameters and initial storages."""
    forcing, static, dyn, states = _loop_inputs(15, 2, 3, optional=("BETAET", "C"), dynamic=("BETA",), seed=8)
    leaves = [*static.values(), *dyn.values(), *states.values()]
    grads = []
    for loop in (reference.time_loop, kernels.time_loop):
        out = loop(forcing, static, dyn, states)
        objective = sum(v.sum() * (i + 1) for i, v in enumerate(out.states.values()))
        grads.append(torch.autograd.grad(objective, leaves))
    for i, (want, got) in enumerate(zip(*grads, strict=True)):
        _grad_close(f"leaf {i}", got, want, 1e-10)


def test_fluxes_without_gradient_are_skipped_exactly() -> None:
    """The backward pass skips fluxes whose gradient is absent or all zero, and only those.

    A gradient that is zero except at the last step of one basin (Q1) (found by the scan for
    non-zero rows only at its very end) must still reach the parameters, and a flux
    multiplied by 0 in the loss must change nothing.
    """
    forcing, static, dyn, states = _loop_inputs(40, 3, 4, optional=("BETAET",), dynamic=("BETA",), seed=12)
    leaves = [*static.values(), *dyn.values()]

    def grads(loop: object, objective: str) -> tuple[torch.Tensor, ...]:
        out = loop(forcing, static, dyn, states)  # type: ignore[operator]
        q, aet, q1 = out.fluxes["Q"], out.fluxes["AET"], out.fluxes["Q1"]
        if objective == "Q":
            loss = q.sum()
        elif objective == "Q + 0 AET":
            loss = q.sum() + 0.0 * aet.sum()
        else:  # one late value of Q1 (subsurface flow), plus Q
            loss = q.sum() + 3.0 * q1[-1, -1]
        return torch.autograd.grad(loss, leaves)

    for objective in ("Q", "Q + 0 AET", "late Q1"):
        want, got = grads(reference.time_loop, objective), grads(kernels.time_loop, objective)
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            _grad_close(f"{objective}: leaf {i}", g, w, 1e-10)
    plain, zero = grads(kernels.time_loop, "Q"), grads(kernels.time_loop, "Q + 0 AET")
    assert all(torch.equal(a, b) for a, b in zip(plain, zero, strict=True))
    late = grads(kernels.time_loop, "late Q1")
    assert any(not torch.equal(a, b) for a, b in zip(plain, late, strict=True))


def test_float32_matches_reference(year_forcing: torch.Tensor) -> None:
    """The float32 instantiation: outputs to float32 rounding, gradients to 1e-3 of their scale."""
    results = []
    for backend in ("reference", "cpp"):
        model = HBV(HBVConfig(variant="1.1p", nmul=16, dynamic=("BETA", "K0", "BETAET"), backend=backend))
        params = to_physical(model, unit_params(model, 365, 4, mode="uniform", seed=11, dtype=torch.float32))
        params = {k: v.requires_grad_(True) for k, v in params.items()}
        out = model(year_forcing.float(), params, warmup=30)
        physics = [k for k in params if not k.startswith("route_")]
        grads = torch.autograd.grad(out.fluxes["streamflow_no_rout"].mean(), [params[k] for k in physics])
        results.append((out.fluxes, dict(zip(physics, grads, strict=True))))
    (ref, ref_grads), (cpp, cpp_grads) = results
    for name, want in ref.items():
        assert cpp[name].dtype == torch.float32
        _close(name, cpp[name].detach(), want.detach(), 1e-5, 1e-5 * float(want.abs().max()) + 1e-7)
    for name, want in ref_grads.items():
        _close(f"gradient {name}", cpp_grads[name], want, 1e-3, 1e-4 * float(want.abs().max()))


@pytest.mark.parametrize("nmul", [16, 3])
def test_float32_component_means_of_many_basins(nmul: int) -> None:
    """Flux means over components in float32 (nmul 16: the vectorized 16-basin reduction,
    37 basins = two full groups of 16 and a rest), against the reference loop."""
    forcing, static, dyn, states = _loop_inputs(40, 37, nmul, optional=("BETAET", "C"), dynamic=("BETA",), seed=12)
    with torch.no_grad():
        args32 = (
            forcing.float(),
            {k: v.float() for k, v in static.items()},
            {k: v.float() for k, v in dyn.items()},
            {k: v.float() for k, v in states.items()},
        )
        ref = reference.time_loop(*args32)
        cpp = kernels.time_loop(*args32)
    for name, want in ref.fluxes.items():
        assert cpp.fluxes[name].dtype == torch.float32
        _close(name, cpp.fluxes[name], want, 1e-5, 1e-6 * float(want.abs().max()) + 1e-7)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("nmul", [4, 8, 16])
def test_component_counts_around_the_vector_width(nmul: int, dtype: torch.dtype) -> None:
    """Where nmul equals the native vector width (float64: 8 lanes with AVX-512, 4 with
    AVX2; float32: 16 or 8), the kernel reads each basin's forcing as a broadcast, and
    interleaved lane groups span several basins; other counts go through per-element
    rows. Outputs and the gradients of every input (forcing included) against the
    reference loop, 37 basins (a partial last block)."""
    forcing, static, dyn, states = _loop_inputs(40, 37, nmul, optional=("BETAET", "C"), dynamic=("BETA",), seed=13)
    leaves = [x.detach().to(dtype).requires_grad_(True) for x in (forcing, *static.values(), *dyn.values())]
    forcing_d = leaves[0]
    static_d = dict(zip(static, leaves[1 : 1 + len(static)], strict=True))
    dyn_d = dict(zip(dyn, leaves[1 + len(static) :], strict=True))
    states_d = {k: v.detach().to(dtype) for k, v in states.items()}
    results = []
    for loop in (reference.time_loop, kernels.time_loop):
        out = loop(forcing_d, static_d, dyn_d, states_d)
        loss = out.fluxes["Q"].sum() + 0.5 * out.fluxes["AET"].sum() + out.states["SM"].sum()
        results.append(([v.detach() for v in out.fluxes.values()], torch.autograd.grad(loss, leaves)))
    (ref_out, ref_grads), (cpp_out, cpp_grads) = results
    tight = dtype == torch.float64
    for i, (got, want) in enumerate(zip(cpp_out, ref_out, strict=True)):
        _close(f"flux {i}", got, want, 1e-10 if tight else 1e-5, (1e-10 if tight else 1e-6) * float(want.abs().max()) + 1e-7)
    for i, (got, want) in enumerate(zip(cpp_grads, ref_grads, strict=True)):
        _close(f"gradient {i}", got, want, 1e-8 if tight else 1e-3, (1e-9 if tight else 1e-4) * float(want.abs().max()))


def test_results_do_not_depend_on_the_thread_count() -> None:
    """Basins are split between threads; each basin's arithmetic is the same: bitwise equal results."""
    # 700 basins x 2 components: more than one parallel_for chunk (>= 512 basins each) and blocks.
    forcing, static, dyn, states = _loop_inputs(30, 700, 2, optional=("BETAET", "C"), dynamic=("K0",), seed=9)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out = kernels.time_loop(forcing, static, dyn, states)
            grads = torch.autograd.grad(out.fluxes["Q"].sum() + out.states["SLZ"].sum(), [*static.values()])
            results.append(([v.detach() for v in out.fluxes.values()], grads))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(results[0][0] + list(results[0][1]), results[1][0] + list(results[1][1]), strict=True):
        assert torch.equal(a, b)


def test_unsupported_inputs_are_refused_clearly() -> None:
    forcing, static, dyn, states = _loop_inputs(4, 2, 2, optional=(), dynamic=(), seed=1)
    half = forcing.detach().to(torch.float16)
    with pytest.raises(ValueError, match="float32/float64 CPU tensors.*'auto'"):
        kernels.time_loop(half, static, dyn, states)
    with pytest.raises(ValueError, match=r"missing parameters \['FC'\]"):
        kernels.time_loop(forcing, {k: v for k, v in static.items() if k != "FC"}, dyn, states)


# -- backend selection, memory, pickling ----------------------------------------------------------


def test_auto_selects_cpp_for_cpu_float_and_reference_otherwise() -> None:
    auto = backends.load_backend("auto")
    assert isinstance(auto, backends.AutoLoop)
    assert auto.choose(torch.zeros(2, 2, 3))[0] == "cpp"
    assert auto.choose(torch.zeros(2, 2, 3, dtype=torch.float64))[0] == "cpp"
    assert auto.choose(torch.zeros(2, 2, 3, dtype=torch.float16))[0] == "reference"
    assert HBVConfig(backend="auto").backend == "auto"
    assert "cpp" in backends.backend_names() and "auto" not in backends.backend_names()
    with pytest.raises(ValueError, match="backend must be one of"):
        HBVConfig(backend="fortran")
    with pytest.raises(ValueError, match="reserved"):
        backends.register_backend("auto", "somewhere:else")


def test_auto_skips_a_backend_that_does_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends.BACKENDS, "broken", "no_such_package.kernels:time_loop")
    monkeypatch.setattr(backends, "AUTO_ORDER", ["broken", *backends.AUTO_ORDER])
    with pytest.warns(RuntimeWarning, match="skipping 'broken'"):
        auto = backends.load_backend("auto")
    assert [name for name, _ in auto.candidates] == ["cpp", "reference"]


def test_models_on_compiled_backends_copy_and_pickle() -> None:
    for backend in ("cpp", "auto"):
        model = HBV(HBVConfig(variant="1.1p", nmul=2, backend=backend))
        clone = copy.deepcopy(model)
        restored = pickle.loads(pickle.dumps(model))
        forcing = synthetic_forcing(20, 2, seed=2)
        params = to_physical(model, unit_params(model, 20, 2, seed=2))
        want = model(forcing, params).fluxes["streamflow"]
        for other in (clone, restored):
            assert torch.equal(other(forcing, params).fluxes["streamflow"], want)


def test_buffer_pool_reuses_and_releases_memory() -> None:
    """Large buffers are reused across training steps, never beyond the peak, and can be freed."""
    model = HBV(HBVConfig(variant="1.1p", nmul=16, dynamic=("BETA",), backend="cpp"))
    forcing = synthetic_forcing(365, 40, seed=4, dtype=torch.float32)
    params = to_physical(model, unit_params(model, 365, 40, seed=4, dtype=torch.float32))
    params = {k: v.requires_grad_(True) for k, v in params.items()}

    def step() -> None:
        loss = model(forcing, params).fluxes["streamflow"].mean()
        torch.autograd.grad(loss, list(params.values()))

    kernels.empty_cache()
    step()
    first = kernels.pool_stats()
    assert first["cached"] > 0  # the trajectory (365 * 9 * 640 floats, > 1 MiB) came back
    for _ in range(3):
        step()
    again = kernels.pool_stats()
    assert again["peak"] == first["peak"]  # reused, not reallocated
    assert again["in_use"] + again["cached"] <= again["peak"]
    kernels.empty_cache()
    assert kernels.pool_stats()["cached"] == 0


def test_buffer_pool_follows_a_changing_working_set() -> None:
    """After steps of a smaller size (say, validation batches), steps of the training size
    reuse their buffers again from the second one on: the stale buffers are evicted
    rather than keeping the current ones out, and the pool stays within its peak."""
    model = HBV(HBVConfig(variant="1.1p", nmul=16, dynamic=("BETA",), backend="cpp"))

    def stepper(n_basin: int) -> Callable[[], None]:
        forcing = synthetic_forcing(365, n_basin, seed=5, dtype=torch.float32)
        params = to_physical(model, unit_params(model, 365, n_basin, seed=5, dtype=torch.float32))
        params = {k: v.requires_grad_(True) for k, v in params.items()}

        def step() -> None:
            loss = model(forcing, params).fluxes["streamflow"].mean()
            torch.autograd.grad(loss, list(params.values()))

        return step

    small, large = stepper(12), stepper(40)  # trajectories of 4.2 and 14 MB: pooled
    kernels.empty_cache()
    small()
    small()
    large()
    before = kernels.pool_stats()["allocations"]
    large()
    large()
    stats = kernels.pool_stats()
    assert stats["allocations"] == before, "buffers of the current size were allocated anew"
    assert stats["in_use"] + stats["cached"] <= stats["peak"]
    kernels.empty_cache()


# -- reference data of hydrodl2 on the compiled backend -----------------------------------------


@pytest.fixture(scope="module", params=reference_tests._cases())
def cpp_case(request: pytest.FixtureRequest) -> reference_tests.Case:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reference_tests, "HBVConfig", functools.partial(HBVConfig, backend="cpp"))
        case = reference_tests.Case(request.param)
    assert case.model.config.backend == "cpp"
    return case


@pytest.mark.shared_data
def test_reference_data_every_output_on_cpp(cpp_case: reference_tests.Case) -> None:
    reference_tests.test_every_reference_output_is_produced(cpp_case)


@pytest.mark.shared_data
def test_reference_data_outputs_on_cpp(cpp_case: reference_tests.Case) -> None:
    reference_tests.test_outputs_match(cpp_case)


@pytest.mark.shared_data
def test_reference_data_final_states_on_cpp(cpp_case: reference_tests.Case) -> None:
    reference_tests.test_final_states_match(cpp_case)


@pytest.mark.shared_data
def test_reference_data_losses_on_cpp(cpp_case: reference_tests.Case) -> None:
    reference_tests.test_losses_match(cpp_case)


@pytest.mark.shared_data
@pytest.mark.parametrize("flux", ["streamflow", "streamflow_no_rout"])
def test_reference_data_gradients_on_cpp(cpp_case: reference_tests.Case, flux: str) -> None:
    reference_tests.test_gradients_match(cpp_case, flux)


# -- fallback ---------------------------------------------------------------------------------


def test_failed_build_falls_back_to_reference_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real build attempt with a compiler that does not exist: one warning, reference results."""
    monkeypatch.setattr(loader, "build_directory", lambda: tmp_path / "build")
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    failing = loader.ExtensionLoader()  # the real builder, which now cannot compile
    monkeypatch.setattr(compiled.time_loop, "loader", failing)

    forcing = synthetic_forcing(30, 2, seed=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cpp_model = HBV(HBVConfig(variant="2.0", nmul=2, backend="cpp"))
        auto_model = HBV(HBVConfig(variant="2.0", nmul=2, backend="auto"))
        params = to_physical(cpp_model, unit_params(cpp_model, 30, 2, seed=6))
        attrs = attributes_2_0(2)
        outs = [m(forcing, params, attributes=attrs, warmup=5) for m in (cpp_model, cpp_model, auto_model)]
    kernel_warnings = [w for w in caught if issubclass(w.category, kernels.HBVKernelWarning)]
    assert len(kernel_warnings) == 1, [str(w.message) for w in caught]
    message = str(kernel_warnings[0].message)
    assert "could not be built or loaded" in message and "'reference'" in message
    assert failing.error is not None and not failing.load()
    assert [name for name, _ in backends.load_backend("auto").candidates] == ["reference"]
    want = HBV(HBVConfig(variant="2.0", nmul=2))(forcing, params, attributes=attrs, warmup=5).fluxes
    for out in outs:
        for name, value in want.items():
            assert torch.equal(out.fluxes[name], value)

