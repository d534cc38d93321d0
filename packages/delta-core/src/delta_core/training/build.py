"""Build an experiment's components from its configuration through the registry."""

from __future__ import annotations

from typing import Any

import attrs

from delta_core.config.schema import ComponentConfig, ExperimentConfig
from delta_core.coupling.parameter_learning import InputSizes
from delta_core.interfaces.dataset import Dataset
from delta_core.interfaces.dmodel import DModel
from delta_core.interfaces.loss import Loss
from delta_core.interfaces.phy import PhyModel
from delta_core.plugins.registry import Registry


class BuildError(ValueError):
    """Components that do not fit together (names the sections involved)."""


def instantiate(registry: Registry, section: ComponentConfig) -> Any:
    """``cls(params)`` (or ``cls()`` for components without options) for a component section."""
    cls = registry.get(section.KIND, section.name).load()
    return cls(section.params) if section.params is not None else cls()


def build_dataset(registry: Registry, experiment: ExperimentConfig) -> Dataset:
    """The experiment's dataset."""
    dataset = instantiate(registry, experiment.data)
    if not isinstance(dataset, Dataset):
        raise BuildError(f"dataset {experiment.data.name!r} does not implement delta_core Dataset")
    return dataset


def build_model(registry: Registry, experiment: ExperimentConfig, dataset: Dataset) -> DModel:
    """PhyModels, network factories and the coupling, sized from ``dataset``'s variables."""
    phy: dict[str, PhyModel] = {}
    for i, section in enumerate(experiment.model.phy):
        model = instantiate(registry, section)
        if not isinstance(model, PhyModel):
            raise BuildError(f"model.phy {section.name!r} is not a PhyModel")
        phy[f"phy{i}" if len(experiment.model.phy) > 1 else "phy"] = model
    factories = {}
    for i, section in enumerate(experiment.model.nn):
        cls = registry.get("nn", section.name).load()
        params = section.params
        factories[f"nn{i}" if len(experiment.model.nn) > 1 else "nn"] = (
            lambda spec, cls=cls, params=params: cls(spec, params) if params is not None else cls(spec)
        )
    variables = dataset.variables
    x_phy = tuple(v.name for v in variables.get("x_phy", ()))
    for name, model in phy.items():
        expected = tuple(v.name for v in model.forcings)
        if len(x_phy) != len(expected):
            raise BuildError(
                f"model.phy ({type(model).__name__}) takes forcings {', '.join(expected)} but the dataset's x_phy "
                f"provides {len(x_phy)} variables ({', '.join(x_phy) or 'none'}); set data.params.x_phy"
            )
        if model.attributes and len(variables.get("c_phy", ())) != len(model.attributes):
            want = ", ".join(v.name for v in model.attributes)
            raise BuildError(f"model.phy ({name}) needs attributes {want}; set data.params.c_phy accordingly")
    inputs = InputSizes(len(variables.get("x_nn", ())), len(variables.get("c_nn", ())), len(dataset.entity_ids))
    coupling = experiment.model.coupling
    cls = registry.get("dmodel", coupling.name).load()
    return cls.build(phy, factories, inputs, coupling.params)


def build_loss(registry: Registry, experiment: ExperimentConfig) -> Loss:
    """The experiment's loss (``core.rmse`` when none is configured)."""
    if experiment.loss is None:
        return registry.get("loss", "core.rmse").load()()
    return instantiate(registry, experiment.loss)


def warmup_of(experiment: ExperimentConfig) -> int:
    """Warm-up steps of the coupling (its ``params.warmup``, 0 if it has none)."""
    params = experiment.model.coupling.params
    if params is not None and attrs.has(type(params)) and hasattr(params, "warmup"):
        return int(params.warmup)
    return 0
