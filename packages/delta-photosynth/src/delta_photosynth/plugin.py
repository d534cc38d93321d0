"""Registration of delta-photosynth's components (imported by ``delta plugins list``: keep light)."""

from __future__ import annotations

from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    """Register the ``photosynth.`` components."""
