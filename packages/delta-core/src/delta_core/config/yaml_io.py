"""YAML reading with YAML 1.2 scalar rules, and YAML writing for configs.

PyYAML implements YAML 1.1, whose implicit typing surprises scientists:
``lr: 1e-3`` is the *string* ``"1e-3"``, ``yes``/``no``/``on``/``off`` are booleans,
``01013500`` is the octal integer 268096 and ``1981-10-01`` is a ``datetime.date``.
:class:`StrictLoader` resolves plain scalars as YAML 1.2's core schema does, except
that numbers with a leading zero stay strings (gauge ids), and dates stay strings
(the configuration validates them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-style implicit scalar resolution (see module docstring)."""


# Replace, not extend, the inherited YAML 1.1 resolvers.
StrictLoader.yaml_implicit_resolvers = {}

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)

StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    text = str(value)
    if text.startswith("0x"):
        return int(text, 16)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text)


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = str(loader.construct_scalar(node)).lower()  # type: ignore[arg-type]
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"  # type: ignore[arg-type]


StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
StrictLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


class YAMLReadError(ValueError):
    """A YAML file or snippet that cannot be parsed; the message names the source."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


StrictLoader.add_constructor("tag:yaml.org,2002:map", _no_duplicates)


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Parse ``text`` with :class:`StrictLoader`; errors name ``source`` and the line."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        raise YAMLReadError(f"{source}: not valid YAML: {exc}") from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with :class:`StrictLoader`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YAMLReadError(f"{p}: file not found") from None
    except OSError as exc:
        raise YAMLReadError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_yaml(text, str(p))


class _Dumper(yaml.SafeDumper):
    """Dumper that quotes strings which the strict loader would read as another type."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = None
    if _BOOL.match(data) or _NULL.match(data) or _INT.match(data) or _FLOAT.match(data) or (
        data[:1].isdigit() or data.lower() in {"yes", "no", "on", "off", "y", "n"}
    ):
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(tuple, lambda d, data: d.represent_list(list(data)))


def dump_yaml(data: Any) -> str:
    """YAML text for ``data`` that :func:`parse_yaml` reads back to the same values."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
