"""Every hook a deltamod plugin can implement, in one place.

A plugin is a module (or object) named by an entry point in the group
``delta.plugins``; the entry point's *name* is the plugin's namespace. Example, in the
plugin's ``pyproject.toml``::

    [project.entry-points."delta.plugins"]
    hydro = "delta_hydro.plugin"

and in ``delta_hydro/plugin.py``::

    from delta_core.plugins import hookimpl

    @hookimpl
    def delta_register(registry):
        registry.add_phy("hydro.hbv", "delta_hydro.hbv.model:HBV",
                         config="delta_hydro.hbv.config:HBVConfig",
                         summary="HBV 1.0 / 1.1p / 2.0 rainfall-runoff model")

The plugin module is imported whenever plugins are listed, so it must stay light:
reference components by ``"module:attribute"`` strings and import torch nowhere at
module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from delta_core.plugins.registry import PluginRegistrar

PROJECT_NAME = "delta"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def delta_register(registry: PluginRegistrar) -> None:
    """Register the plugin's components.

    Called once per plugin when the registry is built, with a registrar bound to the
    plugin's namespace: every name added must start with ``"<namespace>."``.
    Components are added by kind (``add_phy``, ``add_nn``, ``add_dmodel``,
    ``add_dataset``, ``add_loss``, ``add_metric``, ``add_trainer``, ``add_preset``).
    An exception raised here skips the whole plugin (nothing it added is kept) and is
    reported by ``delta plugins list``.
    """


@hookspec
def delta_commands(cli: click.Group) -> None:
    """Add subcommands to the ``delta`` command line.

    Called after the built-in commands exist; ``cli`` is the root group. Plugins may
    add to existing groups, e.g. ``cli.commands["data"].commands["import"]``. Import
    heavy modules inside the command functions, not at module level.
    """
