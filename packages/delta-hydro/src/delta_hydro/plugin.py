"""Registration of delta-hydro's components (imported by ``delta plugins list``: keep light)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar

if TYPE_CHECKING:
    import click


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    """Register the ``hydro.`` components."""
    registry.add_phy(
        "hydro.hbv",
        "delta_hydro.hbv.model:HBV",
        config="delta_hydro.hbv.config:HBVConfig",
        summary="HBV 1.0 / 1.1p / 2.0 daily rainfall-runoff model (Feng et al. 2022; Song et al. 2024, 2025)",
    )
    registry.add_dataset(
        "hydro.synthetic",
        "delta_hydro.synthetic.dataset:SyntheticDataset",
        config="delta_hydro.synthetic.dataset_config:SyntheticDatasetConfig",
        summary="synthetic basins, weather and HBV flow with known true parameters (generated on first use)",
    )
    registry.add_metric(
        "hydro.fhv", "delta_hydro.metrics:FHV",
        summary="percent bias of the top 2 % of the flow duration curve (Yilmaz et al. 2008)",
    )
    registry.add_metric(
        "hydro.flv", "delta_hydro.metrics:FLV",
        summary="log-space percent bias of the bottom 30 % of the flow duration curve (Yilmaz et al. 2008)",
    )
    registry.add_metric(
        "hydro.peak_timing", "delta_hydro.metrics:PeakTiming",
        summary="mean absolute offset of observed peaks and the simulated maximum within 3 days (Kratzert et al. 2021)",
    )
    registry.add_preset(
        "hydro.hbv",
        "delta_hydro.presets:hbv_synthetic",
        summary="default δHBV experiment: an MLP learns HBV 1.1p parameters on the embedded synthetic dataset",
    )


@hookimpl
def delta_commands(cli: click.Group) -> None:
    """Add ``delta data import camels-us`` and ``delta data synth hydro`` (heavy code loads only when run)."""
    from delta_core.cli.extend import subgroup
    from delta_hydro.camels.cli import camels_us_command
    from delta_hydro.synthetic.cli import synth_hydro

    subgroup(cli, "data", "import").add_command(camels_us_command)
    subgroup(cli, "data", "synth").add_command(synth_hydro)
