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
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train with this many processes (torch DDP, launched with torchrun).")
@click.option("--seeds", metavar="S1,S2,...", help="Train one ensemble member per seed into RUN_DIR/seed_<S>.")
def train_command(
    config: Path | None, plugin: str | None, overrides: tuple[str, ...], run_dir: Path | None,
    resume_dir: Path | None, nproc: int, seeds: str | None,
) -> None:
    """Train an experiment from CONFIG or from the preset of --plugin NAME."""
    import os

    if nproc > 1 and int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        _launch_torchrun(nproc, config, plugin, overrides, run_dir, resume_dir, seeds)
        return
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
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed and run_dir is None:
        raise click.UsageError("under torchrun give --run-dir (every rank must use the same directory)")
    main_rank = int(os.environ.get("RANK", "0")) == 0
    section = select_trainer(experiment, reg)
    try:
        trainer_cls = reg.get("trainer", section.name).load()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    trainer = trainer_cls(section.params) if section.params is not None else trainer_cls()
    base = run_dir or default_run_dir(experiment)
    members = [(experiment, base)]
    if seeds:
        try:
            values = [int(v) for v in seeds.split(",") if v.strip()]
        except ValueError:
            raise click.BadParameter(
                f"expected comma-separated integers, got {seeds!r}", param_hint="--seeds"
            ) from None
        import attrs

        members = [(attrs.evolve(experiment, seed=v), base / f"seed_{v}") for v in values]
    paths = []
    for member, target in members:
        try:
            paths.append(trainer.fit(member, target, resume=resume_dir is not None))
        except (ValueError, RuntimeError) as exc:  # data, period, coupling, run-dir problems: the message says it
            raise click.ClickException(f"training stopped: {exc}") from None
        if main_rank:
            click.echo(f"run directory: {paths[-1]}")
    if not main_rank or experiment.periods.test is None:
        return
    from delta_core.cli.test_cmd import run_ensemble_evaluation, run_evaluation

    for path in paths:
        click.echo(run_evaluation(path, "test", "best", "cpu"))
    if len(paths) > 1:
        click.echo(run_ensemble_evaluation(paths, "test", "best", "cpu"))


def _launch_torchrun(
    nproc: int, config: Path | None, plugin: str | None, overrides: tuple[str, ...], run_dir: Path | None,
    resume_dir: Path | None, seeds: str | None,
) -> None:
    """Re-run this command under ``torchrun --nproc-per-node N -m delta_core.cli train ...``."""
    import subprocess
    import sys

    if resume_dir is None and run_dir is None:
        experiment = resolve_experiment(config, plugin, overrides)
        run_dir = default_run_dir(experiment)
    args = ["train"]
    if config is not None:
        args.append(str(config))
    if plugin is not None:
        args += ["--plugin", plugin]
    for item in overrides:
        args += ["--set", item]
    if resume_dir is not None:
        args += ["--resume", str(resume_dir)]
    elif run_dir is not None:
        args += ["--run-dir", str(run_dir)]
    if seeds:
        args += ["--seeds", seeds]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "delta_core.cli", *args]
    code = subprocess.call(cmd)
    if code:
        raise click.ClickException(f"distributed training failed (exit code {code}): {' '.join(cmd)}")
