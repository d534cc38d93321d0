"""``delta config validate`` and ``delta config template``."""

from __future__ import annotations

from pathlib import Path

import click

from delta_core.cli.common import registry, resolve_experiment, set_option
from delta_core.config import ConfigError, load_experiment, preset, to_yaml
from delta_core.config.load import component_defaults
from delta_core.config.yaml_io import dump_yaml
from delta_core.plugins.registry import KINDS, RegistryError, suggest


@click.group("config")
def config_group() -> None:
    """Validate experiment files and print templates."""


@config_group.command("validate")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@set_option
@click.option("--show", is_flag=True, help="Print the resolved configuration with all defaults.")
def validate_command(config: Path, overrides: tuple[str, ...], show: bool) -> None:
    """Check CONFIG against the schema and every component's options; list all problems."""
    experiment = resolve_experiment(config, None, overrides)
    if show:
        click.echo(to_yaml(experiment), nl=False)
    click.echo(f"{config}: valid", err=show)


@config_group.command("template")
@click.argument("name")
def template_command(name: str) -> None:
    """Print a full YAML of defaults for NAME.

    NAME is a preset (a complete experiment, printed with every default filled in)
    or any component (its {name, params} section with every option at its default).
    """
    reg = registry()
    try:
        if ("preset", name) in reg:
            click.echo(to_yaml(load_experiment(preset(reg, name), reg)), nl=False)
            return
        for kind in KINDS:
            if (kind, name) in reg:
                click.echo(f"# {kind} component {name}\n" + dump_yaml(component_defaults(reg, kind, name)), nl=False)
                return
    except (ConfigError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    every = sorted({c.name for c in reg})
    close = suggest(name, every)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise click.ClickException(f"no preset or component named {name!r}.{hint} Available: {', '.join(every)}.")
