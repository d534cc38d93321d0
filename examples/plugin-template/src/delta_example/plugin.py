"""Registration of the ``example.`` components.

``delta plugins list`` imports this module, so it must stay light: it names its
components by ``"module:attribute"`` strings and imports neither torch nor them.
"""

from __future__ import annotations

from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    """Register the linear reservoir, the synthetic dataset and the default experiment."""
    registry.add_phy(
        "example.linear_reservoir",
        "delta_example.model:LinearReservoir",
        config="delta_example.config:LinearReservoirConfig",
        summary="one-bucket linear reservoir: storage S, outflow Q = K * S, ET limited by storage",
    )
    registry.add_dataset(
        "example.synthetic",
        "delta_example.data:SyntheticReservoirDataset",
        config="delta_example.config:SyntheticConfig",
        summary="synthetic rain/PET for a few entities, Q simulated with a known K per entity",
    )
    registry.add_preset(
        "example.linear_reservoir",
        "delta_example.presets:linear_reservoir",
        summary="learn the linear reservoir's K from synthetic data (train 2000, test 2001)",
    )
