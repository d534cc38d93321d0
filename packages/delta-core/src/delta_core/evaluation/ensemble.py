"""Ensembles of trained runs: member simulations, weighted mean and spread, member metrics.

A *model handler* for several trained differentiable models — several seeds, several
networks, or different PhyModels (HBV 1.0 and 1.1p side by side) — run on the same
period of the same dataset. The ensemble output is the weighted mean of the members'
output; the spread is the weighted standard deviation across members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from delta_core.evaluation.report import load_run, metrics_for
from delta_core.evaluation.simulate import PeriodResult, metric_table, simulate_period
from delta_core.plugins.registry import Registry
from delta_core.training.build import warmup_of
from delta_core.training.errors import TrainingError
from delta_core.training.trainer import period_range


@attrs.define
class EnsembleResult:
    """Members and their combination for one output.

    Attributes
    ----------
    members
        Each run's simulation, in the order given.
    output
        The output variable combined (e.g. ``streamflow``).
    mean, spread
        ``[time, entity]`` weighted mean and standard deviation across members.
    weights
        Normalised member weights (sum 1).
    """

    members: list[PeriodResult]
    output: str
    mean: np.ndarray
    spread: np.ndarray
    weights: np.ndarray

    @property
    def observed(self) -> np.ndarray | None:
        """``[time, entity, n_target]`` observations (identical for every member)."""
        return self.members[0].observed


def combine(
    series: Sequence[np.ndarray], weights: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of equally shaped member arrays.

    Returns ``(mean, spread, normalised weights)``; weights must be non-negative with a
    positive sum.
    """
    stack = np.stack([np.asarray(s, dtype=np.float64) for s in series])
    w = np.ones(len(series)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(series),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {len(series)} non-negative numbers with a positive sum, got {list(w)}")
    w = w / w.sum()
    mean = np.tensordot(w, stack, axes=1)
    spread = np.sqrt(np.tensordot(w, (stack - mean) ** 2, axes=1))
    return mean, spread, w


def run_ensemble(
    run_dirs: Sequence[Path], registry: Registry, *, period: str = "test", checkpoint: str = "best",
    weights: Sequence[float] | None = None, device: str = "cpu", chunk_size: int = 100,
) -> EnsembleResult:
    """Simulate ``period`` with every run and combine their first trained output.

    Raises
    ------
    TrainingError
        If the runs do not cover the same entities and days, or disagree on the output.
    """
    members, outputs = [], []
    for run_dir in run_dirs:
        loaded = load_run(run_dir, registry, checkpoint)
        rng = period_range(loaded.dataset, loaded.experiment, period)
        model = loaded.model.to(torch.device(device))
        members.append(simulate_period(model, loaded.dataset, rng, warmup_of(loaded.experiment),
                                       chunk_size=chunk_size, device=device))
        outputs.append(loaded.outputs[0])
    first = members[0]
    for run_dir, m, out in zip(run_dirs, members, outputs, strict=True):
        if m.entity_ids != first.entity_ids or not np.array_equal(m.times, first.times):
            raise TrainingError(f"{run_dir}: covers other entities or days than {run_dirs[0]}; cannot ensemble")
        if out != outputs[0]:
            raise TrainingError(f"{run_dir}: trained on output {out!r}, {run_dirs[0]} on {outputs[0]!r}")
    mean, spread, w = combine([m.fluxes[outputs[0]] for m in members], weights)
    return EnsembleResult(members, outputs[0], mean, spread, w)


def ensemble_metrics(result: EnsembleResult, metrics: Mapping[str, object]) -> dict[str, dict[str, np.ndarray]]:
    """Per-entity metrics of every member (``member_<i>``) and of the ensemble mean (``ensemble``)."""
    obs = result.observed
    if obs is None:
        raise TrainingError("the dataset has no target: nothing to score the ensemble against")
    tables = {}
    for i, member in enumerate(result.members):
        tables[f"member_{i}"] = metric_table(member.fluxes[result.output], obs[..., 0], metrics)  # type: ignore[arg-type]
    tables["ensemble"] = metric_table(result.mean, obs[..., 0], metrics)  # type: ignore[arg-type]
    return tables


__all__ = ["EnsembleResult", "combine", "ensemble_metrics", "metrics_for", "run_ensemble"]
