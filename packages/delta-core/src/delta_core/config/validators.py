"""attrs validators for configuration classes; messages name the field and the rule."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import attrs


def non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """Value must be >= 0."""
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """Value must be > 0."""
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def in_range(lo: float, hi: float) -> Callable[[object, attrs.Attribute[Any], float], None]:
    """Value must lie in the closed interval ``[lo, hi]``."""

    def check(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
        if not lo <= value <= hi:
            raise ValueError(f"{attribute.name} must be in [{lo:g}, {hi:g}], got {value!r}")

    return check


def one_of(choices: Collection[Any]) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Value must be one of ``choices``."""

    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")

    return check


def subset_of(choices: Collection[str]) -> Callable[[object, attrs.Attribute[Any], Collection[str]], None]:
    """Every item must be one of ``choices``; duplicates are an error."""

    def check(_: object, attribute: attrs.Attribute[Any], value: Collection[str]) -> None:
        unknown = [v for v in value if v not in choices]
        if unknown:
            raise ValueError(f"{attribute.name}: unknown {unknown}; choose from {', '.join(choices)}")
        if len(set(value)) != len(list(value)):
            raise ValueError(f"{attribute.name}: duplicates in {list(value)}")

    return check
