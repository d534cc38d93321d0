"""Gamma unit-hydrograph routing of the δHBV models (Feng et al. 2022, WRR 58:e2022WR032404).

The unrouted, component-averaged runoff of each basin is convolved causally with a
discrete two-parameter gamma unit hydrograph: with shape ``a = relu(route_a) + 0.1`` and
scale ``theta = relu(route_b) + 0.5`` (days), the weights are

    w_k ∝ t_k^(a - 1) · exp(-t_k / theta),   t_k = k + 0.5,   k = 0 .. L - 1,

normalised to sum 1, and the routed series is ``y_t = Σ_k w_k · x_(t-k)`` (values before
the window start count as zero).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gamma_unit_hydrograph(route_a: torch.Tensor, route_b: torch.Tensor, length: int) -> torch.Tensor:
    """Weights of the gamma unit hydrograph, ``[length, entity]``, each column summing to 1.

    Parameters
    ----------
    route_a, route_b
        ``[entity]`` routing parameters (dimensionless shape offset; scale offset in days).
    length
        Number of daily ordinates ``L`` (>= 1).
    """
    if length < 1:
        raise ValueError(f"unit hydrograph length must be >= 1, got {length}")
    shape = F.relu(route_a) + 0.1
    scale = F.relu(route_b) + 0.5
    t = torch.arange(length, dtype=route_a.dtype, device=route_a.device).unsqueeze(1) + 0.5
    # log of t^(a-1) exp(-t/theta); the gamma normalisation 1/(Γ(a) θ^a) cancels in the
    # normalisation to unit sum, which softmax over the lags does stably.
    log_w = (shape - 1.0) * torch.log(t) - t / scale
    return torch.softmax(log_w, dim=0)


def route(series: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Causal convolution of one or more series with per-entity unit hydrographs.

    Parameters
    ----------
    series
        ``[time, entity]`` or ``[n_series, time, entity]`` inflow (mm/day).
    weights
        ``[L, entity]`` unit-hydrograph ordinates from :func:`gamma_unit_hydrograph`.

    Returns
    -------
    torch.Tensor
        Routed series, same shape as ``series``.
    """
    single = series.ndim == 2
    x = series.unsqueeze(0) if single else series  # [n, time, entity]
    n_lag, n_entity = weights.shape
    x = x.permute(0, 2, 1)  # [n, entity, time]: entities as conv channels
    x = F.pad(x, (n_lag - 1, 0))  # zeros before the window: causal
    kernel = torch.flip(weights.t(), dims=[1]).unsqueeze(1)  # [entity, 1, L], lag reversed
    y = F.conv1d(x, kernel, groups=n_entity).permute(0, 2, 1)
    return y[0] if single else y
