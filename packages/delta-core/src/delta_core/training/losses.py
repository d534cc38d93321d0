"""Built-in losses; all mask missing observations (NaN) instead of filling them.

Shapes: ``simulated`` and ``observed`` are ``[time, batch]`` in the target's units.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from delta_core.interfaces.loss import Loss
from delta_core.training.config import CombinedRMSEConfig, NSEBatchConfig


class LossInputError(ValueError):
    """Simulated and observed tensors that cannot be compared."""


def _valid(simulated: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    if simulated.shape != observed.shape:
        raise LossInputError(f"simulated {tuple(simulated.shape)} and observed {tuple(observed.shape)} differ")
    mask = torch.isfinite(observed)
    if not bool(mask.any()):
        raise LossInputError("no observation in the batch: every target value is NaN")
    return mask


def _sqrt0(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(x)`` for ``x >= 0`` with gradient 0 (not NaN) where ``x == 0``, as at a perfect fit."""
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), x * 0)


class RMSELoss(Loss):
    """Root mean square error over all valid (time, batch) pairs."""

    def forward(self, simulated: torch.Tensor, observed: torch.Tensor,
                context: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        mask = _valid(simulated, observed)
        return _sqrt0(torch.mean((simulated[mask] - observed[mask]) ** 2))


class NSEBatchLoss(Loss):
    """Squared error scaled by each entity's flow variance (Kratzert et al. 2019, HESS 23:5089).

    ``mean((s - o)² / (σ_b + eps)²)`` where ``σ_b`` is the standard deviation of entity
    ``b``'s observations over the training period, given as ``context["target_std"]``
    ``[batch]``: every basin weighs the same whatever its flow magnitude.
    """

    def __init__(self, config: NSEBatchConfig | None = None) -> None:
        super().__init__(config or NSEBatchConfig())

    def forward(self, simulated: torch.Tensor, observed: torch.Tensor,
                context: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        mask = _valid(simulated, observed)
        if context is None or "target_std" not in context:
            raise LossInputError("core.nse_batch needs context['target_std'] [batch] (training-period std)")
        std = context["target_std"].to(simulated)
        weight = (1.0 / (std + self.config.eps) ** 2).expand_as(simulated)
        # index before arithmetic: NaN targets must not enter the graph (0 * NaN gradients are NaN)
        return ((simulated[mask] - observed[mask]) ** 2 * weight[mask]).mean()


class KGELoss(Loss):
    """``mean over entities of (1 - KGE)`` on each window (Gupta et al. 2009).

    Entities with fewer than two observations in the window, or with constant
    observations (a dry stream), have no defined KGE and are left out of the mean.
    """

    def forward(self, simulated: torch.Tensor, observed: torch.Tensor,
                context: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        mask = _valid(simulated, observed)
        m = mask.to(simulated.dtype)
        n = m.sum(0).clamp(min=1)
        o = torch.where(mask, observed, torch.zeros_like(observed))
        s = simulated * m
        mo, ms = o.sum(0) / n, s.sum(0) / n
        do, ds = (o - mo) * m, (s - ms) * m
        so, ss = torch.sqrt((do**2).sum(0) / n + 1e-12), torch.sqrt((ds**2).sum(0) / n + 1e-12)
        r = (do * ds).sum(0) / n / (so * ss)
        kge = 1 - _sqrt0((r - 1) ** 2 + (ss / so - 1) ** 2 + (ms / (mo + 1e-12) - 1) ** 2)
        o_max = torch.where(mask, observed, torch.full_like(observed, -torch.inf)).amax(0)
        o_min = torch.where(mask, observed, torch.full_like(observed, torch.inf)).amin(0)
        keep = (mask.sum(0) >= 2) & (o_max > o_min)
        if not bool(keep.any()):
            raise LossInputError("core.kge needs an entity with at least two different observations in the batch")
        return (1 - kge[keep]).mean()


class CombinedRMSELoss(Loss):
    """``(1 - w)·RMSE(q) + w·RMSE(log10(√q + 0.1))``: high and low flows both count."""

    def __init__(self, config: CombinedRMSEConfig | None = None) -> None:
        super().__init__(config or CombinedRMSEConfig())

    def forward(self, simulated: torch.Tensor, observed: torch.Tensor,
                context: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        mask = _valid(simulated, observed)
        s, o = simulated[mask], observed[mask]
        plain = _sqrt0(torch.mean((s - o) ** 2))
        log_s = torch.log10(torch.sqrt(s.clamp(min=0) + 1e-6) + 0.1)
        log_o = torch.log10(torch.sqrt(o.clamp(min=0) + 1e-6) + 0.1)
        logged = _sqrt0(torch.mean((log_s - log_o) ** 2))
        w = self.config.log_weight
        return (1 - w) * plain + w * logged
