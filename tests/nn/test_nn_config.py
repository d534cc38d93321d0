"""Configuration of delta-nn's networks: defaults, validation messages, torch-free import."""

from __future__ import annotations

import subprocess
import sys

import attrs
import pytest

from delta_nn.config import LSTMConfig, LSTMMLPConfig, MLPConfig


def test_defaults_are_documented_values() -> None:
    lstm = LSTMConfig()
    assert (lstm.hidden_size, lstm.num_layers, lstm.dropout, lstm.input_dropout) == (256, 1, 0.5, 0.0)
    assert (lstm.input_layer, lstm.forget_bias, lstm.output_activation, lstm.linear_init) == (
        True, 1.0, "sigmoid", "xavier_uniform"
    )
    mlp = MLPConfig()
    assert (mlp.hidden_size, mlp.num_layers, mlp.activation, mlp.dropout) == (256, 2, "relu", 0.0)
    assert (mlp.output_activation, mlp.linear_init) == ("sigmoid", "xavier_uniform")
    both = LSTMMLPConfig()
    assert both.lstm == LSTMConfig() and both.mlp == MLPConfig()


@pytest.mark.parametrize("cls", [LSTMConfig, MLPConfig])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dropout", 1.0, "dropout must be in [0, 1), got 1.0"),
        ("dropout", -0.1, "dropout must be in [0, 1), got -0.1"),
        ("dropout", "0.5", "dropout must be a number, got '0.5'"),
        ("hidden_size", 0, "hidden_size must be > 0, got 0"),
        ("hidden_size", -3, "hidden_size must be > 0, got -3"),
        ("hidden_size", 2.5, "hidden_size must be an integer, got 2.5"),
        ("hidden_size", True, "hidden_size must be an integer, got True"),
        ("num_layers", 0, "num_layers must be > 0, got 0"),
        (
            "output_activation",
            "softmax",
            "output_activation must be one of 'sigmoid', 'hardsigmoid', 'clamp', got 'softmax'",
        ),
        (
            "linear_init",
            "orthogonal",
            "linear_init must be one of 'xavier_uniform', 'torch_default', got 'orthogonal'",
        ),
    ],
)
def test_shared_field_validation(cls: type, field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        cls(**{field: value})
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("input_dropout", 1.5, "input_dropout must be in [0, 1), got 1.5"),
        ("forget_bias", float("nan"), "forget_bias must be a finite number or None, got nan"),
        ("forget_bias", "1", "forget_bias must be a finite number or None, got '1'"),
        ("input_layer", 1, "input_layer must be true or false, got 1"),
    ],
)
def test_lstm_field_validation(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        LSTMConfig(**{field: value})
    assert str(err.value) == message


def test_lstm_accepts_edge_values() -> None:
    config = LSTMConfig(dropout=0.0, input_dropout=0.99, forget_bias=None, hidden_size=1)
    assert config.forget_bias is None and config.input_dropout == 0.99


def test_mlp_activation_validation() -> None:
    with pytest.raises(ValueError) as err:
        MLPConfig(activation="swish")
    assert str(err.value) == (
        "activation must be one of 'relu', 'tanh', 'gelu', 'elu', 'silu', 'leaky_relu', 'sigmoid', "
        "got 'swish'"
    )


def test_lstm_mlp_config_takes_mappings_and_validates_them() -> None:
    config = LSTMMLPConfig(lstm={"hidden_size": 16}, mlp={"activation": "tanh", "dropout": 0.2})
    assert config.lstm == LSTMConfig(hidden_size=16)
    assert config.mlp == MLPConfig(activation="tanh", dropout=0.2)
    with pytest.raises(ValueError, match=r"^hidden_size must be > 0, got 0$"):
        LSTMMLPConfig(lstm={"hidden_size": 0})
    with pytest.raises(TypeError):
        LSTMMLPConfig(mlp={"no_such_field": 1})
    with pytest.raises(TypeError):
        LSTMMLPConfig(lstm=MLPConfig())


def test_configs_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        LSTMConfig().hidden_size = 3  # type: ignore[misc]


def test_plugin_and_config_modules_do_not_import_torch() -> None:
    code = (
        "import sys, delta_nn, delta_nn.plugin, delta_nn.config; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_core_config_loader_structures_and_round_trips_the_params() -> None:
    from delta_core.config.converter import make_converter
    from delta_core.config.errors import collect_problems
    from delta_core.config.schema import NNComponent
    from delta_core.plugins.manager import build_registry

    registry, _ = build_registry(only=["nn"])
    conv = make_converter(registry)
    raw = {"name": "nn.lstm_mlp", "params": {"lstm": {"hidden_size": 16, "forget_bias": None}}}
    component = conv.structure(raw, NNComponent)
    assert component.params == LSTMMLPConfig(lstm=LSTMConfig(hidden_size=16, forget_bias=None))
    assert conv.structure(conv.unstructure(component), NNComponent) == component
    bad = {"name": "nn.mlp", "params": {"dropout": 1.0, "hidden_size": 0, "activation": "swish"}}
    with pytest.raises(Exception) as err:
        conv.structure(bad, NNComponent)
    problems = sorted(str(p) for p in collect_problems(err.value))
    assert problems == [
        "$.params.activation: must be one of 'relu', 'tanh', 'gelu', 'elu', 'silu', 'leaky_relu', "
        "'sigmoid', got 'swish'",
        "$.params.dropout: dropout must be in [0, 1), got 1.0",
        "$.params.hidden_size: hidden_size must be > 0, got 0",
    ]
