"""``delta plugins list`` and ``delta plugins show``."""

from __future__ import annotations

import inspect
import json
import textwrap
from typing import Any

import attrs
import click

from delta_core.plugins.registry import KINDS, Component, Registry, RegistryError, suggest


def _registry() -> Registry:
    from delta_core.plugins.manager import get_registry

    return get_registry()


@click.group("plugins")
def plugins_group() -> None:
    """Inspect installed plugins and their components."""


def plugins_as_dict(registry: Registry) -> dict[str, Any]:
    """Plain-data description of plugins, components, failures and blocked plugins."""
    plugins = []
    for name, info in sorted(registry.plugins.items()):
        components: dict[str, list[str]] = {}
        for c in registry.by_plugin(name):
            components.setdefault(c.kind, []).append(c.name)
        plugins.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "module": info.module,
                "components": components,
            }
        )
    return {
        "plugins": plugins,
        "failures": [attrs.asdict(f) for f in registry.failures],
        "blocked": list(registry.blocked),
    }


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_command(as_json: bool) -> None:
    """List plugins, their versions and components by kind, and load errors."""
    registry = _registry()
    data = plugins_as_dict(registry)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for plugin in data["plugins"]:
        dist = plugin["distribution"] or "(not installed)"
        click.secho(f"{plugin['name']}  {dist} {plugin['version'] or ''}".rstrip(), bold=True)
        for kind in KINDS:
            for name in plugin["components"].get(kind, []):
                summary = registry.get(kind, name).summary
                click.echo(f"  {kind:<8} {name:<28} {summary}".rstrip())
    for failure in data["failures"]:
        click.secho(f"FAILED {failure['name']}: {failure['error']}", fg="red", err=False)
    for name in data["blocked"]:
        click.echo(f"blocked {name} (DELTA_BLOCK_PLUGINS)")


def _config_rows(cls: type) -> list[tuple[str, str, str]]:
    rows = []
    for f in attrs.fields(cls):
        if f.default is attrs.NOTHING:
            default = "(required)"
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            default = repr(f.default.factory())  # type: ignore[union-attr]
        else:
            default = repr(f.default)
        t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append((f.name, str(t), default))
    return rows


def _table(rows: list[tuple[str, ...]], indent: str = "  ") -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def describe_component(component: Component) -> str:
    """Human-readable description: docstring, config fields, and for a PhyModel its declarations."""
    lines = [f"{component.name}  ({component.kind}, plugin {component.plugin}, {component.ref})"]
    if component.summary:
        lines.append(f"  {component.summary}")
    impl = component.load()
    doc = inspect.getdoc(impl) if not isinstance(impl, dict) else None
    if doc:
        lines += ["", textwrap.indent(doc, "  ")]
    config_cls = component.load_config_class()
    if config_cls is not None:
        lines += ["", "config fields (params):", _table([("name", "type", "default"), *_config_rows(config_cls)])]
    if component.kind == "phy":
        lines += _describe_phy(impl, config_cls)
    return "\n".join(lines)


def _describe_phy(cls: Any, config_cls: type | None) -> list[str]:
    from delta_core.interfaces.specs import format_parameter_table

    try:
        model = cls(config_cls()) if config_cls is not None else cls()
    except Exception as exc:
        return ["", f"(cannot instantiate with default config to list declarations: {exc!r})"]
    out = ["", f"parameters (default config; physical = lo + u*(hi - lo), u in [0, 1]; "
               f"n_components={model.n_components}):",
           textwrap.indent(format_parameter_table(model.param_specs), "  ")]
    for title, variables in (("forcings", model.forcings), ("attributes", model.attributes),
                             ("states", model.state_vars), ("outputs", model.output_vars)):
        if variables:
            out += ["", f"{title}:", _table([(v.name, v.units, v.long_name) for v in variables])]
    return out


@plugins_group.command("show")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), help="Only the component of this kind.")
def show_command(name: str, kind: str | None) -> None:
    """Show a component: documentation, config fields, and a PhyModel's parameter bounds."""
    registry = _registry()
    found = [c for c in registry.find(name) if kind is None or c.kind == kind]
    if not found:
        every = sorted({c.name for c in registry})
        close = suggest(name, every)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise click.ClickException(
            f"no component named {name!r}.{hint} Available: {', '.join(every) or '(none)'}."
        )
    try:
        click.echo("\n\n".join(describe_component(c) for c in found if c.kind != "preset" or len(found) == 1))
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
