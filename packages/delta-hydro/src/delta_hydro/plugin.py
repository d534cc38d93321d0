"""Registration of delta-hydro's components (imported by ``delta plugins list``: keep light)."""

from __future__ import annotations

from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    """Register the ``hydro.`` components."""
    registry.add_phy(
        "hydro.hbv",
        "delta_hydro.hbv.model:HBV",
        config="delta_hydro.hbv.config:HBVConfig",
        summary="HBV 1.0 / 1.1p / 2.0 daily rainfall-runoff model (Feng et al. 2022; Song et al. 2024, 2025)",
    )
