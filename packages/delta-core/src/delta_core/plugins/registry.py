"""The component registry: what each plugin provides, by kind and namespaced name.

Components are referenced lazily as ``"package.module:attribute"`` strings, so building
the registry and listing it import no plugin code beyond the plugin modules
themselves (and never torch).
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import attrs

Kind = Literal["phy", "nn", "dmodel", "dataset", "loss", "metric", "trainer", "preset"]
KINDS: tuple[Kind, ...] = ("phy", "nn", "dmodel", "dataset", "loss", "metric", "trainer", "preset")

# Namespaces of the first-party add-ons, used only to hint which distribution to install.
KNOWN_DISTRIBUTIONS = {
    "core": "deltamod-core",
    "nn": "deltamod-nn",
    "hydro": "deltamod-hydro",
    "photosynth": "deltamod-photosynth",
}

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_]*)+$")
_REF_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class RegistryError(Exception):
    """Base class of registry errors; ``str(err)`` is the message a user sees."""


class ComponentNotFoundError(RegistryError, KeyError):
    """A component name that no loaded plugin registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DuplicateComponentError(RegistryError):
    """A name registered twice."""


class NamespaceError(RegistryError):
    """A plugin registered a name outside its own namespace, or an ill-formed name."""


class ComponentLoadError(RegistryError):
    """A registered ``"module:attribute"`` reference that cannot be imported."""


@attrs.frozen
class PluginInfo:
    """A plugin known to the registry.

    Attributes
    ----------
    name
        The plugin's namespace (its entry-point name).
    module
        Import path of the plugin module.
    distribution, version
        The installed distribution that provides it (``None`` for plugins registered
        directly, e.g. in tests).
    """

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None


@attrs.frozen
class PluginLoadFailure:
    """A plugin that could not be loaded or failed while registering; it was skipped."""

    name: str
    error: str
    distribution: str | None = None
    version: str | None = None


@attrs.frozen
class Component:
    """One registered component.

    Attributes
    ----------
    kind
        One of :data:`KINDS`.
    name
        Namespaced name, e.g. ``"hydro.hbv"``.
    ref
        ``"module:attribute"`` of the implementation (class, or for a preset a
        callable returning the experiment mapping, or the mapping itself).
    config
        ``"module:Class"`` of the attrs class that structures the component's
        ``params``; ``None`` when the component takes no parameters.
    summary
        One line shown by ``delta plugins list``.
    plugin
        Namespace of the plugin that registered it.
    """

    kind: Kind
    name: str
    ref: str
    config: str | None
    summary: str
    plugin: str

    def load(self) -> Any:
        """Import and return the implementation."""
        return resolve_ref(self.ref, f"{self.kind} {self.name!r}")

    def load_config_class(self) -> type | None:
        """Import and return the params class, or ``None`` if the component takes none."""
        if self.config is None:
            return None
        cls = resolve_ref(self.config, f"config of {self.kind} {self.name!r}")
        if not isinstance(cls, type) or not attrs.has(cls):
            raise ComponentLoadError(
                f"config of {self.kind} {self.name!r}: {self.config} is not an attrs class"
            )
        return cls


def resolve_ref(ref: str, what: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, _, attr_path = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ComponentLoadError(f"{what}: cannot import {module_name!r}: {exc!r}") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ComponentLoadError(
                f"{what}: module {module_name!r} has no attribute {attr_path!r}"
            ) from None
    return obj


def suggest(name: str, candidates: Iterable[str]) -> list[str]:
    """Close matches of ``name`` among ``candidates``, best first."""
    return difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.75)


class Registry:
    """All components of all loaded plugins, indexed by kind and name."""

    def __init__(self) -> None:
        self._components: dict[tuple[str, str], Component] = {}
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: list[PluginLoadFailure] = []
        self.blocked: list[str] = []

    # -- writing ----------------------------------------------------------------------
    def add(self, component: Component) -> None:
        """Add ``component``; raise :class:`DuplicateComponentError` if its name is taken."""
        key = (component.kind, component.name)
        if key in self._components:
            other = self._components[key]
            raise DuplicateComponentError(
                f"{component.kind} {component.name!r} is already registered by plugin "
                f"{other.plugin!r} ({other.ref}); cannot register it again ({component.ref})"
            )
        self._components[key] = component

    def registrar(self, plugin: str) -> PluginRegistrar:
        """A registrar that adds components under ``plugin``'s namespace."""
        return PluginRegistrar(self, plugin)

    # -- reading ----------------------------------------------------------------------
    def __iter__(self) -> Iterator[Component]:
        return iter(sorted(self._components.values(), key=lambda c: (c.kind, c.name)))

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._components

    def names(self, kind: str) -> list[str]:
        """Sorted names registered under ``kind``."""
        return sorted(name for k, name in self._components if k == kind)

    def by_plugin(self, plugin: str) -> list[Component]:
        """Components registered by ``plugin``, sorted by kind and name."""
        return [c for c in self if c.plugin == plugin]

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` of ``kind``; a helpful :class:`ComponentNotFoundError` if absent."""
        if kind not in KINDS:
            raise ComponentNotFoundError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")
        try:
            return self._components[(kind, name)]
        except KeyError:
            raise ComponentNotFoundError(self._not_found_message(kind, name)) from None

    def find(self, name: str) -> list[Component]:
        """All components called ``name``, whatever their kind."""
        return [c for c in self if c.name == name]

    def _not_found_message(self, kind: str, name: str) -> str:
        available = self.names(kind)
        parts = [f"no {kind} component named {name!r}."]
        close = suggest(name, available)
        if close:
            parts.append(f"Did you mean {' or '.join(repr(c) for c in close)}?")
        elsewhere = [c.kind for c in self.find(name)]
        if elsewhere:
            parts.append(f"{name!r} is registered as kind {', '.join(elsewhere)}, not {kind}.")
        namespace = name.split(".", 1)[0]
        if namespace not in self.plugins:
            failed = [f for f in self.failures if f.name == namespace]
            if failed:
                parts.append(f"Plugin {namespace!r} failed to load: {failed[0].error}")
            elif namespace in self.blocked:
                parts.append(f"Plugin {namespace!r} is blocked (DELTA_BLOCK_PLUGINS).")
            elif namespace in KNOWN_DISTRIBUTIONS:
                parts.append(
                    f"No plugin provides namespace {namespace!r}; "
                    f"install {KNOWN_DISTRIBUTIONS[namespace]}."
                )
            else:
                parts.append(f"No installed plugin provides namespace {namespace!r}.")
        parts.append(
            f"Available {kind} components: {', '.join(available) if available else '(none)'}."
        )
        return " ".join(parts)


class PluginRegistrar:
    """The typed registry handed to one plugin's ``delta_register`` hook.

    Every name must be ``"<namespace>.<component>"`` where ``namespace`` is the
    plugin's own; names are lower-case ``[a-z0-9_]`` segments joined by dots.
    """

    def __init__(self, registry: Registry, namespace: str) -> None:
        self._registry = registry
        self.namespace = namespace
        self.added: list[Component] = []

    def add(
        self, kind: Kind, name: str, ref: str, *, config: str | None = None, summary: str = ""
    ) -> None:
        """Register a component of ``kind``; see the ``add_<kind>`` shortcuts."""
        if kind not in KINDS:
            raise NamespaceError(f"plugin {self.namespace!r}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
        if not _NAME_RE.match(name):
            raise NamespaceError(
                f"plugin {self.namespace!r}: {kind} name {name!r} is not of the form "
                f"'{self.namespace}.<name>' (lower-case letters, digits, '_', '.')"
            )
        if not name.startswith(self.namespace + "."):
            raise NamespaceError(
                f"plugin {self.namespace!r} may only register names starting with "
                f"'{self.namespace}.', not {kind} {name!r}"
            )
        for what, value in (("ref", ref), ("config", config)):
            if value is not None and not _REF_RE.match(value):
                raise NamespaceError(
                    f"plugin {self.namespace!r}: {kind} {name!r}: {what} {value!r} "
                    "must be a 'package.module:attribute' string"
                )
        component = Component(kind, name, ref, config, summary, self.namespace)
        self._registry.add(component)
        self.added.append(component)

    def add_phy(self, name: str, ref: str, *, config: str | None = None, summary: str = "") -> None:
        """Register a :class:`~delta_core.interfaces.phy.PhyModel`."""
        self.add("phy", name, ref, config=config, summary=summary)

    def add_nn(self, name: str, ref: str, *, config: str | None = None, summary: str = "") -> None:
        """Register an :class:`~delta_core.interfaces.nn.NN`."""
        self.add("nn", name, ref, config=config, summary=summary)

    def add_dmodel(self, name: str, ref: str, *, config: str | None = None, summary: str = "") -> None:
        """Register a :class:`~delta_core.interfaces.dmodel.DModel` (a coupling)."""
        self.add("dmodel", name, ref, config=config, summary=summary)

    def add_dataset(self, name: str, ref: str, *, config: str | None = None, summary: str = "") -> None:
        """Register a :class:`~delta_core.interfaces.dataset.Dataset`."""
        self.add("dataset", name, ref, config=config, summary=summary)

    def add_loss(self, name: str, ref: str, *, config: str | None = None, summary: str = "") -> None:
        """Register a :class:`~delta_core.interfaces.loss.Loss`."""
        self.add("loss", name, ref, config=config, summary=summary)

    def add_metric(self, name: str, ref: str, *, config: str | None = None, summary: str = "") -> None:
        """Register a :class:`~delta_core.interfaces.metric.Metric`."""
        self.add("metric", name, ref, config=config, summary=summary)

    def add_trainer(self, name: str, ref: str, *, config: str | None = None, summary: str = "") -> None:
        """Register a :class:`~delta_core.interfaces.trainer.Trainer`."""
        self.add("trainer", name, ref, config=config, summary=summary)

    def add_preset(self, name: str, ref: str, *, summary: str = "") -> None:
        """Register a complete default experiment.

        ``ref`` points to a mapping or a zero-argument callable returning one, in the
        experiment schema. By convention a preset carries the name of the component it
        demonstrates, so ``delta train --plugin hydro.hbv`` trains preset ``hydro.hbv``.
        """
        self.add("preset", name, ref, summary=summary)
