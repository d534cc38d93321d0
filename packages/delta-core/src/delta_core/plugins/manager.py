"""Discover plugins and build the :class:`~delta_core.plugins.registry.Registry`.

Environment variables
---------------------
``DELTA_DISABLE_PLUGIN_AUTOLOAD=1``
    Do not load entry points of the group ``delta.plugins`` (the core's built-ins
    are still registered).
``DELTA_PLUGINS=a,b``
    Load only these entry-point names (also when autoload is disabled).
``DELTA_BLOCK_PLUGINS=a,b``
    Never load these entry-point names.
``DELTA_TRACE_HOOKS=1``
    Print every hook call to stderr (pluggy tracing).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

import pluggy

from delta_core import hookspecs
from delta_core.plugins.registry import PluginInfo, PluginLoadFailure, Registry

ENTRY_POINT_GROUP = "delta.plugins"


class PluginLoadWarning(UserWarning):
    """A plugin was skipped because it failed to import or to register."""


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh ``PluginManager("delta")`` with the hook specifications added."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if _env_flag("DELTA_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(str(msg)))
        pm.enable_tracing()
    return pm


def build_registry(
    *,
    autoload: bool | None = None,
    only: Sequence[str] | None = None,
    blocked: Iterable[str] = (),
    extra_plugins: Mapping[str, Any] | None = None,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> tuple[Registry, pluggy.PluginManager]:
    """Load plugins and collect their components.

    Parameters
    ----------
    autoload
        Load entry points of ``delta.plugins``; default: true unless
        ``DELTA_DISABLE_PLUGIN_AUTOLOAD`` is set.
    only
        Load only these entry-point names (default from ``DELTA_PLUGINS``).
    blocked
        Entry-point names never to load, added to ``DELTA_BLOCK_PLUGINS``.
    extra_plugins
        Plugin objects registered directly, by namespace (tests, notebooks).
    entry_points
        Entry points to consider instead of the installed ones (tests).

    Returns
    -------
    (Registry, pluggy.PluginManager)
        Plugins that failed are listed in ``registry.failures`` and warned about,
        never raised.
    """
    from delta_core import builtin

    if autoload is None:
        autoload = not _env_flag("DELTA_DISABLE_PLUGIN_AUTOLOAD")
    if only is None:
        only = _env_list("DELTA_PLUGINS") or None
    blocked_set = set(blocked) | set(_env_list("DELTA_BLOCK_PLUGINS"))

    registry = Registry()
    pm = make_plugin_manager()
    pm.register(builtin, name="core")
    registry.plugins["core"] = PluginInfo("core", builtin.__name__, "deltamod-core", _version("deltamod-core"))

    if autoload or only:
        eps = list(entry_points) if entry_points is not None else list(
            metadata.entry_points(group=ENTRY_POINT_GROUP)
        )
        for ep in sorted(eps, key=lambda e: e.name):
            if only is not None and ep.name not in only:
                continue
            if ep.name in blocked_set:
                registry.blocked.append(ep.name)
                continue
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else None
            dist_version = dist.version if dist is not None else None
            if ep.name in registry.plugins:
                owner = registry.plugins[ep.name]
                _fail(registry, ep.name, dist_name, dist_version,
                      f"namespace {ep.name!r} is already provided by "
                      f"{owner.distribution or owner.module}; skipped {ep.value}")
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the host down
                _fail(registry, ep.name, dist_name, dist_version,
                      f"cannot load {ep.value}: {type(exc).__name__}: {exc}")
                continue
            registry.plugins[ep.name] = PluginInfo(ep.name, ep.value, dist_name, dist_version)

    for name, plugin in (extra_plugins or {}).items():
        if name in registry.plugins:
            _fail(registry, name, None, None, f"namespace {name!r} is already provided")
            continue
        try:
            pm.register(plugin, name=name)
        except Exception as exc:
            _fail(registry, name, None, None, f"{type(exc).__name__}: {exc}")
            continue
        module = getattr(plugin, "__name__", type(plugin).__name__)
        registry.plugins[name] = PluginInfo(name, module)

    _run_registration(registry, pm)
    return registry, pm


def _run_registration(registry: Registry, pm: pluggy.PluginManager) -> None:
    # Each plugin gets a registrar bound to its own namespace, so the hook is called
    # per implementation rather than through the broadcast ``pm.hook`` call.
    for impl in pm.hook.delta_register.get_hookimpls():
        name = impl.plugin_name
        registrar = registry.registrar(name)
        try:
            impl.function(registry=registrar)
        except Exception as exc:
            for component in registrar.added:  # keep nothing from a half-registered plugin
                registry._components.pop((component.kind, component.name), None)
            info = registry.plugins.pop(name, None)
            pm.unregister(name=name)
            _fail(registry, name, info.distribution if info else None,
                  info.version if info else None,
                  f"registration failed: {type(exc).__name__}: {exc}")


def _fail(
    registry: Registry, name: str, dist: str | None, version: str | None, error: str
) -> None:
    error = "; ".join(line.strip() for line in error.splitlines() if line.strip())
    registry.failures.append(PluginLoadFailure(name, error, dist, version))
    warnings.warn(f"deltamod plugin {name!r} skipped: {error}", PluginLoadWarning, stacklevel=3)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


_CACHE: dict[str, tuple[Registry, pluggy.PluginManager]] = {}


def get_registry() -> Registry:
    """The process-wide registry, built on first use from installed plugins."""
    return get_plugin_manager_and_registry()[0]


def get_plugin_manager_and_registry() -> tuple[Registry, pluggy.PluginManager]:
    """The process-wide ``(registry, plugin manager)`` pair, built on first use."""
    if "default" not in _CACHE:
        _CACHE["default"] = build_registry()
    return _CACHE["default"]


def reset_registry() -> None:
    """Forget the cached registry (tests change the environment between calls)."""
    _CACHE.clear()
