"""The core's own components, registered through the same hook as any plugin."""

from __future__ import annotations

from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    """Register the core's built-in components under the ``core.`` namespace."""
    registry.add_dmodel(
        "core.param_learning",
        "delta_core.coupling.parameter_learning:ParameterLearning",
        config="delta_core.coupling.config:ParameterLearningConfig",
        summary="a network learns a PhyModel's parameters (static and/or dynamic)",
    )
    registry.add_dataset(
        "core.canonical",
        "delta_core.data.dataset:CanonicalDataset",
        config="delta_core.data.config:CanonicalDatasetConfig",
        summary="entities x days from a canonical Zarr/NetCDF store, read lazily",
    )
