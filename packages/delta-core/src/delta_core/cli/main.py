"""Entry point of the ``delta`` command line."""

from __future__ import annotations

import sys
import warnings

import click

from delta_core import __version__
from delta_core.cli.config_cmd import config_group
from delta_core.cli.data_cmd import data_group
from delta_core.cli.plugins_cmd import plugins_group
from delta_core.cli.simulate_cmd import simulate_command
from delta_core.cli.test_cmd import test_command
from delta_core.cli.train_cmd import train_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", package_name="deltamod-core",
                      message="deltamod-core %(version)s (Python " + sys.version.split()[0] + ")")
def cli() -> None:
    """deltamod: differentiable models, process equations trained with neural networks.

    Components (PhyModels, networks, datasets, trainers...) come from plugins;
    `delta plugins list` shows what is installed.
    """


cli.add_command(plugins_group)
cli.add_command(config_group)
cli.add_command(data_group)
cli.add_command(train_command)
cli.add_command(test_command)
cli.add_command(simulate_command)


def _add_plugin_commands(group: click.Group) -> None:
    from delta_core.plugins.manager import get_plugin_manager_and_registry

    _, pm = get_plugin_manager_and_registry()
    for impl in pm.hook.delta_commands.get_hookimpls():
        try:
            impl.function(cli=group)
        except Exception as exc:  # one plugin's broken command must not disable the CLI
            warnings.warn(f"deltamod plugin {impl.plugin_name!r}: cannot add commands: {exc!r}", stacklevel=1)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (``delta``)."""
    _add_plugin_commands(cli)
    cli.main(args=argv, prog_name="delta")


if __name__ == "__main__":  # `python -m delta_core.cli.main`
    main()
