"""Configuration of delta-nn's networks (torch-free; frozen attrs classes).

Every class is immutable and validated on construction; a bad value raises
``ValueError`` naming the field. Fields shared by the three networks:

``output_activation``
    How raw head outputs are mapped into ``[0, 1]`` when the coupling asks for
    ``output_range="unit"``: ``"sigmoid"`` (default, smooth, never exactly 0 or 1 in
    exact arithmetic), ``"hardsigmoid"`` (``clamp(x / 6 + 1/2, 0, 1)``: linear in the
    middle, exactly 0 or 1 beyond ``|x| >= 3``, zero gradient there) or ``"clamp"``
    (``clamp(x, 0, 1)``, zero gradient outside). With ``output_range="unbounded"`` the
    outputs are the raw head values (identity) whatever this field says.
``linear_init``
    Initialisation of every ``Linear`` layer the network owns (input layer, hidden
    layers, heads): ``"xavier_uniform"`` (default; Glorot & Bengio 2010, gain 1, biases
    zero, so a fresh network's unit outputs sit near the middle of the range) or
    ``"torch_default"`` (PyTorch's own ``reset_parameters``: Kaiming-uniform weights with
    ``a=sqrt(5)``, uniform biases).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from delta_core.config.validators import one_of, positive

OutputActivation = Literal["sigmoid", "hardsigmoid", "clamp"]
Activation = Literal["relu", "tanh", "gelu", "elu", "silu", "leaky_relu", "sigmoid"]
LinearInit = Literal["xavier_uniform", "torch_default"]

OUTPUT_ACTIVATIONS: tuple[str, ...] = ("sigmoid", "hardsigmoid", "clamp")
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "gelu", "elu", "silu", "leaky_relu", "sigmoid")
LINEAR_INITS: tuple[str, ...] = ("xavier_uniform", "torch_default")


def _is_int(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{attribute.name} must be an integer, got {value!r}")


def _is_bool(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{attribute.name} must be true or false, got {value!r}")


def _is_real(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{attribute.name} must be a number, got {value!r}")


def _dropout_range(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1), got {value!r}")


def _optional_finite(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite number or None, got {value!r}")


_SIZE = attrs.validators.and_(_is_int, positive)
_DROPOUT = attrs.validators.and_(_is_real, _dropout_range)


@attrs.frozen
class LSTMConfig:
    """Options of ``nn.lstm`` (:class:`delta_nn.lstm.LSTMNet`).

    Layout of the network::

        x = cat(x_dynamic, x_static broadcast over time)      [time, batch, f + g]
        x = Dropout(input_dropout)(x)
        x = ReLU(Linear(f + g, hidden_size))(x)               if input_layer
        h = LSTM(hidden_size, num_layers, dropout between layers)(x)
        h = Dropout(dropout)(h)                                [time, batch, hidden_size]
        dynamic = squash(Linear(hidden_size, n_dynamic_outputs)(h))
        static  = squash(Linear(hidden_size, n_static_outputs)(h[-1]))

    Parameters
    ----------
    hidden_size
        Width of the LSTM state (and of the input layer). Default 256 (δHBV,
        Feng et al. 2022).
    num_layers
        Stacked LSTM layers.
    dropout
        Dropout probability in ``[0, 1)`` on the LSTM's output (before the heads) and,
        with ``num_layers > 1``, between stacked layers (``torch.nn.LSTM``'s own
        ``dropout``). Default 0.5 as in δHBV; note δHBV's CudnnLstm drops recurrent
        *weights* (DropConnect), this network drops activations, which cuDNN runs
        natively.
    input_dropout
        Dropout probability in ``[0, 1)`` on the concatenated inputs.
    input_layer
        Put ``Linear(n_inputs, hidden_size)`` + ReLU before the LSTM (as dMG's
        ``CudnnLstmModel``); otherwise the LSTM reads the inputs directly.
    forget_bias
        Initial forget-gate bias. With a number ``b`` (default 1.0, Gers et al. 2000;
        Jozefowicz et al. 2015) every LSTM layer starts with ``bias_ih`` zero except its
        forget-gate slice ``[hidden_size:2*hidden_size]`` set to ``b``, and ``bias_hh``
        zero, so the effective gate biases are 0 (input, cell, output) and ``b``
        (forget). ``None`` keeps PyTorch's default uniform biases. LSTM weights always
        keep PyTorch's default ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.
    output_activation, linear_init
        See :mod:`delta_nn.config`.
    """

    hidden_size: int = attrs.field(default=256, validator=_SIZE)
    num_layers: int = attrs.field(default=1, validator=_SIZE)
    dropout: float = attrs.field(default=0.5, validator=_DROPOUT)
    input_dropout: float = attrs.field(default=0.0, validator=_DROPOUT)
    input_layer: bool = attrs.field(default=True, validator=_is_bool)
    forget_bias: float | None = attrs.field(default=1.0, validator=_optional_finite)
    output_activation: OutputActivation = attrs.field(
        default="sigmoid", validator=one_of(OUTPUT_ACTIVATIONS)
    )
    linear_init: LinearInit = attrs.field(default="xavier_uniform", validator=one_of(LINEAR_INITS))


@attrs.frozen
class MLPConfig:
    """Options of ``nn.mlp`` (:class:`delta_nn.mlp.MLPNet`) and of the MLP of ``nn.lstm_mlp``.

    One trunk is ``num_layers`` blocks of ``Linear -> activation -> Dropout(dropout)``
    of width ``hidden_size``, followed by a linear head and the output squash.

    Parameters
    ----------
    hidden_size
        Width of every hidden layer.
    num_layers
        Number of hidden layers (at least 1).
    activation
        Hidden activation: ``"relu"``, ``"tanh"``, ``"gelu"``, ``"elu"``, ``"silu"``,
        ``"leaky_relu"`` (slope 0.01) or ``"sigmoid"``.
    dropout
        Dropout probability in ``[0, 1)`` after every hidden activation.
    output_activation, linear_init
        See :mod:`delta_nn.config`.
    """

    hidden_size: int = attrs.field(default=256, validator=_SIZE)
    num_layers: int = attrs.field(default=2, validator=_SIZE)
    activation: Activation = attrs.field(default="relu", validator=one_of(ACTIVATIONS))
    dropout: float = attrs.field(default=0.0, validator=_DROPOUT)
    output_activation: OutputActivation = attrs.field(
        default="sigmoid", validator=one_of(OUTPUT_ACTIVATIONS)
    )
    linear_init: LinearInit = attrs.field(default="xavier_uniform", validator=one_of(LINEAR_INITS))


def _to_lstm_config(value: LSTMConfig | Mapping[str, Any]) -> LSTMConfig:
    return LSTMConfig(**value) if isinstance(value, Mapping) else value


def _to_mlp_config(value: MLPConfig | Mapping[str, Any]) -> MLPConfig:
    return MLPConfig(**value) if isinstance(value, Mapping) else value


@attrs.frozen
class LSTMMLPConfig:
    """Options of ``nn.lstm_mlp`` (:class:`delta_nn.lstm_mlp.LSTMMLPNet`).

    Parameters
    ----------
    lstm
        The LSTM that yields the dynamic outputs (a :class:`LSTMConfig` or a mapping of
        its fields); its ``output_activation`` applies to the dynamic outputs.
    mlp
        The MLP on static inputs that yields the static outputs (a :class:`MLPConfig`
        or a mapping of its fields); its ``output_activation`` applies to the static
        outputs.
    """

    lstm: LSTMConfig = attrs.field(
        factory=LSTMConfig,
        converter=_to_lstm_config,
        validator=attrs.validators.instance_of(LSTMConfig),
    )
    mlp: MLPConfig = attrs.field(
        factory=MLPConfig,
        converter=_to_mlp_config,
        validator=attrs.validators.instance_of(MLPConfig),
    )
