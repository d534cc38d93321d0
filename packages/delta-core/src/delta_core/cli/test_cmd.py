"""``delta test``: per-entity metrics of a trained run on a period."""

from __future__ import annotations

from pathlib import Path

import click

from delta_core.cli.common import registry


def run_evaluation(run: Path, period: str, checkpoint: str, device: str, plots: bool = False) -> str:
    """Evaluate ``run`` and return the printable report; errors become click errors.

    With ``plots``, hydrographs and metric CDFs are written to ``RUN/test/plots/``.
    """
    from delta_core.config import ConfigError
    from delta_core.data.periods import PeriodError
    from delta_core.evaluation.report import evaluate_run  # deferred: imports torch
    from delta_core.training.errors import RunDirError, TrainingError

    try:
        _, report = evaluate_run(run, registry(), period=period, checkpoint=checkpoint, device=device, plots=plots)
    except (ConfigError, PeriodError, RunDirError, TrainingError) as exc:
        raise click.ClickException(str(exc)) from None
    return report


def run_ensemble_evaluation(runs: list[Path], period: str, checkpoint: str, device: str) -> str:
    """Evaluate several runs as an ensemble; writes ``<first run>/test/ensemble_<period>.csv``."""
    from delta_core.config import ConfigError
    from delta_core.data.periods import PeriodError
    from delta_core.evaluation.ensemble_report import evaluate_ensemble  # deferred: imports torch
    from delta_core.training.errors import RunDirError, TrainingError

    try:
        return evaluate_ensemble(runs, registry(), period=period, checkpoint=checkpoint, device=device)
    except (ConfigError, PeriodError, RunDirError, TrainingError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("test")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--period", default="test", show_default=True, help="Period of the run's config: train, valid, test.")
@click.option("--checkpoint", default="best", show_default=True, help="best, last, or an epoch number.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--plots", is_flag=True,
              help="Also write PNGs to RUN/test/plots/: observed vs simulated per entity, metric CDFs.")
def test_command(runs: tuple[Path, ...], period: str, checkpoint: str, device: str, plots: bool) -> None:
    """Compute per-entity metrics of RUN on a period; write RUN/test/ and print the medians.

    With several RUNS (e.g. the seed_<S> members of `delta train --seeds`), each is
    evaluated and then their ensemble: the mean of the members' simulations, with member
    and ensemble metrics per entity in <first RUN>/test/ensemble_<period>.csv.
    """
    for run in runs:
        click.echo(run_evaluation(run, period, checkpoint, device, plots))
    if len(runs) > 1:
        click.echo(run_ensemble_evaluation(list(runs), period, checkpoint, device))
