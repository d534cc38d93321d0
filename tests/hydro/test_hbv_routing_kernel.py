"""The compiled unit-hydrograph routing (``route_cpu.cpp``) against ``routing.route``.

* forward and gradients (w.r.t. series and weights) agree with the grouped-conv1d
  reference: float64 to 1e-12, float32 to 1e-5 relative, for ``[T, E]`` and
  ``[n, T, E]`` series, L = 1, L > T, T = 1, entity counts that fill whole vector
  chunks or leave a partial one, and windows spanning several time tiles;
* ``torch.autograd.gradcheck`` in float64;
* only the series or only the weights requiring gradients;
* results independent of the number of threads;
* errors on bad shapes, dtypes and layouts; the fallback to ``routing.route``.

The module is skipped when the compiled library cannot be built or loaded here
(``tests/hydro/test_hbv_kernel.py`` is the test that fails in that case).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from delta_hydro.hbv import kernels, routing
from delta_hydro.hbv.kernels import loader
from delta_hydro.hbv.kernels import routing as kernel_routing
from delta_hydro.hbv.kernels.routing import compiled_route


@pytest.fixture(scope="module", autouse=True)
def compiled_kernel() -> None:
    """Build/load the extension once; skip the module if it cannot be."""
    if not kernels.is_available():
        pytest.skip(f"the compiled HBV library did not build or load: {loader.LOADER.error!r}")


RTOL = {torch.float64: 1e-12, torch.float32: 1e-5}


def _inputs(
    n: int | None, n_time: int, n_entity: int, n_lag: int, dtype: torch.dtype, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Runoff-like series (mm/day, >= 0), gamma unit hydrographs and a signed upstream gradient."""
    gen = torch.Generator().manual_seed(seed)
    shape = (n_time, n_entity) if n is None else (n, n_time, n_entity)
    series = (torch.rand(shape, generator=gen, dtype=torch.float64) * 10.0).to(dtype)
    a = torch.rand(n_entity, generator=gen, dtype=torch.float64) * 3.0
    b = torch.rand(n_entity, generator=gen, dtype=torch.float64) * 7.0
    weights = routing.gamma_unit_hydrograph(a, b, n_lag).to(dtype)
    grad = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    return series, weights, grad


def _close(name: str, got: torch.Tensor, want: torch.Tensor, rtol: float) -> None:
    """Elementwise to ``rtol``, with an absolute floor of ``rtol`` times the largest value."""
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    atol = rtol * float(want.abs().max()) if want.numel() else 0.0
    torch.testing.assert_close(got, want, rtol=rtol, atol=atol, msg=lambda m: f"{name}: {m}")


def _forward_backward(
    fn: object, series: torch.Tensor, weights: torch.Tensor, grad: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = series.clone().requires_grad_(True)
    w = weights.clone().requires_grad_(True)
    y = fn(x, w)  # type: ignore[operator]
    gx, gw = torch.autograd.grad(y, (x, w), grad)
    return y.detach(), gx, gw


SHAPES = [
    # (n or None for [T, E], T, E, L)
    (None, 40, 5, 15),
    (None, 1, 7, 15),  # T = 1
    (1, 1, 1, 1),
    (2, 5, 3, 15),  # L > T
    (3, 50, 17, 1),  # L = 1
    (2, 97, 33, 9),  # partial last chunk, several time tiles
    (4, 130, 64, 15),  # whole chunks only (16 float32 / 8 float64 lanes)
    (2, 300, 40, 40),  # long unit hydrograph, lag blocks of several sizes
    (1, 16, 300, 15),  # several entity groups
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("n", "n_time", "n_entity", "n_lag"), SHAPES)
def test_matches_reference(n: int | None, n_time: int, n_entity: int, n_lag: int, dtype: torch.dtype) -> None:
    series, weights, grad = _inputs(n, n_time, n_entity, n_lag, dtype)
    y_ref, gx_ref, gw_ref = _forward_backward(routing.route, series.double(), weights.double(), grad.double())
    y, gx, gw = _forward_backward(compiled_route, series, weights, grad)
    rtol = RTOL[dtype]
    _close("routed series", y, y_ref.to(dtype), rtol)
    _close("gradient w.r.t. series", gx, gx_ref.to(dtype), rtol)
    _close("gradient w.r.t. weights", gw, gw_ref.to(dtype), rtol)
    with torch.no_grad():
        _close("routed series (no grad)", compiled_route(series, weights), y_ref.to(dtype), rtol)


def test_gradcheck() -> None:
    for n, n_time, n_entity, n_lag in ((2, 7, 3, 4), (1, 3, 18, 5)):
        series, weights, _ = _inputs(n, n_time, n_entity, n_lag, torch.float64, seed=n_time)
        x = series.requires_grad_(True)
        w = weights.requires_grad_(True)
        assert torch.autograd.gradcheck(compiled_route, (x, w))


@pytest.mark.parametrize("which", ["series", "weights"])
def test_gradient_to_one_input_only(which: str) -> None:
    series, weights, grad = _inputs(2, 60, 20, 15, torch.float64)
    _, gx_ref, gw_ref = _forward_backward(routing.route, series, weights, grad)
    x = series.clone().requires_grad_(which == "series")
    w = weights.clone().requires_grad_(which == "weights")
    y = compiled_route(x, w)
    (got,) = torch.autograd.grad(y, (x if which == "series" else w,), grad)
    _close(f"gradient w.r.t. {which}", got, gx_ref if which == "series" else gw_ref, 1e-12)
    # The operator computes only what is asked for.
    gx, gw = torch.ops.delta_hbv.route_backward(grad, series, weights, which == "series", which == "weights")
    assert (gx.numel() == 0) == (which == "weights")
    assert (gw.numel() == 0) == (which == "series")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_series_without_upstream_gradient_are_skipped_exactly(dtype: torch.dtype) -> None:
    """HBV routes four flux series and the loss usually reaches one: series whose upstream
    gradient is all zero get a zero gradient and add nothing to the weights' gradient,
    as in the reference; a single non-zero value (here on the last step) is not missed."""
    series, weights, grad = _inputs(4, 120, 37, 15, dtype)
    grad[0] = 0
    grad[2] = 0
    grad[3] = 0
    grad[3, -1, 5] = 1.5
    _, gx_ref, gw_ref = _forward_backward(routing.route, series.double(), weights.double(), grad.double())
    _, gx, gw = _forward_backward(compiled_route, series, weights, grad)
    assert torch.equal(gx[0], torch.zeros_like(gx[0])) and torch.equal(gx[2], torch.zeros_like(gx[2]))
    rtol = RTOL[dtype]
    _close("gradient w.r.t. series", gx, gx_ref.to(dtype), rtol)
    _close("gradient w.r.t. weights", gw, gw_ref.to(dtype), rtol)


def test_no_gradient_needed_runs_without_autograd() -> None:
    series, weights, _ = _inputs(2, 30, 6, 15, torch.float32)
    y = compiled_route(series, weights)
    assert not y.requires_grad
    assert y.grad_fn is None


def test_non_contiguous_inputs() -> None:
    series, weights, grad = _inputs(3, 40, 11, 6, torch.float64)
    y_ref, gx_ref, gw_ref = _forward_backward(routing.route, series, weights, grad)
    x_t = series.transpose(0, 1).contiguous().transpose(0, 1)  # same values, not contiguous
    w_t = weights.t().contiguous().t()
    assert not x_t.is_contiguous() and not w_t.is_contiguous()
    y, gx, gw = _forward_backward(compiled_route, x_t, w_t, grad)
    _close("routed series", y, y_ref, 1e-12)
    _close("gradient w.r.t. series", gx, gx_ref, 1e-12)
    _close("gradient w.r.t. weights", gw, gw_ref, 1e-12)


def test_results_do_not_depend_on_threads() -> None:
    series, weights, grad = _inputs(2, 200, 300, 15, torch.float32)
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            results.append(_forward_backward(compiled_route, series, weights, grad))
    finally:
        torch.set_num_threads(threads)
    for got, want in zip(results[1], results[0], strict=True):
        assert torch.equal(got, want)


def test_empty_window_and_no_entities() -> None:
    for shape, n_entity in (((2, 0, 4), 4), ((2, 5, 0), 0)):
        series = torch.zeros(shape, requires_grad=True)
        weights = torch.full((3, n_entity), 1.0 / 3.0, requires_grad=True)
        y = compiled_route(series, weights)
        assert y.shape == shape
        gx, gw = torch.autograd.grad(y.sum(), (series, weights), allow_unused=True)
        assert gx is not None and gx.shape == shape
        assert gw is not None and torch.equal(gw, torch.zeros_like(weights))


def test_bad_inputs_raise() -> None:
    op = torch.ops.delta_hbv
    x = torch.rand(2, 10, 4)
    w = torch.rand(5, 4)
    with pytest.raises(RuntimeError, match=r"weights \[L, E\] have E = 3"):
        compiled_route(x, torch.rand(5, 3))
    with pytest.raises(RuntimeError, match=r"series must be \[n, T, E\]"):
        op.route_forward(x[0], w)
    with pytest.raises(RuntimeError, match=r"weights must be \[L, E\]"):
        op.route_forward(x, w[0])
    with pytest.raises(RuntimeError, match=r"L >= 1"):
        compiled_route(x, torch.rand(0, 4))
    with pytest.raises(RuntimeError, match="weights have dtype"):
        compiled_route(x, w.double())
    with pytest.raises(RuntimeError, match="contiguous"):
        op.route_forward(x.transpose(0, 1), w)
    with pytest.raises(RuntimeError, match="grad has shape"):
        op.route_backward(torch.rand(2, 9, 4), x, w, True, True)
    with pytest.raises(RuntimeError, match="float32 or float64"):
        op.route_forward(x.half(), w.half())


def test_fallback_to_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    series, weights, _ = _inputs(2, 30, 6, 15, torch.float64)
    want = routing.route(series, weights)

    def fail() -> None:
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(kernel_routing, "LOADER", loader.ExtensionLoader(builder=fail))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = compiled_route(series, weights)
        compiled_route(series, weights)
    assert torch.equal(got, want)
    assert sum(issubclass(w.category, loader.HBVKernelWarning) for w in caught) == 1
    monkeypatch.undo()
    # Inputs the kernel does not run (here bfloat16) go to the reference without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = compiled_route(series.bfloat16(), weights.bfloat16())
    assert torch.equal(got, routing.route(series.bfloat16(), weights.bfloat16()))
