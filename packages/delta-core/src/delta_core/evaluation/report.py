"""Evaluate a finished run: per-entity metrics, median table, parameter recovery.

Used by ``delta test RUN`` and at the end of ``delta train``. Results go to
``RUN/test/`` (``metrics_<period>.csv``, ``summary_<period>.txt``, and
``recovery_<period>.csv`` when the dataset stores true parameters as ``true_<NAME>``,
as synthetic datasets do).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from delta_core.config.load import load_experiment
from delta_core.config.schema import ExperimentConfig
from delta_core.data.normalize import Normalizer
from delta_core.evaluation.metrics import KGE, NSE, RMSE, Bias, KGEAlpha, KGEBeta, PearsonR, PercentBias, pearson_r
from delta_core.evaluation.simulate import PeriodResult, median_summary, metric_table, simulate_period, table_csv
from delta_core.interfaces.dataset import Dataset
from delta_core.interfaces.dmodel import DModel
from delta_core.interfaces.metric import Metric
from delta_core.plugins.registry import Registry
from delta_core.training.build import build_dataset, build_model, instantiate, warmup_of
from delta_core.training.errors import TrainingError
from delta_core.training.run_dir import RunDir, atomic_write_text
from delta_core.training.trainer import period_range

DEFAULT_METRICS: dict[str, type[Metric]] = {
    "NSE": NSE, "KGE": KGE, "r": PearsonR, "alpha": KGEAlpha, "beta": KGEBeta, "RMSE": RMSE, "bias": Bias,
    "pbias": PercentBias,
}


@attrs.define
class LoadedRun:
    """A run directory brought back to life: configuration, dataset and trained model."""

    run: RunDir
    experiment: ExperimentConfig
    dataset: Dataset
    model: DModel
    outputs: tuple[str, ...]
    checkpoint: dict[str, Any]


def load_run(run_dir: Path, registry: Registry, checkpoint: str = "best", data: Any = None) -> LoadedRun:
    """Rebuild the dataset and model of ``run_dir`` and load the weights of ``checkpoint``.

    Parameters
    ----------
    checkpoint
        ``best`` (falls back to ``last`` when the run had no validation), ``last`` or an epoch.
    data
        Replacement ``data`` section (e.g. another store for ``delta simulate``).
    """
    run = RunDir(run_dir)
    experiment = load_experiment(run.path / "config.yaml", registry)
    if data is not None:
        experiment = attrs.evolve(experiment, data=data)
    dataset = build_dataset(registry, experiment)
    norm = run.path / "normalization.json"
    if norm.is_file():
        dataset.set_normalizer(Normalizer.load(norm))
    model = build_model(registry, experiment, dataset)
    which = checkpoint
    if which == "best" and not run.checkpoint_path("best").is_file():
        which = "last"
    state = run.load_checkpoint(which)
    model.load_state_dict(state["model"])
    return LoadedRun(run, experiment, dataset, model, tuple(state["outputs"]), state)


def metrics_for(registry: Registry, experiment: ExperimentConfig) -> dict[str, Metric]:
    """The experiment's ``metrics`` sections, or the core default set."""
    if not experiment.metrics:
        return {name: cls() for name, cls in DEFAULT_METRICS.items()}
    out = {}
    for section in experiment.metrics:
        metric = instantiate(registry, section)
        out[metric.name or section.name] = metric
    return out


def parameter_recovery(result: PeriodResult, dataset: Dataset) -> dict[str, tuple[float, float]]:
    """Correlation and median relative error of learned vs true static parameters.

    Uses variables ``true_<NAME>`` of the dataset's store (``[entity]``); learned
    parameters are averaged over components. Returns ``{name: (r, median |rel err|)}``.
    """
    data = getattr(dataset, "_data", None)
    positions = getattr(dataset, "_positions", None)
    if data is None or positions is None:
        return {}
    out = {}
    for name, learned in result.parameters.items():
        key = f"true_{name}"
        if key not in data.variables or learned.ndim == 3:
            continue
        truth = np.asarray(data[key].values, dtype=np.float64)[positions]
        est = learned.reshape(learned.shape[0], -1).mean(axis=1).astype(np.float64)
        r = float(pearson_r(est[:, None], truth[:, None])[0]) if truth.size > 2 else float("nan")
        rel = float(np.median(np.abs(est - truth) / np.maximum(np.abs(truth), 1e-12)))
        out[name] = (r, rel)
    return out


def evaluate_run(
    run_dir: Path, registry: Registry, *, period: str = "test", checkpoint: str = "best",
    device: str = "cpu", chunk_size: int = 100, plots: bool = False,
) -> tuple[dict[str, np.ndarray], str]:
    """Metrics per entity for ``period``, written under ``RUN/test/``; returns (table, report text).

    With ``plots``, also the observed vs simulated hydrograph of every entity and the
    CDF of every metric across entities, as PNG files in ``RUN/test/plots/`` (see
    :mod:`delta_core.evaluation.plots`).
    """
    loaded = load_run(run_dir, registry, checkpoint)
    dataset, experiment = loaded.dataset, loaded.experiment
    warmup = warmup_of(experiment)
    try:
        rng = period_range(dataset, experiment, period)
    except TrainingError as exc:
        raise TrainingError(f"{run_dir}: {exc}") from None
    model = loaded.model.to(torch.device(device))
    result = simulate_period(model, dataset, rng, warmup, chunk_size=chunk_size, device=device)
    if result.observed is None:
        raise TrainingError(f"{run_dir}: the dataset has no target to evaluate against")
    metrics = metrics_for(registry, experiment)
    sim = result.fluxes[loaded.outputs[0]]
    table = metric_table(sim, result.observed[..., 0], metrics)
    out_dir = loaded.run.path / "test"
    out_dir.mkdir(exist_ok=True)
    id_name = getattr(dataset, "entity_dim", "entity")
    atomic_write_text(out_dir / f"metrics_{period}.csv", table_csv(result.entity_ids, table, id_name))
    lines = [f"{experiment.name}: {period} period {str(result.times[0])[:10]} .. {str(result.times[-1])[:10]}, "
             f"{len(result.entity_ids)} entities, checkpoint {checkpoint} (epoch {loaded.checkpoint['epoch']})",
             median_summary(table)]
    recovery = parameter_recovery(result, dataset)
    if recovery:
        lines.append("")
        lines.append("parameter recovery against the dataset's true values (learned = mean over components):")
        lines.append(f"{'parameter':<12}{'r':>8}{'median |rel err|':>18}")
        for name, (r, rel) in recovery.items():
            lines.append(f"{name:<12}{r:>8.3f}{rel:>18.3f}")
        rows = list(recovery)
        atomic_write_text(out_dir / f"recovery_{period}.csv", "parameter,r,median_abs_rel_error\n" + "".join(
            f"{n},{recovery[n][0]:.6g},{recovery[n][1]:.6g}\n" for n in rows))
    if plots:
        from delta_core.evaluation.plots import write_plots  # imports matplotlib when drawing

        declared = {v.name: v for m in getattr(loaded.model, "phy", {}).values() for v in m.output_vars}
        compared = declared.get(loaded.outputs[0])
        files = write_plots(out_dir / "plots", period, result.times, result.entity_ids, result.observed[..., 0], sim,
                            table, units=compared.units if compared is not None else "", label=loaded.outputs[0])
        lines.append("")
        lines.append(f"{len(files)} plots in {out_dir / 'plots'}")
    report = "\n".join(lines)
    atomic_write_text(out_dir / f"summary_{period}.txt", report + "\n")
    return table, report
