"""``nn.lstm``: an LSTM that yields dynamic outputs per time step and static outputs from the last one.

The recurrent part is ``torch.nn.LSTM``, so on a CUDA device PyTorch runs cuDNN's fused
kernels with no extra code. Static outputs are read from the last time step of the
window, the convention of δHBV (Feng et al. 2022, Water Resources Research
58:e2022WR032404): the LSTM has seen the whole window (forcings and, broadcast,
attributes) when it states the static parameters.
"""

from __future__ import annotations

import torch

from delta_core.interfaces.nn import NN, NNOutput, NNSpec, NNSpecError
from delta_nn._common import check_inputs, check_spec_common, make_linear, squash, with_static
from delta_nn.config import LSTMConfig

NAME = "nn.lstm"


def init_lstm_forget_bias(lstm: torch.nn.LSTM, forget_bias: float | None) -> None:
    """Set every layer's gate biases so the effective forget-gate bias is ``forget_bias``.

    PyTorch orders the gates ``(input, forget, cell, output)`` in ``bias_ih_l{k}`` and
    ``bias_hh_l{k}`` (each ``[4 * hidden_size]``). With a number ``b``: ``bias_hh`` is
    zeroed and ``bias_ih`` is zero except ``[hidden_size : 2 * hidden_size] = b``. With
    ``None`` nothing is changed (PyTorch's default uniform biases stay).
    """
    if forget_bias is None or not lstm.bias:
        return
    h = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            bias_ih = getattr(lstm, f"bias_ih_l{k}")
            bias_hh = getattr(lstm, f"bias_hh_l{k}")
            bias_ih.zero_()
            bias_hh.zero_()
            bias_ih[h : 2 * h] = forget_bias


class LSTMEncoder(torch.nn.Module):
    """Inputs ``[time, batch, n_inputs]`` to LSTM hidden states ``[time, batch, hidden_size]``.

    ``Dropout(input_dropout)``, then optionally ``Linear + ReLU`` to ``hidden_size``,
    then ``torch.nn.LSTM`` (zero initial state), then ``Dropout(dropout)``; see
    :class:`~delta_nn.config.LSTMConfig` for the initialisation.

    Parameters
    ----------
    n_inputs
        Number of input features.
    config
        The LSTM options.
    """

    def __init__(self, n_inputs: int, config: LSTMConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.input_dropout = torch.nn.Dropout(config.input_dropout)
        if config.input_layer:
            self.input_layer: torch.nn.Module = torch.nn.Sequential(
                make_linear(n_inputs, hidden, config.linear_init), torch.nn.ReLU()
            )
            lstm_inputs = hidden
        else:
            self.input_layer = torch.nn.Identity()
            lstm_inputs = n_inputs
        self.lstm = torch.nn.LSTM(
            lstm_inputs,
            hidden,
            num_layers=config.num_layers,
            # torch applies this only between layers (and warns when there is one layer)
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        init_lstm_forget_bias(self.lstm, config.forget_bias)
        self.output_dropout = torch.nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[time, batch, n_inputs]`` -> ``[time, batch, hidden_size]``."""
        h, _ = self.lstm(self.input_layer(self.input_dropout(x)))
        return self.output_dropout(h)


class LSTMNet(NN):
    """``nn.lstm``: LSTM over ``cat(x_dynamic, x_static broadcast over time)`` with linear heads.

    ======================  =====================================================
    tensor                  shape / source
    ======================  =====================================================
    ``x_dynamic``           ``[time, batch, n_dynamic_inputs]`` (required)
    ``x_static``            ``[batch, n_static_inputs]`` (optional, repeated
                            at every time step)
    ``NNOutput.dynamic``    ``[time, batch, n_dynamic_outputs]``: head on every
                            step's hidden state
    ``NNOutput.static``     ``[batch, n_static_outputs]``: head on the hidden
                            state of the *last* time step
    ======================  =====================================================

    Both heads are ``Linear(hidden_size, n)`` followed by the output squash (see
    :class:`~delta_nn.config.LSTMConfig`); a head is built only when the spec asks for
    its outputs, so every parameter receives a gradient. Initialisation: LSTM weights
    PyTorch's default, LSTM biases zero but the forget gate ``forget_bias`` (1.0),
    ``Linear`` layers per ``linear_init`` (Xavier-uniform, zero bias). No tensor is
    placed on a device here: move the module with ``.to(device)``.

    Parameters
    ----------
    spec
        Sizes and output range; ``n_dynamic_inputs`` must be positive.
    config
        :class:`~delta_nn.config.LSTMConfig`; defaults when ``None``.

    Raises
    ------
    NNSpecError
        If the spec asks for no outputs or has no dynamic inputs.
    """

    def __init__(self, spec: NNSpec, config: LSTMConfig | None = None) -> None:
        config = LSTMConfig() if config is None else config
        if not isinstance(config, LSTMConfig):
            raise TypeError(f"{NAME}: config must be an LSTMConfig, got {type(config).__name__}")
        super().__init__(spec, config)
        check_spec_common(NAME, spec)
        if spec.n_dynamic_inputs == 0:
            raise NNSpecError(
                f"{NAME}: an LSTM needs dynamic inputs (n_dynamic_inputs = 0); "
                "use nn.mlp for static inputs only"
            )
        self.encoder = LSTMEncoder(spec.n_dynamic_inputs + spec.n_static_inputs, config)
        h, how = config.hidden_size, config.linear_init
        self.dynamic_head = make_linear(h, spec.n_dynamic_outputs, how) if spec.n_dynamic_outputs else None
        self.static_head = make_linear(h, spec.n_static_outputs, how) if spec.n_static_outputs else None

    def squash(self, raw: torch.Tensor) -> torch.Tensor:
        """``config.output_activation`` for ``output_range="unit"``, identity for ``"unbounded"``."""
        return squash(raw, self.spec, self.config.output_activation)

    def forward(self, x_dynamic: torch.Tensor | None, x_static: torch.Tensor | None) -> NNOutput:
        """Run the LSTM over the window.

        Parameters
        ----------
        x_dynamic
            ``[time, batch, n_dynamic_inputs]``.
        x_static
            ``[batch, n_static_inputs]``, or ``None`` when the spec has no static inputs.

        Returns
        -------
        NNOutput
            ``dynamic`` ``[time, batch, n_dynamic_outputs]`` and ``static``
            ``[batch, n_static_outputs]``; a part the spec did not ask for is ``None``.
        """
        x_dynamic, x_static = check_inputs(NAME, self.spec, x_dynamic, x_static)
        assert x_dynamic is not None
        h = self.encoder(with_static(x_dynamic, x_static))
        dynamic = self.squash(self.dynamic_head(h)) if self.dynamic_head is not None else None
        static = self.squash(self.static_head(h[-1])) if self.static_head is not None else None
        return NNOutput(dynamic=dynamic, static=static)
