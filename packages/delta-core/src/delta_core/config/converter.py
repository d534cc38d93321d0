"""A strict cattrs converter for deltamod configurations.

Differences from cattrs' defaults, each on purpose:

- no coercion: ``2.7`` is not an ``int``, ``"3"`` is not an ``int``, ``true`` is not
  a number, an ``int`` is not a ``str`` (gauge ids must be written as strings);
  an ``int`` is accepted for a ``float`` (no information is lost);
- a string is not a sequence (``dynamic: BETA`` is an error, not ``("B", "E", ...)``);
- unknown keys are errors with "did you mean" hints;
- attrs validators run field by field, so range errors carry the field's path, and
  every problem in the document is reported at once (see :mod:`.errors`);
- component sections (:class:`~delta_core.config.schema.ComponentConfig`) resolve
  their ``name`` in the plugin registry and structure ``params`` into the component's
  own attrs class: the second of the two passes, done in the same walk so that core
  and plugin problems are reported together.
"""

from __future__ import annotations

import collections.abc as cabc
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)

from delta_core.config.errors import ConfigValueError, UnknownKeysError, describe
from delta_core.plugins.registry import Registry, RegistryError

_SEQUENCE_ORIGINS = {tuple, list, cabc.Sequence, frozenset, set}
_MAPPING_ORIGINS = {dict, cabc.Mapping, cabc.MutableMapping}


def _type_name(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")


# -- primitives -------------------------------------------------------------------------
def _structure_int(value: Any, _: type) -> int:
    if type(value) is int:
        return value
    raise ConfigValueError(f"expected an integer, got {describe(value)}")


def _structure_float(value: Any, _: type) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise ConfigValueError(f"expected a number, got {describe(value)}")


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    hint = " (quote ids and codes, e.g. '01013500')" if type(value) is int else ""
    raise ConfigValueError(f"expected a string, got {describe(value)}{hint}")


def _structure_bool(value: Any, _: type) -> bool:
    if type(value) is bool:
        return value
    raise ConfigValueError(f"expected true or false, got {describe(value)}")


def _structure_any(value: Any, _: Any) -> Any:
    return value


def _origin(t: Any) -> Any:
    return typing.get_origin(t)


def _is_union(t: Any) -> bool:
    return _origin(t) in (typing.Union, types.UnionType)


def _is_literal(t: Any) -> bool:
    return _origin(t) is Literal


def _is_sequence(t: Any) -> bool:
    return _origin(t) in _SEQUENCE_ORIGINS or t in (tuple, list)


def _is_mapping(t: Any) -> bool:
    return _origin(t) in _MAPPING_ORIGINS or t is dict


@functools.cache
def _resolved_fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    attrs.resolve_types(cls)
    return attrs.fields(cls)


def make_converter(registry: Registry | None = None) -> cattrs.Converter:
    """A strict converter; with ``registry``, component names are resolved and checked.

    Parameters
    ----------
    registry
        The plugin registry used to resolve component sections; ``None`` keeps each
        component's ``params`` as a plain mapping.
    """
    from delta_core.config.schema import (
        DEFAULT_COUPLING,
        ComponentConfig,
        DModelComponent,
        ModelConfig,
        NNComponent,
        Period,
        PhyComponent,
    )

    conv = cattrs.Converter()

    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(typing.Any, _structure_any)

    def structure_union(value: Any, t: Any) -> Any:
        members = typing.get_args(t)
        if value is None:
            if type(None) in members:
                return None
            raise ConfigValueError(f"a value is required, got null (expected {_type_name(t)})")
        candidates = [m for m in members if m is not type(None)]
        if len(candidates) == 1:
            return conv.structure(value, candidates[0])
        for member in candidates:
            try:
                return conv.structure(value, member)
            except Exception:
                continue
        raise ConfigValueError(
            f"expected one of {', '.join(_type_name(m) for m in candidates)}, got {describe(value)}"
        )

    def structure_literal(value: Any, t: Any) -> Any:
        choices = typing.get_args(t)
        for c in choices:
            if value == c and type(value) is type(c):
                return c
        raise ConfigValueError(
            f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
        )

    def structure_sequence(value: Any, t: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ConfigValueError(f"expected a list, got {describe(value)}")
        args = typing.get_args(t)
        origin = _origin(t) or t
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ConfigValueError(f"expected a list of {len(args)} items, got {len(value)}")
            item_types = list(args)
        else:
            item_types = [args[0] if args else typing.Any] * len(value)
        items, errors = [], []
        for i, (item, item_type) in enumerate(zip(value, item_types, strict=True)):
            try:
                items.append(conv.structure(item, item_type))
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"Structuring {t} @ index {i}", i, item_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {_type_name(t)}", errors, t)
        if origin in (list, cabc.MutableSequence):
            return items
        if origin in (set, frozenset):
            return origin(items)
        return tuple(items)

    def structure_mapping(value: Any, t: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ConfigValueError(f"expected a mapping, got {describe(value)}")
        args = typing.get_args(t) or (typing.Any, typing.Any)
        out, errors = {}, []
        for key, item in value.items():
            try:
                k = conv.structure(key, args[0])
                out[k] = conv.structure(item, args[1])
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"Structuring mapping @ key {key!r}", key, args[1]))
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {_type_name(t)}", errors, t)
        return out

    def structure_attrs(value: Any, cls: type) -> Any:
        return _structure_attrs_class(conv, value, cls)

    def structure_component(value: Any, cls: type) -> Any:
        return _structure_component(conv, registry, value, cls)

    conv.register_structure_hook_func(_is_union, structure_union)
    conv.register_structure_hook_func(_is_literal, structure_literal)
    conv.register_structure_hook_func(_is_sequence, structure_sequence)
    conv.register_structure_hook_func(_is_mapping, structure_mapping)
    conv.register_structure_hook_func(attrs.has, structure_attrs)
    conv.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, ComponentConfig), structure_component
    )

    def structure_period(value: Any, cls: type) -> Any:
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise ConfigValueError(f"expected [start, end], got a list of {len(value)} items")
            value = {"start": value[0], "end": value[1]}
        return _structure_attrs_class(conv, value, cls)

    def structure_model(value: Any, cls: type) -> Any:
        if not isinstance(value, Mapping):
            raise ConfigValueError(f"expected a model section {{name, params, phy, nn}}, got {describe(value)}")
        errors: list[Exception] = []
        coupling_raw = {"name": value.get("name", DEFAULT_COUPLING), "params": value.get("params")}
        parts: dict[str, Any] = {}
        try:
            parts["coupling"] = conv.structure(coupling_raw, DModelComponent)
        except ClassValidationError as exc:
            errors.extend(exc.exceptions)  # keeps `name`/`params` notes: paths $.model.name...
        for key, item_cls in (("phy", PhyComponent), ("nn", NNComponent)):
            if key not in value:
                if key == "phy":  # a coupling may use no network (e.g. core.free_parameters)
                    errors.append(_note(KeyError(key), cls, key, item_cls))
                else:
                    parts[key] = ()
                continue
            raw = value[key]
            try:
                if isinstance(raw, (list, tuple)):
                    parts[key] = conv.structure(raw, tuple[item_cls, ...])
                else:
                    parts[key] = (conv.structure(raw, item_cls),)
            except Exception as exc:
                errors.append(_note(exc, cls, key, item_cls))
        unknown = [str(k) for k in value if k not in ("name", "params", "phy", "nn")]
        if unknown:
            errors.append(UnknownKeysError("model", unknown, ["name", "params", "phy", "nn"]))
        if errors:
            raise ClassValidationError("While structuring model", errors, cls)
        return cls(**parts)

    conv.register_structure_hook(Period, structure_period)
    conv.register_structure_hook(ModelConfig, structure_model)

    def unstructure_model(model: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"name": model.coupling.name, "params": conv.unstructure(model.coupling.params)}
        for key in ("phy", "nn"):
            items = [conv.unstructure(c) for c in getattr(model, key)]
            out[key] = items[0] if len(items) == 1 else items
        return out

    conv.register_unstructure_hook(ModelConfig, unstructure_model)
    conv.register_unstructure_hook(Period, lambda p: [p.start, p.end])
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, ComponentConfig),
        lambda c: {"name": c.name, "params": conv.unstructure(c.params) if c.params is not None else {}},
    )
    return conv


def _note(exc: Exception, cls: type, name: str, t: Any) -> Exception:
    exc.add_note(AttributeValidationNote(f"Structuring class {cls.__qualname__} @ attribute {name}", name, t))
    return exc


def _structure_attrs_class(conv: cattrs.Converter, value: Any, cls: type) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigValueError(f"expected a mapping of {cls.__name__} options, got {describe(value)}")
    fields = [f for f in _resolved_fields(cls) if f.init]
    errors: list[Exception] = []
    kwargs: dict[str, Any] = {}
    keys = []
    for f in fields:
        key = f.alias or f.name
        keys.append(key)
        if key not in value:
            if f.default is attrs.NOTHING:
                errors.append(_note(KeyError(key), cls, key, f.type))
            continue
        try:
            kwargs[key] = conv.structure(value[key], f.type)
        except Exception as exc:
            errors.append(_note(exc, cls, key, f.type))
    # Validators run field by field (so each error carries its path) against a view of
    # all values, since some validators read other fields (e.g. a model variant).
    values = _defaults(fields)
    values.update({f.name: kwargs[f.alias or f.name] for f in fields if (f.alias or f.name) in kwargs})
    view = types.SimpleNamespace(**values)
    for f in fields:
        key = f.alias or f.name
        if f.validator is None or key not in kwargs:
            continue
        try:
            f.validator(view, f, kwargs[key])
        except (ValueError, TypeError, AttributeError) as exc:
            errors.append(_note(ConfigValueError(str(exc)), cls, key, f.type))
    order = {key: i for i, key in enumerate(keys)}
    errors.sort(key=lambda e: order.get(_noted_name(e), len(order)))  # report in field order
    unknown = [str(k) for k in value if k not in keys]
    if unknown:
        errors.append(UnknownKeysError(cls.__name__, unknown, keys))
    if errors:
        raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # cross-field checks in __attrs_post_init__
        raise ClassValidationError(f"While structuring {cls.__name__}", [ConfigValueError(str(exc))], cls) from None


def _noted_name(exc: Exception) -> str | None:
    for note in getattr(exc, "__notes__", []):
        if isinstance(note, AttributeValidationNote):
            return note.name
    return None


def _defaults(fields: list[attrs.Attribute[Any]]) -> dict[str, Any]:
    out = {}
    for f in fields:
        if isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            if not f.default.takes_self:  # type: ignore[union-attr]
                out[f.name] = f.default.factory()  # type: ignore[union-attr]
        elif f.default is not attrs.NOTHING:
            out[f.name] = f.default
    return out


def _structure_component(
    conv: cattrs.Converter, registry: Registry | None, value: Any, cls: type
) -> Any:
    kind = cls.KIND  # type: ignore[attr-defined]
    if isinstance(value, str):  # shorthand: `nn: nn.lstm`
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise ConfigValueError(f"expected a {kind} component {{name, params}}, got {describe(value)}")
    errors: list[Exception] = []
    unknown = [str(k) for k in value if k not in ("name", "params")]
    if unknown:
        errors.append(UnknownKeysError(f"{kind} component", unknown, ["name", "params"]))
    name = value.get("name", cls.DEFAULT)  # type: ignore[attr-defined]
    raw_params = value.get("params")
    if raw_params is None:
        raw_params = {}
    params: Any = raw_params
    if name is None:
        errors.append(_note(KeyError("name"), cls, "name", str))
    elif not isinstance(name, str):
        errors.append(_note(ConfigValueError(f"expected a component name, got {describe(name)}"), cls, "name", str))
    elif registry is not None:
        try:
            component = registry.get(kind, name)
            config_cls = component.load_config_class()
        except RegistryError as exc:
            errors.append(_note(ConfigValueError(str(exc)), cls, "name", str))
        else:
            if config_cls is None:
                if raw_params:
                    errors.append(
                        _note(ConfigValueError(f"{kind} {name!r} takes no params, got {describe(raw_params)}"),
                              cls, "params", dict)
                    )
                params = None
            else:
                try:
                    params = conv.structure(raw_params, config_cls)
                except Exception as exc:
                    errors.append(_note(exc, cls, "params", config_cls))
    if errors:
        raise ClassValidationError(f"While structuring {kind} component", errors, cls)
    return cls(name=name, params=params)

