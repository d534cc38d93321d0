"""Registration of delta-nn's components (imported by ``delta plugins list``: keep light).

Only strings here: the networks (and torch) are imported when a component is loaded.
"""

from __future__ import annotations

from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    """Register the ``nn.`` components."""
    registry.add_nn(
        "nn.lstm",
        "delta_nn.lstm:LSTMNet",
        config="delta_nn.config:LSTMConfig",
        summary="LSTM (torch.nn.LSTM, cuDNN on GPU): dynamic outputs per step, static from the last step",
    )
    registry.add_nn(
        "nn.mlp",
        "delta_nn.mlp:MLPNet",
        config="delta_nn.config:MLPConfig",
        summary="MLP: static outputs from static inputs, dynamic outputs step by step",
    )
    registry.add_nn(
        "nn.lstm_mlp",
        "delta_nn.lstm_mlp:LSTMMLPNet",
        config="delta_nn.config:LSTMMLPConfig",
        summary="LSTM for dynamic outputs, MLP on static attributes for static outputs",
    )
