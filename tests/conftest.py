"""Shared fixtures: repository paths, the shared data folder, a toy plugin registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"

# `tests.core.plugins.toy` must be importable by its dotted name (component refs use it).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def shared_dir() -> Path:
    return SHARED


@pytest.fixture
def toy_registry():  # type: ignore[no-untyped-def]
    """A registry with the core built-ins and the ``toy`` test plugin, nothing installed."""
    from delta_core.plugins.manager import build_registry
    from tests.core.plugins import toy

    registry, _ = build_registry(autoload=False, extra_plugins={"toy": toy})
    return registry


@pytest.fixture
def cli_with_toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the CLI use a registry of core built-ins plus the toy plugin."""
    from delta_core.plugins import manager
    from tests.core.plugins import toy

    manager.reset_registry()
    manager._CACHE["default"] = manager.build_registry(autoload=False, extra_plugins={"toy": toy})
    yield
    manager.reset_registry()
