"""Building blocks shared by delta-nn's networks: checks, squashing, init, MLP trunks."""

from __future__ import annotations

import torch

from delta_core.interfaces.nn import NNSpec, NNSpecError


class NNInputError(ValueError):
    """Raised when ``forward`` receives inputs that do not match the network's spec."""


def activation_module(name: str) -> torch.nn.Module:
    """A fresh hidden-activation module for ``name`` (see :class:`delta_nn.config.MLPConfig`)."""
    modules: dict[str, type[torch.nn.Module]] = {
        "relu": torch.nn.ReLU,
        "tanh": torch.nn.Tanh,
        "gelu": torch.nn.GELU,
        "elu": torch.nn.ELU,
        "silu": torch.nn.SiLU,
        "leaky_relu": torch.nn.LeakyReLU,
        "sigmoid": torch.nn.Sigmoid,
    }
    try:
        return modules[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(modules)}") from None


def squash(raw: torch.Tensor, spec: NNSpec, output_activation: str) -> torch.Tensor:
    """Map raw head values to the spec's output range.

    ``output_range="unit"``: ``output_activation`` (``"sigmoid"``, ``"hardsigmoid"`` or
    ``"clamp"``), every value in ``[0, 1]``. ``"unbounded"``: identity.
    """
    if spec.output_range != "unit":
        return raw
    if output_activation == "sigmoid":
        return torch.sigmoid(raw)
    if output_activation == "hardsigmoid":
        return torch.nn.functional.hardsigmoid(raw)
    if output_activation == "clamp":
        return raw.clamp(0.0, 1.0)
    raise ValueError(f"unknown output_activation {output_activation!r}")


def init_linear(layer: torch.nn.Linear, how: str) -> None:
    """Initialise one ``Linear`` layer: ``"xavier_uniform"`` (bias 0) or ``"torch_default"``."""
    if how == "xavier_uniform":
        torch.nn.init.xavier_uniform_(layer.weight)
        if layer.bias is not None:
            torch.nn.init.zeros_(layer.bias)
    elif how == "torch_default":
        layer.reset_parameters()
    else:
        raise ValueError(f"unknown linear_init {how!r}")


def make_linear(n_in: int, n_out: int, how: str) -> torch.nn.Linear:
    """``Linear(n_in, n_out)`` initialised with :func:`init_linear`."""
    layer = torch.nn.Linear(n_in, n_out)
    init_linear(layer, how)
    return layer


def mlp_trunk(
    n_in: int, hidden_size: int, num_layers: int, activation: str, dropout: float, linear_init: str
) -> torch.nn.Sequential:
    """``num_layers`` blocks of ``Linear -> activation -> Dropout``; output width ``hidden_size``."""
    layers: list[torch.nn.Module] = []
    width = n_in
    for _ in range(num_layers):
        layers += [
            make_linear(width, hidden_size, linear_init),
            activation_module(activation),
            torch.nn.Dropout(dropout),
        ]
        width = hidden_size
    return torch.nn.Sequential(*layers)


def check_spec_common(name: str, spec: NNSpec) -> None:
    """Errors every network shares: no outputs at all, or dynamic outputs without dynamic inputs."""
    if spec.n_dynamic_outputs == 0 and spec.n_static_outputs == 0:
        raise NNSpecError(f"{name}: the spec asks for no outputs (n_dynamic_outputs = n_static_outputs = 0)")
    if spec.n_dynamic_outputs and spec.n_dynamic_inputs == 0:
        raise NNSpecError(
            f"{name}: {spec.n_dynamic_outputs} dynamic outputs need dynamic inputs "
            "(n_dynamic_inputs = 0 leaves no time axis)"
        )


def check_inputs(
    name: str, spec: NNSpec, x_dynamic: torch.Tensor | None, x_static: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Check presence and shapes of ``x_dynamic [time, batch, f]`` and ``x_static [batch, g]``.

    An input is required exactly when the spec declares features for it (a zero-width
    tensor counts as absent); raises :class:`NNInputError` naming the input and the
    expected layout.

    Returns
    -------
    (x_dynamic, x_static)
        The inputs, each ``None`` when the spec declares no features for it.
    """
    for label, x, n, layout in (
        ("x_dynamic", x_dynamic, spec.n_dynamic_inputs, "[time, batch, {n}]"),
        ("x_static", x_static, spec.n_static_inputs, "[batch, {n}]"),
    ):
        expected = layout.format(n=n)
        if n == 0:
            if x is not None and x.shape[-1:] != (0,):  # a zero-width tensor counts as absent
                raise NNInputError(
                    f"{name}: got {label} of shape {tuple(x.shape)} but the spec declares "
                    f"no {label[2:]} inputs"
                )
            continue
        if x is None:
            raise NNInputError(f"{name}: {label} {expected} is required, got None")
        if x.ndim != expected.count(",") + 1 or x.shape[-1] != n:
            raise NNInputError(f"{name}: {label} must be {expected}, got shape {tuple(x.shape)}")
    if spec.n_dynamic_inputs:
        assert x_dynamic is not None
        if x_dynamic.shape[0] == 0:
            raise NNInputError(f"{name}: x_dynamic has no time steps")
        if spec.n_static_inputs and x_static is not None and x_static.shape[0] != x_dynamic.shape[1]:
            raise NNInputError(
                f"{name}: batch sizes differ: x_dynamic {tuple(x_dynamic.shape)}, "
                f"x_static {tuple(x_static.shape)}"
            )
    return (
        x_dynamic if spec.n_dynamic_inputs else None,
        x_static if spec.n_static_inputs else None,
    )


def with_static(x_dynamic: torch.Tensor, x_static: torch.Tensor | None) -> torch.Tensor:
    """``cat(x_dynamic, x_static broadcast over time)`` along features: ``[time, batch, f + g]``."""
    if x_static is None:
        return x_dynamic
    n_time = x_dynamic.shape[0]
    return torch.cat([x_dynamic, x_static.unsqueeze(0).expand(n_time, -1, -1)], dim=-1)
