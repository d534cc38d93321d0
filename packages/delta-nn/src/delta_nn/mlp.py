"""``nn.mlp``: a feed-forward network; static outputs from static inputs, dynamic ones per time step."""

from __future__ import annotations

import torch

from delta_core.interfaces.nn import NN, NNOutput, NNSpec, NNSpecError
from delta_nn._common import check_inputs, check_spec_common, make_linear, mlp_trunk, squash, with_static
from delta_nn.config import MLPConfig

NAME = "nn.mlp"


def mlp(n_in: int, n_out: int, config: MLPConfig) -> torch.nn.Sequential:
    """Trunk of ``config.num_layers`` hidden blocks followed by ``Linear(hidden_size, n_out)``.

    Each hidden block is ``Linear -> activation -> Dropout(dropout)``; every ``Linear``
    is initialised per ``config.linear_init``. No output squash.
    """
    return torch.nn.Sequential(
        mlp_trunk(n_in, config.hidden_size, config.num_layers, config.activation, config.dropout,
                  config.linear_init),
        make_linear(config.hidden_size, n_out, config.linear_init),
    )


class MLPNet(NN):
    """``nn.mlp``: static outputs from static inputs, dynamic outputs step by step.

    ======================  =====================================================
    tensor                  shape / source
    ======================  =====================================================
    ``x_dynamic``           ``[time, batch, n_dynamic_inputs]``
    ``x_static``            ``[batch, n_static_inputs]``
    ``NNOutput.static``     ``[batch, n_static_outputs]``: an MLP on ``x_static``
    ``NNOutput.dynamic``    ``[time, batch, n_dynamic_outputs]``: a second MLP
                            applied independently at every time step to
                            ``cat(x_dynamic[t], x_static)`` (no memory)
    ======================  =====================================================

    Each MLP is ``num_layers`` blocks of ``Linear -> activation -> Dropout`` and a
    linear head, then the output squash (see :class:`~delta_nn.config.MLPConfig`). An
    MLP is built only for the outputs the spec asks for, so every parameter receives a
    gradient. Initialisation: every ``Linear`` per ``linear_init`` (Xavier-uniform
    weights, zero biases by default). No tensor is placed on a device here.

    Static outputs are never derived from dynamic inputs: a memoryless network has no
    principled way to summarise a window (use ``nn.lstm`` for that).

    Parameters
    ----------
    spec
        Sizes and output range.
    config
        :class:`~delta_nn.config.MLPConfig`; defaults when ``None``.

    Raises
    ------
    NNSpecError
        If the spec asks for no outputs, for static outputs without static inputs, or
        for dynamic outputs without dynamic inputs.
    """

    def __init__(self, spec: NNSpec, config: MLPConfig | None = None) -> None:
        config = MLPConfig() if config is None else config
        if not isinstance(config, MLPConfig):
            raise TypeError(f"{NAME}: config must be an MLPConfig, got {type(config).__name__}")
        super().__init__(spec, config)
        check_spec_common(NAME, spec)
        if spec.n_static_outputs and spec.n_static_inputs == 0:
            raise NNSpecError(
                f"{NAME}: {spec.n_static_outputs} static outputs need static inputs "
                "(n_static_inputs = 0); use nn.lstm to derive static outputs from dynamic inputs"
            )
        self.static_net = (
            mlp(spec.n_static_inputs, spec.n_static_outputs, config) if spec.n_static_outputs else None
        )
        self.dynamic_net = (
            mlp(spec.n_dynamic_inputs + spec.n_static_inputs, spec.n_dynamic_outputs, config)
            if spec.n_dynamic_outputs
            else None
        )

    def squash(self, raw: torch.Tensor) -> torch.Tensor:
        """``config.output_activation`` for ``output_range="unit"``, identity for ``"unbounded"``."""
        return squash(raw, self.spec, self.config.output_activation)

    def forward(self, x_dynamic: torch.Tensor | None, x_static: torch.Tensor | None) -> NNOutput:
        """Apply the MLPs.

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
        if self.static_net is not None:
            static = self.squash(self.static_net(x_static))
        if self.dynamic_net is not None:
            assert x_dynamic is not None
            dynamic = self.squash(self.dynamic_net(with_static(x_dynamic, x_static)))
        return NNOutput(dynamic=dynamic, static=static)
