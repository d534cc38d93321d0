"""Report of an ensemble of runs: member and ensemble metrics per entity (``delta test RUN RUN ...``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from delta_core.evaluation.ensemble import ensemble_metrics, run_ensemble
from delta_core.evaluation.report import load_run, metrics_for
from delta_core.evaluation.simulate import median_summary, table_csv
from delta_core.plugins.registry import Registry
from delta_core.training.run_dir import atomic_write_text


def evaluate_ensemble(
    runs: Sequence[Path], registry: Registry, *, period: str = "test", checkpoint: str = "best",
    device: str = "cpu",
) -> str:
    """Score every member and the ensemble mean; write a per-entity CSV; return the report."""
    result = run_ensemble(runs, registry, period=period, checkpoint=checkpoint, device=device)
    experiment = load_run(runs[0], registry, checkpoint).experiment
    metrics = metrics_for(registry, experiment)
    tables = ensemble_metrics(result, metrics)
    key = next((name for name in metrics if name.upper() == "NSE"), next(iter(metrics)))
    columns = {name: table[key] for name, table in tables.items()}
    columns["spread_mean"] = np.nanmean(result.spread, axis=0)
    out = Path(runs[0]) / "test"
    out.mkdir(exist_ok=True)
    atomic_write_text(out / f"ensemble_{period}.csv", table_csv(result.members[0].entity_ids, columns))
    lines = [f"ensemble of {len(runs)} runs ({', '.join(str(r) for r in runs)}), {period} period, "
             f"{key} per member and of the ensemble mean:",
             median_summary({k: v for k, v in columns.items() if k != "spread_mean"})]
    if len(result.members[0].entity_ids) <= 20:
        header = f"{'entity':<12}" + "".join(f"{k:>12}" for k in tables)
        lines += ["", header]
        for i, entity in enumerate(result.members[0].entity_ids):
            lines.append(f"{entity:<12}" + "".join(f"{tables[k][key][i]:>12.3f}" for k in tables))
    return "\n".join(lines)
