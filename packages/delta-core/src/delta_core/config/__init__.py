"""Experiment configuration: strict YAML, attrs schema, cattrs structuring (torch-free)."""

from __future__ import annotations

from delta_core.config.errors import ConfigError, Problem
from delta_core.config.load import (
    OverrideError,
    apply_overrides,
    component_defaults,
    load_experiment,
    preset,
    structure_experiment,
    to_yaml,
    unstructure,
)
from delta_core.config.schema import ComponentConfig, ExperimentConfig, ModelConfig, Period, Periods

__all__ = [
    "ComponentConfig",
    "ConfigError",
    "ExperimentConfig",
    "ModelConfig",
    "OverrideError",
    "Period",
    "Periods",
    "Problem",
    "apply_overrides",
    "component_defaults",
    "load_experiment",
    "preset",
    "structure_experiment",
    "to_yaml",
    "unstructure",
]
