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
    registry.add_dmodel(
        "core.free_parameters",
        "delta_core.coupling.free_parameters:FreeParameters",
        config="delta_core.coupling.config:FreeParametersConfig",
        summary="one learnable parameter set per entity (batched calibration), no network",
    )
    registry.add_dataset(
        "core.canonical",
        "delta_core.data.dataset:CanonicalDataset",
        config="delta_core.data.config:CanonicalDatasetConfig",
        summary="entities x days from a canonical Zarr/NetCDF store, read lazily",
    )
    registry.add_trainer(
        "core.trainer",
        "delta_core.training.trainer:StandardTrainer",
        config="delta_core.training.config:TrainerConfig",
        summary="random entity x window batches, validation, early stopping, atomic resumable checkpoints",
    )
    losses = {
        "rmse": ("RMSELoss", None, "root mean square error, NaN-masked"),
        "nse_batch": ("NSEBatchLoss", "NSEBatchConfig", "squared error scaled by each entity's variance"),
        "kge": ("KGELoss", None, "1 - Kling-Gupta efficiency per entity and window"),
        "rmse_combined": ("CombinedRMSELoss", "CombinedRMSEConfig", "RMSE on flow and on log10(sqrt(flow)+0.1)"),
    }
    for name, (cls, config, summary) in losses.items():
        registry.add_loss(
            f"core.{name}", f"delta_core.training.losses:{cls}",
            config=f"delta_core.training.config:{config}" if config else None, summary=summary,
        )
    metrics = {
        "nse": ("NSE", "Nash-Sutcliffe efficiency"),
        "kge": ("KGE", "Kling-Gupta efficiency"),
        "r": ("PearsonR", "Pearson correlation"),
        "alpha": ("KGEAlpha", "KGE variability ratio sigma_sim / sigma_obs"),
        "beta": ("KGEBeta", "KGE bias ratio mu_sim / mu_obs"),
        "rmse": ("RMSE", "root mean square error"),
        "bias": ("Bias", "mean error"),
        "pbias": ("PercentBias", "percent bias"),
    }
    for name, (cls, summary) in metrics.items():
        registry.add_metric(f"core.{name}", f"delta_core.evaluation.metrics:{cls}", summary=summary)
