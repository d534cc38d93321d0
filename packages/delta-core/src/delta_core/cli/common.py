"""Helpers shared by CLI commands: resolving an experiment from a file or a preset."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from delta_core.config import ConfigError, OverrideError, load_experiment, preset
from delta_core.config.schema import ExperimentConfig
from delta_core.plugins.registry import Registry, RegistryError

set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a config value, e.g. --set train.params.epochs=5 (repeatable).",
)


def registry() -> Registry:
    """The process-wide plugin registry."""
    from delta_core.plugins.manager import get_registry

    return get_registry()


def resolve_experiment(
    config: Path | None, plugin: str | None, overrides: Sequence[str]
) -> ExperimentConfig:
    """Load the experiment from ``config`` or from the preset of ``plugin``; validate it."""
    reg = registry()
    if config is not None and plugin is not None:
        raise click.UsageError("give either a CONFIG file or --plugin NAME, not both")
    if config is None and plugin is None:
        raise click.UsageError("give a CONFIG file or --plugin NAME (e.g. delta train --plugin hydro.hbv)")
    source: Any
    try:
        source = config if config is not None else preset(reg, plugin)  # type: ignore[arg-type]
        return load_experiment(source, reg, overrides)
    except (ConfigError, OverrideError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
