"""Compiled gamma unit-hydrograph routing: :func:`compiled_route`, a drop-in for
:func:`delta_hydro.hbv.routing.route`.

The routing of the δHBV models (Feng et al. 2022, WRR 58:e2022WR032404) convolves each
basin's unrouted runoff causally with its unit hydrograph:

    y[n, t, e] = Σ_{k=0}^{min(L-1, t)} w[k, e] · x[n, t-k, e]

The reference does this with a grouped ``conv1d`` over a transposed, padded copy of the
series; its backward pass costs more than the rest of the routing and a sizeable share
of a training step. Here the operators ``torch.ops.delta_hbv.route_forward`` and
``torch.ops.delta_hbv.route_backward`` (``route_cpu.cpp``, compiled into the same
library as the HBV loop by :mod:`.loader`) work on the ``[n, time, entity]`` layout
directly, vectorized over entities, and the backward pass computes the gradients with
respect to the series and to the weights in one sweep, only those that are needed.

Results equal the reference's up to rounding (the summation order differs) and do not
depend on the number of threads. Double backward is not supported (the backward is
not itself differentiable; ``once_differentiable`` says so).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import FunctionCtx, once_differentiable

from delta_hydro.hbv import routing
from delta_hydro.hbv.kernels.loader import LOADER

DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)
"""Dtypes the compiled routing runs (CPU tensors only)."""


class _Route(torch.autograd.Function):
    """Autograd wrapper of the two operators; series ``[n, T, E]``, weights ``[L, E]``, contiguous."""

    @staticmethod
    def forward(ctx: FunctionCtx, series: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(series, weights)
        return torch.ops.delta_hbv.route_forward(series, weights)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        series, weights = ctx.saved_tensors
        need_series, need_weights = bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])
        grad_series, grad_weights = torch.ops.delta_hbv.route_backward(
            grad.contiguous(), series, weights, need_series, need_weights
        )
        return (grad_series if need_series else None, grad_weights if need_weights else None)


def supports(series: torch.Tensor, weights: torch.Tensor) -> bool:
    """Inputs the compiled routing runs: CPU tensors, float32 or float64.

    Parameters
    ----------
    series, weights
        The arguments of :func:`compiled_route`.

    Returns
    -------
    bool
        ``True`` if both tensors are on the CPU with dtype float32 or float64.
    """
    return all(t.device.type == "cpu" and t.dtype in DTYPES for t in (series, weights))


def compiled_route(series: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Causal convolution of one or more series with per-entity unit hydrographs (compiled).

    Same arguments, result and gradients (up to rounding) as
    :func:`delta_hydro.hbv.routing.route`, which it calls instead when the compiled
    library cannot be loaded (after one
    :class:`~delta_hydro.hbv.kernels.loader.HBVKernelWarning`) or when the tensors are
    not float32/float64 CPU tensors. The library is the one of the ``cpp`` HBV backend
    (:data:`~delta_hydro.hbv.kernels.loader.LOADER`), built on first use.

    Parameters
    ----------
    series
        ``[time, entity]`` or ``[n_series, time, entity]`` inflow (mm/day); entity is the
        fastest-varying index. Copied only if not contiguous.
    weights
        ``[L, entity]`` unit-hydrograph ordinates (dimensionless, each column summing to
        1, from :func:`delta_hydro.hbv.routing.gamma_unit_hydrograph`), lag ``k`` (days)
        in row ``k``; ``L >= 1`` and may exceed ``time`` (lags beyond the window
        contribute nothing). Same dtype as ``series``.

    Returns
    -------
    torch.Tensor
        Routed series (mm/day), same shape as ``series``:
        ``y[..., t, e] = Σ_{k=0}^{min(L-1, t)} weights[k, e] · series[..., t-k, e]``.

    Raises
    ------
    RuntimeError
        From the operator, naming the problem, if shapes or dtypes do not match
        (``series`` not 2-D/3-D, ``weights`` not ``[L, entity]`` with ``L >= 1``,
        different dtypes).
    """
    if not supports(series, weights) or not LOADER.load():
        return routing.route(series, weights)
    single = series.ndim == 2
    x = (series.unsqueeze(0) if single else series).contiguous()  # no copy when already contiguous
    w = weights.contiguous()
    if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad):
        y = _Route.apply(x, w)
    else:
        y = torch.ops.delta_hbv.route_forward(x, w)
    return y[0] if single else y
