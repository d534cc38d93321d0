"""Load, override, validate and write experiment configurations (torch-free)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from delta_core.config.converter import make_converter
from delta_core.config.errors import ConfigError, Problem, collect_problems
from delta_core.config.schema import ComponentConfig, ExperimentConfig
from delta_core.config.yaml_io import YAMLReadError, dump_yaml, parse_yaml, read_yaml
from delta_core.plugins.registry import Registry, RegistryError


class OverrideError(ValueError):
    """A malformed ``--set KEY=VALUE`` override."""


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``--set`` style overrides applied.

    Each override is ``dotted.key=value``; ``value`` is parsed as YAML with the same
    rules as files (``1e-3`` is a float, ``01013500`` a string, ``[a, b]`` a list).
    Integer segments index lists (``metrics.0.name=core.nse``); missing mapping keys
    are created.
    """
    data = copy.deepcopy(dict(raw))
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise OverrideError(f"--set {item!r}: expected KEY=VALUE with a dotted KEY, e.g. train.params.epochs=5")
        value = parse_yaml(text, f"--set {key}")
        parts = key.split(".")
        node: Any = data
        for depth, part in enumerate(parts[:-1]):
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                node = node[_index(part, node, where, item)]
            elif isinstance(node, dict):
                if isinstance(node.get(part), str) and parts[depth + 1] in ("name", "params"):
                    node[part] = {"name": node[part]}  # expand the `nn: nn.lstm` shorthand
                node = node.setdefault(part, {})
            else:
                raise OverrideError(f"--set {item!r}: {where!r} is a {type(node).__name__}, not a section")
        last = parts[-1]
        if isinstance(node, list):
            node[_index(last, node, key, item)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise OverrideError(f"--set {item!r}: cannot set {last!r} inside a {type(node).__name__}")
    return data


def _index(part: str, node: list[Any], where: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise OverrideError(f"--set {item!r}: {where!r} must index a list of {len(node)} items")
    return int(part)


def load_raw(source: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Read a YAML file (or copy a mapping) and return ``(data, source description)``."""
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), "(mapping)"
    data = read_yaml(source)
    if not isinstance(data, Mapping):
        raise ConfigError([Problem("$", f"expected a mapping at the top level, got {type(data).__name__}")],
                          f"in {source}")
    return dict(data), str(source)


def structure_experiment(
    raw: Mapping[str, Any], registry: Registry | None, source: str = "(mapping)"
) -> ExperimentConfig:
    """Validate ``raw`` against the core schema and every component's params class.

    Raises
    ------
    ConfigError
        With every problem found, each with its path.
    """
    conv = make_converter(registry)
    try:
        return conv.structure(raw, ExperimentConfig)
    except Exception as exc:
        raise ConfigError(collect_problems(exc), f"in {source}") from None


def load_experiment(
    source: str | Path | Mapping[str, Any],
    registry: Registry | None,
    overrides: Sequence[str] = (),
) -> ExperimentConfig:
    """Read, override and validate an experiment configuration.

    Parameters
    ----------
    source
        Path to a YAML file, or a mapping (e.g. a preset).
    registry
        Plugin registry to resolve component names against.
    overrides
        ``KEY=VALUE`` strings applied before validation (``--set``).
    """
    try:
        raw, where = load_raw(source)
        raw = apply_overrides(raw, overrides)
    except YAMLReadError as exc:
        raise ConfigError([Problem("$", str(exc))], f"in {source}") from None
    return structure_experiment(raw, registry, where)


def preset(registry: Registry, name: str) -> dict[str, Any]:
    """The raw experiment mapping of preset ``name`` (a copy, safe to modify)."""
    component = registry.get("preset", name)
    value = component.load()
    if callable(value):
        value = value()
    if not isinstance(value, Mapping):
        raise RegistryError(
            f"preset {name!r} ({component.ref}) must be a mapping or return one, got {type(value).__name__}"
        )
    return copy.deepcopy(dict(value))


def unstructure(config: Any, registry: Registry | None = None) -> Any:
    """Plain data (dicts, lists, scalars) for a structured configuration."""
    return make_converter(registry).unstructure(config)


def to_yaml(config: ExperimentConfig | ComponentConfig | Any) -> str:
    """YAML text of a structured configuration, loadable by :func:`load_experiment`."""
    return dump_yaml(unstructure(config))


def component_defaults(registry: Registry, kind: str, name: str) -> dict[str, Any]:
    """``{name, params}`` with every parameter of the component at its default.

    Parameters without a default are shown as ``null`` with their type in a
    ``_required`` list, so a template never pretends to be complete when it is not.
    """
    component = registry.get(kind, name)
    cls = component.load_config_class()
    if cls is None:
        return {"name": name, "params": {}}
    params: dict[str, Any] = {}
    required: list[str] = []
    conv = make_converter(registry)
    for f in attrs.fields(cls):
        if f.default is attrs.NOTHING:
            params[f.name] = None
            required.append(f.name)
        else:
            default = f.default.factory() if isinstance(f.default, attrs.Factory) else f.default  # type: ignore[call-arg]
            params[f.name] = conv.unstructure(default)
    section: dict[str, Any] = {"name": name, "params": params}
    if required:
        section["_required"] = required
    return section
