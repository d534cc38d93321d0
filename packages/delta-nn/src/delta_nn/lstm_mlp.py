"""``nn.lstm_mlp``: an LSTM for the dynamic outputs and an MLP on static attributes for the static ones.

This is the split of δHBV 2.0-style models (dMG's ``LstmMlpModel``): time-varying
parameters come from a recurrent network that reads forcings (and attributes), while
static parameters depend on the static attributes only, so they do not change with the
window the LSTM happens to see.
"""

from __future__ import annotations

from typing import Literal

import torch

from delta_core.interfaces.nn import NN, NNOutput, NNSpec, NNSpecError
from delta_nn._common import check_inputs, check_spec_common, make_linear, squash, with_static
from delta_nn.config import LSTMMLPConfig
from delta_nn.lstm import LSTMEncoder
from delta_nn.mlp import mlp

NAME = "nn.lstm_mlp"


class LSTMMLPNet(NN):
    """``nn.lstm_mlp``: dynamic outputs from an LSTM, static outputs from an MLP.

    ======================  =====================================================
    tensor                  shape / source
    ======================  =====================================================
    ``x_dynamic``           ``[time, batch, n_dynamic_inputs]``
    ``x_static``            ``[batch, n_static_inputs]``
    ``NNOutput.dynamic``    ``[time, batch, n_dynamic_outputs]``: the LSTM of
                            ``config.lstm`` over ``cat(x_dynamic, x_static
                            broadcast over time)``, a linear head per step
    ``NNOutput.static``     ``[batch, n_static_outputs]``: the MLP of
                            ``config.mlp`` on ``x_static`` only
    ======================  =====================================================

    The dynamic outputs are squashed with ``config.lstm.output_activation``, the static
    ones with ``config.mlp.output_activation``. Each part is built only when the spec
    asks for its outputs (a spec with static outputs only builds no LSTM), so every
    parameter receives a gradient. Initialisation as in :class:`~delta_nn.lstm.LSTMNet`
    (LSTM) and :class:`~delta_nn.mlp.MLPNet` (MLP). No tensor is placed on a device here.

    Parameters
    ----------
    spec
        Sizes and output range.
    config
        :class:`~delta_nn.config.LSTMMLPConfig`; defaults when ``None``.

    Raises
    ------
    NNSpecError
        If the spec asks for no outputs, for static outputs without static inputs, or
        for dynamic outputs without dynamic inputs.
    """

    def __init__(self, spec: NNSpec, config: LSTMMLPConfig | None = None) -> None:
        config = LSTMMLPConfig() if config is None else config
        if not isinstance(config, LSTMMLPConfig):
            raise TypeError(f"{NAME}: config must be an LSTMMLPConfig, got {type(config).__name__}")
        super().__init__(spec, config)
        check_spec_common(NAME, spec)
        if spec.n_static_outputs and spec.n_static_inputs == 0:
            raise NNSpecError(
                f"{NAME}: {spec.n_static_outputs} static outputs need static inputs for the MLP "
                "(n_static_inputs = 0); use nn.lstm to derive static outputs from dynamic inputs"
            )
        if spec.n_dynamic_outputs:
            self.encoder: LSTMEncoder | None = LSTMEncoder(
                spec.n_dynamic_inputs + spec.n_static_inputs, config.lstm
            )
            self.dynamic_head: torch.nn.Linear | None = make_linear(
                config.lstm.hidden_size, spec.n_dynamic_outputs, config.lstm.linear_init
            )
        else:
            self.encoder = None
            self.dynamic_head = None
        self.static_net = (
            mlp(spec.n_static_inputs, spec.n_static_outputs, config.mlp) if spec.n_static_outputs else None
        )

    def squash(self, raw: torch.Tensor, part: Literal["dynamic", "static"] = "dynamic") -> torch.Tensor:
        """Output range of ``part``: its part's ``output_activation`` for ``"unit"``, identity otherwise."""
        part_config = self.config.lstm if part == "dynamic" else self.config.mlp
        return squash(raw, self.spec, part_config.output_activation)

    def forward(self, x_dynamic: torch.Tensor | None, x_static: torch.Tensor | None) -> NNOutput:
        """Run the LSTM (dynamic outputs) and the MLP (static outputs).

        Parameters
        ----------
        x_dynamic
            ``[time, batch, n_dynamic_inputs]``, or ``None`` when the spec has none.
        x_static
            ``[batch, n_static_inputs]``, or ``None`` when the spec has none.

        Returns
        -------
        NNOutput
            ``dynamic`` ``[time, batch, n_dynamic_outputs]`` and ``static``
            ``[batch, n_static_outputs]``; a part the spec did not ask for is ``None``.
        """
        x_dynamic, x_static = check_inputs(NAME, self.spec, x_dynamic, x_static)
        static = dynamic = None
        if self.encoder is not None and self.dynamic_head is not None:
            assert x_dynamic is not None
            h = self.encoder(with_static(x_dynamic, x_static))
            dynamic = self.squash(self.dynamic_head(h), "dynamic")
        if self.static_net is not None:
            static = self.squash(self.static_net(x_static), "static")
        return NNOutput(dynamic=dynamic, static=static)
