"""Registration of delta-photosynth's components (imported by ``delta plugins list``: keep light)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar

if TYPE_CHECKING:
    import click


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    """Register the ``photosynth.`` components."""
    registry.add_phy(
        "photosynth.fvcb",
        "delta_photosynth.fvcb:FvCB",
        config="delta_photosynth.config:FvCBConfig",
        summary="C3 Farquhar-von Caemmerer-Berry leaf photosynthesis; A/Ci mode or coupled to Medlyn/Ball-Berry "
                "stomatal conductance (Farquhar et al. 1980; von Caemmerer 2000)",
    )
    registry.add_phy(
        "photosynth.c4",
        "delta_photosynth.c4:C4",
        config="delta_photosynth.config:C4Config",
        summary="C4 leaf photosynthesis (Collatz et al. 1992, as in CLM4.5/FATES); A/Ci or coupled mode",
    )
    registry.add_dataset(
        "photosynth.synthetic",
        "delta_photosynth.synthetic.dataset:SyntheticLeafDataset",
        config="delta_photosynth.synthetic.dataset_config:SyntheticLeafDatasetConfig",
        summary="synthetic leaf A/Ci, light and temperature curves with known FvCB parameters (generated on first use)",
    )
    registry.add_preset(
        "photosynth.fvcb",
        "delta_photosynth.presets:fvcb_synthetic",
        summary="fit one FvCB parameter set per synthetic leaf (free parameters) and report recovery",
    )


@hookimpl
def delta_commands(cli: click.Group) -> None:
    """Add ``delta data import licor``, ``delta data import leaf-csv`` and ``delta data synth photosynth``."""
    from delta_core.cli.extend import subgroup
    from delta_photosynth.data.cli import leaf_csv_command, licor_command
    from delta_photosynth.synthetic.cli import synth_photosynth

    subgroup(cli, "data", "import").add_command(licor_command)
    subgroup(cli, "data", "import").add_command(leaf_csv_command)
    subgroup(cli, "data", "synth").add_command(synth_photosynth)
