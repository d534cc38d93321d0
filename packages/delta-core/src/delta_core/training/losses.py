"""Built-in losses; all mask missing observations (NaN) instead of filling them.

Shapes: ``simulated`` and ``observed`` are ``[time, batch]`` in the target's units.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


class RMSELoss(Loss):
    """Root mean square error over all valid (time, batch) pairs."""

    def forward(self, simulated: torch.Tensor, observed: torch.Tensor,
                context: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        mask = _valid(simulated, observed)
        return torch.sqrt(torch.mean((simulated[mask] - observed[mask]) ** 2))


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
    """``mean over entities of (1 - KGE)`` on each window (Gupta et al. 2009)."""

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
        kge = 1 - torch.sqrt((r - 1) ** 2 + (ss / so - 1) ** 2 + (ms / (mo + 1e-12) - 1) ** 2)
        keep = mask.sum(0) >= 2
        return (1 - kge[keep]).mean()


class CombinedRMSELoss(Loss):
    """``(1 - w)·RMSE(q) + w·RMSE(log10(√q + 0.1))``: high and low flows both count."""

    def __init__(self, config: CombinedRMSEConfig | None = None) -> None:
        super().__init__(config or CombinedRMSEConfig())

    def forward(self, simulated: torch.Tensor, observed: torch.Tensor,
                context: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        mask = _valid(simulated, observed)
        s, o = simulated[mask], observed[mask]
        plain = torch.sqrt(torch.mean((s - o) ** 2))
        log_s = torch.log10(torch.sqrt(s.clamp(min=0) + 1e-6) + 0.1)
        log_o = torch.log10(torch.sqrt(o.clamp(min=0) + 1e-6) + 0.1)
        logged = torch.sqrt(torch.mean((log_s - log_o) ** 2))
        w = self.config.log_weight
        return (1 - w) * plain + w * logged


def make_loss(cls: Any, params: Any) -> Loss:
    """Instantiate a loss class with its params (``None`` for losses without options)."""
    return cls(params) if params is not None else cls()
