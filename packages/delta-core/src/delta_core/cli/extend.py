"""Helpers for plugins that add commands in their ``delta_commands`` hook (torch-free)."""

from __future__ import annotations

import click


def subgroup(cli: click.Group, *path: str) -> click.Group:
    """The nested command group ``cli <path...>``, e.g. ``subgroup(cli, "data", "import")``.

    Raises
    ------
    RuntimeError
        Naming the missing group, so that a plugin written against another core version
        fails with a clear message (the CLI reports it and keeps working).
    """
    group = cli
    for depth, name in enumerate(path):
        child = group.commands.get(name)
        if not isinstance(child, click.Group):
            where = " ".join(("delta", *path[: depth + 1]))
            raise RuntimeError(f"the core command group `{where}` is missing; cannot add commands to it")
        group = child
    return group
