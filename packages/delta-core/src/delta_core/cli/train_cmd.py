"""``delta train``: resolve, validate, and hand off to the registered Trainer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from delta_core.cli.common import registry, resolve_experiment, set_option
from delta_core.config import ConfigError, load_experiment
from delta_core.config.schema import ExperimentConfig, TrainerComponent
from delta_core.plugins.registry import Registry, RegistryError


class NoTrainerError(click.ClickException):
    """No component of kind ``trainer`` is registered."""


def select_trainer(experiment: ExperimentConfig, reg: Registry) -> TrainerComponent:
    """The experiment's trainer section, or the only registered trainer with defaults."""
    if experiment.train is not None:
        return experiment.train
    names = reg.names("trainer")
    if not names:
        raise NoTrainerError(
            "no trainer registered: the configuration is valid, but no installed plugin "
            "provides a component of kind 'trainer', so nothing can train it "
            "(see `delta plugins list`)."
        )
    if len(names) > 1:
        raise click.ClickException(
            f"several trainers are registered ({', '.join(names)}); choose one with "
            "`train: {name: ...}` in the config or --set train.name=..."
        )
    from delta_core.config.converter import make_converter

    return make_converter(reg).structure({"name": names[0]}, TrainerComponent)


def default_run_dir(experiment: ExperimentConfig) -> Path:
    """``<output_dir>/<name>-<UTC timestamp>``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path(experiment.output_dir) / f"{experiment.name}-{stamp}"


@click.command("train")
@click.argument("config", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--plugin", metavar="NAME", help="Train the default experiment (preset) of NAME, e.g. hydro.hbv.")
@set_option
@click.option("--run-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Directory for this run (default: <output_dir>/<name>-<timestamp>).")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Continue the run in this directory from its last checkpoint.")
def train_command(
    config: Path | None, plugin: str | None, overrides: tuple[str, ...], run_dir: Path | None,
    resume_dir: Path | None,
) -> None:
    """Train an experiment from CONFIG or from the preset of --plugin NAME."""
    reg = registry()
    if resume_dir is not None:
        if config is not None or plugin is not None:
            raise click.UsageError("--resume takes the configuration saved in the run directory")
        saved = resume_dir / "config.yaml"
        if not saved.is_file():
            raise click.ClickException(f"{resume_dir}: no config.yaml; is this a run directory?")
        try:
            experiment = load_experiment(saved, reg, overrides)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        run_dir = resume_dir
    else:
        experiment = resolve_experiment(config, plugin, overrides)
    section = select_trainer(experiment, reg)
    try:
        trainer_cls = reg.get("trainer", section.name).load()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    trainer = trainer_cls(section.params) if section.params is not None else trainer_cls()
    target = run_dir or default_run_dir(experiment)
    try:
        path = trainer.fit(experiment, target, resume=resume_dir is not None)
    except (ValueError, RuntimeError) as exc:  # data, period, coupling, run-dir problems: the message says it
        raise click.ClickException(f"training stopped: {exc}") from None
    click.echo(f"run directory: {path}")
    if experiment.periods.test is not None:
        from delta_core.cli.test_cmd import run_evaluation

        click.echo(run_evaluation(path, "test", "best", "cpu"))
