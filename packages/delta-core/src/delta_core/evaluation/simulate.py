"""Run a trained model over whole periods, entity chunk by entity chunk."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np
import torch

from delta_core.data.periods import TimeRange
from delta_core.data.sampling import entity_chunks
from delta_core.interfaces.dataset import Dataset
from delta_core.interfaces.dmodel import DModel
from delta_core.interfaces.metric import Metric


@attrs.define
class PeriodResult:
    """Simulation of a period for every entity.

    Attributes
    ----------
    times
        ``[time]`` days of the period.
    entity_ids
        Entity ids in column order.
    fluxes
        PhyModel outputs: ``[time, entity]`` series or ``[entity]`` values.
    parameters
        Physical parameters used: static ``[entity, ...]``, dynamic ``[time, entity, ...]``.
    observed
        ``[time, entity, n_target]`` targets of the period (NaN = missing), if any.
    states
        Final states at the end of the period by name, ``[entity, n_components]``.
    """

    times: np.ndarray
    entity_ids: list[str]
    fluxes: dict[str, np.ndarray]
    parameters: dict[str, np.ndarray]
    observed: np.ndarray | None
    states: dict[str, np.ndarray] = attrs.field(factory=dict)


def dynamic_parameter_names(model: DModel) -> frozenset[str]:
    """Names of the parameters the PhyModels of ``model`` take as time series."""
    phy = getattr(model, "phy", None)
    if phy is None:
        return frozenset()
    return frozenset(name for m in phy.values() for name in getattr(m, "dynamic_params", ()))


@torch.no_grad()
def simulate_period(
    model: DModel,
    dataset: Dataset,
    period: TimeRange,
    warmup: int,
    *,
    chunk_size: int = 100,
    entities: Sequence[int] | None = None,
    device: torch.device | str = "cpu",
    progress: Iterable[int] | None = None,
) -> PeriodResult:
    """Simulate ``period`` (after ``warmup`` spin-up steps before it) for every entity.

    Parameters
    ----------
    model
        The trained differentiable model (put in eval mode here).
    dataset
        Provides the samples; its normalisation statistics must be set.
    period
        Positions of the period on the dataset's time axis.
    warmup
        Spin-up steps taken from before ``period.start`` (must exist in the data).
    chunk_size
        Entities per forward pass.
    entities
        Entity positions to simulate (default: all).
    progress
        Optional wrapper (e.g. ``tqdm``) around the chunk iterator.
    """
    was_training = model.training
    model.eval()
    positions = np.arange(len(dataset.entity_ids)) if entities is None else np.asarray(entities)
    start = period.start - warmup
    length = period.length + warmup
    parts: list[tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None,
                      dict[str, np.ndarray]]] = []
    chunks = list(entity_chunks(len(positions), chunk_size))
    dynamic = dynamic_parameter_names(model)
    for chunk in progress(chunks) if progress is not None else chunks:  # type: ignore[operator]
        idx = positions[chunk]
        sample = {k: v.to(device) for k, v in dataset.sample(idx, start, length).items()}
        out = model(sample)
        skip = warmup - out.warmup  # a model that already dropped its own warm-up
        fluxes = {k: (v[skip:] if v.ndim >= 2 else v).float().cpu().numpy() for k, v in out.fluxes.items()}
        params = {}
        for k, v in out.parameters.items():
            v = v.float().cpu().numpy()
            # dynamic: [time, entity(, comp)] over the whole input window; static: [entity(, comp)]
            params[k] = v[warmup:] if k in dynamic or v.ndim == 3 else v
        obs = sample["target"][warmup:].cpu().numpy() if "target" in sample else None
        states = {k: v.float().cpu().numpy() for k, v in out.states.items()}
        parts.append((idx, fluxes, params, obs, states))
    model.train(was_training)

    # entity axis: 1 for series ([time, entity] fluxes, [time, entity(, comp)] dynamic parameters), else 0
    fluxes = {k: np.concatenate([p[1][k] for p in parts], axis=1 if parts[0][1][k].ndim == 2 else 0)
              for k in parts[0][1]}
    params = {k: np.concatenate([p[2][k] for p in parts], axis=1 if k in dynamic or parts[0][2][k].ndim == 3 else 0)
              for k in parts[0][2]}
    observed = np.concatenate([p[3] for p in parts], axis=1) if parts[0][3] is not None else None
    states = {k: np.concatenate([p[4][k] for p in parts], axis=0) for k in parts[0][4]}
    ids = [dataset.entity_ids[i] for i in positions]
    return PeriodResult(dataset.times[period.start : period.stop], ids, fluxes, params, observed, states)


def metric_table(sim: np.ndarray, obs: np.ndarray, metrics: Mapping[str, Metric]) -> dict[str, np.ndarray]:
    """Every metric per entity: ``{name: [entity]}`` for ``[time, entity]`` arrays."""
    return {name: np.asarray(metric(sim, obs), dtype=np.float64) for name, metric in metrics.items()}


def table_csv(entity_ids: Sequence[str], columns: Mapping[str, np.ndarray], id_name: str = "entity") -> str:
    """CSV text with one row per entity (ids kept as strings)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([id_name, *columns])
    for i, entity in enumerate(entity_ids):
        writer.writerow([entity, *(f"{columns[c][i]:.6g}" for c in columns)])
    return out.getvalue()


def median_summary(columns: Mapping[str, np.ndarray]) -> str:
    """Plain-text table of the median (and 25/75 % quantiles) of each metric over entities."""
    lines = [f"{'metric':<12}{'median':>10}{'p25':>10}{'p75':>10}{'n':>6}"]
    for name, values in columns.items():
        finite = values[np.isfinite(values)]
        if finite.size:
            q25, q50, q75 = np.percentile(finite, [25, 50, 75])
            lines.append(f"{name:<12}{q50:>10.3f}{q25:>10.3f}{q75:>10.3f}{finite.size:>6}")
        else:
            lines.append(f"{name:<12}{'nan':>10}{'':>10}{'':>10}{0:>6}")
    return "\n".join(lines)
