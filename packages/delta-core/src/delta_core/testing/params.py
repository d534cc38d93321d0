"""Parameter tensors for exercising a :class:`~delta_core.interfaces.phy.PhyModel`.

Values are given on the unit scale ``u`` in ``[0, 1]`` and mapped into each parameter's
bounds as ``lo + u * (hi - lo)``, the same scaling the standard coupling applies; so
``u=0`` is the lower bound, ``u=1`` the upper bound and ``u=0.5`` the middle of the range.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from delta_core.interfaces.phy import PhyModel
from delta_core.interfaces.specs import Parameter

UnitValue = float | Mapping[str, float] | torch.Generator
"""How :func:`make_params` chooses ``u``: one number for every parameter, a number per
parameter name (unnamed ones get 0.5), or a generator that draws ``u`` uniformly per
element."""


def param_shape(phy: PhyModel, spec: Parameter, n_entity: int, n_time: int | None) -> tuple[int, ...]:
    """Shape of parameter ``spec`` as ``phy`` expects it.

    ``[entity, n_components]`` (``[entity]`` when not ``per_component``), with a
    leading ``time`` axis when ``n_time`` is given and ``spec`` is one of
    :attr:`PhyModel.dynamic_params`.
    """
    shape: tuple[int, ...] = (n_entity, phy.n_components) if spec.per_component else (n_entity,)
    if n_time is not None and spec.name in phy.dynamic_params:
        shape = (n_time, *shape)
    return shape


def scale_unit(phy: PhyModel, units: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map unit-scale tensors ``u`` in ``[0, 1]`` to physical values, by parameter name."""
    out = {}
    for spec in phy.param_specs:
        if spec.name in units:
            out[spec.name] = spec.lo + units[spec.name] * (spec.hi - spec.lo)
    return out


def make_unit_params(
    phy: PhyModel,
    n_entity: int,
    *,
    u: UnitValue = 0.5,
    n_time: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> dict[str, torch.Tensor]:
    """Unit-scale values ``u`` in ``[0, 1]`` for every declared parameter.

    See :func:`make_params` for the arguments; the result is not scaled into the bounds.
    """
    units: dict[str, torch.Tensor] = {}
    for spec in phy.param_specs:
        shape = param_shape(phy, spec, n_entity, n_time)
        if isinstance(u, torch.Generator):
            value = torch.rand(shape, generator=u, dtype=dtype, device=u.device).to(device)
        else:
            number = float(u.get(spec.name, 0.5)) if isinstance(u, Mapping) else float(u)
            if not 0.0 <= number <= 1.0:
                raise ValueError(f"u for parameter {spec.name!r} must be in [0, 1], got {number}")
            value = torch.full(shape, number, dtype=dtype, device=device)
        units[spec.name] = value
    if isinstance(u, Mapping):
        unknown = sorted(set(u) - {p.name for p in phy.param_specs})
        if unknown:
            raise ValueError(
                f"{type(phy).__name__}: u names undeclared parameters {unknown}; "
                f"declared: {', '.join(p.name for p in phy.param_specs)}"
            )
    return units


def make_params(
    phy: PhyModel,
    n_entity: int,
    *,
    u: UnitValue = 0.5,
    n_time: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    requires_grad: bool = False,
) -> dict[str, torch.Tensor]:
    """Physical values for every parameter ``phy`` declares.

    Parameters
    ----------
    phy
        The model whose :attr:`~PhyModel.param_specs` are filled.
    n_entity
        Number of entities (batch size).
    u
        Position within the bounds: a number in ``[0, 1]`` for all parameters, a mapping
        from parameter name to such a number (missing names get 0.5), or a
        :class:`torch.Generator` that draws every element uniformly in ``[0, 1]``.
    n_time
        Window length. When given, the parameters named in
        :attr:`~PhyModel.dynamic_params` are time series ``[time, ...]`` as the coupling
        provides them; when ``None``, every parameter is static.
    dtype, device
        Of the returned tensors.
    requires_grad
        Return leaf tensors that require gradients.

    Returns
    -------
    dict[str, torch.Tensor]
        ``[entity, n_components]`` (``[entity]`` when not ``per_component``), with a
        leading time axis for dynamic parameters, in the parameters' units.
    """
    params = scale_unit(phy, make_unit_params(phy, n_entity, u=u, n_time=n_time, dtype=dtype, device=device))
    if requires_grad:
        params = {name: value.detach().requires_grad_(True) for name, value in params.items()}
    return params


def make_static_params(
    phy: PhyModel,
    n_entity: int,
    *,
    u: UnitValue = 0.5,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> dict[str, torch.Tensor]:
    """Static physical values for every declared parameter (no time axis, even for dynamic ones).

    Shorthand for :func:`make_params` with ``n_time=None``; see there for ``u``.
    """
    return make_params(phy, n_entity, u=u, dtype=dtype, device=device)
