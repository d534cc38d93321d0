"""Plugin discovery and the registry: the messages a user or plugin author sees."""

from __future__ import annotations

import sys
import types
from importlib import metadata

import pytest

from delta_core.plugins import hookimpl
from delta_core.plugins.manager import PluginLoadWarning, build_registry
from delta_core.plugins.registry import (
    ComponentLoadError,
    ComponentNotFoundError,
    DuplicateComponentError,
    NamespaceError,
    Registry,
)


def _plugin(name: str, register) -> types.ModuleType:  # type: ignore[no-untyped-def]
    """A plugin module whose ``delta_register`` hook calls ``register(registry)``."""
    module = types.ModuleType(name)

    @hookimpl
    def delta_register(registry) -> None:  # type: ignore[no-untyped-def]
        register(registry)

    module.delta_register = delta_register  # type: ignore[attr-defined]
    return module


def _install_module(monkeypatch: pytest.MonkeyPatch, name: str, module: types.ModuleType) -> None:
    monkeypatch.setitem(sys.modules, name, module)


def test_unknown_name_suggests_close_match(toy_registry: Registry) -> None:
    with pytest.raises(ComponentNotFoundError) as err:
        toy_registry.get("phy", "toy.bukket")
    assert str(err.value) == (
        "no phy component named 'toy.bukket'. Did you mean 'toy.bucket'? "
        "Available phy components: toy.bucket."
    )


def test_unknown_namespace_names_the_distribution_to_install(toy_registry: Registry) -> None:
    with pytest.raises(ComponentNotFoundError) as err:
        toy_registry.get("phy", "photosynth.fvcb")
    assert str(err.value) == (
        "no phy component named 'photosynth.fvcb'. No plugin provides namespace 'photosynth'; "
        "install deltamod-photosynth. Available phy components: toy.bucket."
    )


def test_name_of_another_kind_is_pointed_out(toy_registry: Registry) -> None:
    with pytest.raises(ComponentNotFoundError, match="'toy.net' is registered as kind nn, not phy"):
        toy_registry.get("phy", "toy.net")


def test_duplicate_name_is_an_error() -> None:
    registry = Registry()
    registrar = registry.registrar("toy")
    registrar.add_phy("toy.bucket", "pkg.a:Bucket")
    with pytest.raises(DuplicateComponentError) as err:
        registrar.add_phy("toy.bucket", "pkg.b:Bucket")
    assert str(err.value) == (
        "phy 'toy.bucket' is already registered by plugin 'toy' (pkg.a:Bucket); "
        "cannot register it again (pkg.b:Bucket)"
    )


def test_same_name_different_kind_is_allowed() -> None:
    registry = Registry()
    registrar = registry.registrar("toy")
    registrar.add_phy("toy.bucket", "pkg.a:Bucket")
    registrar.add_preset("toy.bucket", "pkg.a:PRESET")
    assert registry.get("preset", "toy.bucket").ref == "pkg.a:PRESET"


def test_plugin_may_not_register_outside_its_namespace() -> None:
    registrar = Registry().registrar("toy")
    with pytest.raises(NamespaceError) as err:
        registrar.add_nn("nn.lstm", "pkg:Net")
    assert str(err.value) == "plugin 'toy' may only register names starting with 'toy.', not nn 'nn.lstm'"


def test_ill_formed_names_and_refs_are_rejected() -> None:
    registrar = Registry().registrar("toy")
    with pytest.raises(NamespaceError, match=r"phy name 'toy' is not of the form 'toy.<name>'"):
        registrar.add_phy("toy", "pkg:Bucket")
    with pytest.raises(NamespaceError, match=r"ref 'pkg.Bucket' must be a 'package.module:attribute' string"):
        registrar.add_phy("toy.bucket", "pkg.Bucket")


def test_outside_namespace_during_loading_skips_plugin_and_reports() -> None:
    def register(registry) -> None:  # type: ignore[no-untyped-def]
        registry.add_phy("rogue.ok", "pkg:Ok")
        registry.add_phy("hydro.hbv", "pkg:Fake")

    with pytest.warns(PluginLoadWarning, match="deltamod plugin 'rogue' skipped: registration failed"):
        registry, _ = build_registry(autoload=False, extra_plugins={"rogue": _plugin("rogue", register)})
    assert ("phy", "rogue.ok") not in registry  # nothing of a failed plugin is kept
    assert "rogue" not in registry.plugins
    (failure,) = registry.failures
    assert failure.error == (
        "registration failed: NamespaceError: plugin 'rogue' may only register names "
        "starting with 'rogue.', not phy 'hydro.hbv'"
    )


def test_broken_plugin_module_is_skipped_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    good = _plugin("good_plugin", lambda r: r.add_phy("good.model", "good_plugin:Model"))
    _install_module(monkeypatch, "good_plugin", good)
    eps = [
        metadata.EntryPoint("broken", "delta_missing_module_xyz.plugin", "delta.plugins"),
        metadata.EntryPoint("good", "good_plugin", "delta.plugins"),
    ]
    with pytest.warns(PluginLoadWarning) as record:
        registry, _ = build_registry(autoload=True, entry_points=eps)
    assert [str(w.message) for w in record] == [
        "deltamod plugin 'broken' skipped: cannot load delta_missing_module_xyz.plugin: "
        "ModuleNotFoundError: No module named 'delta_missing_module_xyz'"
    ]
    assert registry.get("phy", "good.model").plugin == "good"
    assert [f.name for f in registry.failures] == ["broken"]
    with pytest.raises(ComponentNotFoundError, match="Plugin 'broken' failed to load: cannot load"):
        registry.get("phy", "broken.model")


def test_plugin_raising_at_import_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [metadata.EntryPoint("bad", "delta_core.plugins.registry:NoSuchAttribute", "delta.plugins")]
    with pytest.warns(PluginLoadWarning, match="cannot load delta_core.plugins.registry:NoSuchAttribute"):
        registry, _ = build_registry(autoload=True, entry_points=eps)
    assert "bad" not in registry.plugins


def test_hook_with_wrong_signature_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("wrong_sig")

    @hookimpl
    def delta_register(registry, extra) -> None:  # type: ignore[no-untyped-def]
        pass

    module.delta_register = delta_register  # type: ignore[attr-defined]
    _install_module(monkeypatch, "wrong_sig", module)
    eps = [metadata.EntryPoint("wrong", "wrong_sig", "delta.plugins")]
    with pytest.warns(PluginLoadWarning, match=r"PluginValidationError: .*extra"):
        build_registry(autoload=True, entry_points=eps)


def test_two_plugins_claiming_one_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_module(monkeypatch, "ns_one", _plugin("ns_one", lambda r: None))
    _install_module(monkeypatch, "ns_two", _plugin("ns_two", lambda r: None))
    eps = [
        metadata.EntryPoint("same", "ns_one", "delta.plugins"),
        metadata.EntryPoint("same", "ns_two", "delta.plugins"),
    ]
    with pytest.warns(PluginLoadWarning, match="namespace 'same' is already provided by ns_one; skipped ns_two"):
        registry, _ = build_registry(autoload=True, entry_points=eps)
    assert registry.plugins["same"].module == "ns_one"


def test_autoload_can_be_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_module(monkeypatch, "auto_p", _plugin("auto_p", lambda r: r.add_phy("auto.m", "auto_p:M")))
    eps = [metadata.EntryPoint("auto", "auto_p", "delta.plugins")]
    monkeypatch.setenv("DELTA_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry, _ = build_registry(entry_points=eps)
    assert set(registry.plugins) == {"core"}
    monkeypatch.setenv("DELTA_PLUGINS", "auto")  # explicit request still loads it
    registry, _ = build_registry(entry_points=eps)
    assert set(registry.plugins) == {"core", "auto"}


def test_block_list(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_module(monkeypatch, "blk_p", _plugin("blk_p", lambda r: r.add_phy("blk.m", "blk_p:M")))
    eps = [metadata.EntryPoint("blk", "blk_p", "delta.plugins")]
    monkeypatch.setenv("DELTA_BLOCK_PLUGINS", "blk, other")
    registry, _ = build_registry(autoload=True, entry_points=eps)
    assert registry.blocked == ["blk"]
    with pytest.raises(ComponentNotFoundError, match=r"Plugin 'blk' is blocked \(DELTA_BLOCK_PLUGINS\)"):
        registry.get("phy", "blk.m")


def test_builtins_register_through_the_same_hook(toy_registry: Registry) -> None:
    component = toy_registry.get("dmodel", "core.param_learning")
    assert component.plugin == "core"
    assert toy_registry.plugins["core"].distribution == "deltamod-core"


def test_lazy_reference_loading(toy_registry: Registry) -> None:
    from tests.core.plugins.toy_impl import Bucket

    assert toy_registry.get("phy", "toy.bucket").load() is Bucket
    broken = Registry().registrar("toy")
    broken.add_phy("toy.gone", "tests.core.plugins.toy_impl:Gone")
    with pytest.raises(ComponentLoadError, match="module 'tests.core.plugins.toy_impl' has no attribute 'Gone'"):
        broken._registry.get("phy", "toy.gone").load()


def test_installed_first_party_plugins_register_their_namespaces() -> None:
    """With the domain packages installed, each owns its namespace (skipped in core-alone runs)."""
    names = {ep.name for ep in metadata.entry_points(group="delta.plugins")}
    if "hydro" not in names:
        pytest.skip("deltamod-hydro is not installed (core-alone session)")
    registry, _ = build_registry(autoload=True, only=None)
    assert registry.plugins["hydro"].distribution == "deltamod-hydro"
    assert registry.get("phy", "hydro.hbv").plugin == "hydro"
