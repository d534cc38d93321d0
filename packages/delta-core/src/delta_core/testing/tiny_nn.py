"""A small network that honours any :class:`~delta_core.interfaces.nn.NNSpec`, for contract checks."""

from __future__ import annotations

from typing import Any

import torch

from delta_core.interfaces.nn import NN, NNOutput, NNSpec, NNSpecError


class TinyNN(NN):
    """One hidden ``tanh`` layer per input kind and one linear head per output kind.

    Dynamic inputs ``[time, batch, f]`` and static inputs ``[batch, g]`` are each
    embedded into ``hidden`` units. The static head reads the static embedding plus the
    time mean of the dynamic embedding; the dynamic head reads the dynamic embedding
    plus the static embedding broadcast over time. So every weight lies on a path to
    every output it can influence, which is what :func:`~delta_core.testing.check_gradients_reach_nn`
    relies on. Outputs go through :meth:`NN.squash` (sigmoid for ``output_range="unit"``);
    a part the spec does not ask for is returned as ``None``.

    Parameters
    ----------
    spec
        Input and output sizes and output range.
    config
        Unused; accepted for the :class:`NN` signature.
    hidden
        Width of the hidden layers.

    Raises
    ------
    NNSpecError
        If the spec has no inputs at all, or asks for dynamic outputs without dynamic
        inputs (there would be no time axis to produce them on).
    """

    def __init__(self, spec: NNSpec, config: Any = None, *, hidden: int = 8) -> None:
        super().__init__(spec, config)
        if spec.n_dynamic_inputs == 0 and spec.n_static_inputs == 0:
            raise NNSpecError("TinyNN needs at least one dynamic or static input feature, got none")
        if spec.n_dynamic_outputs and not spec.n_dynamic_inputs:
            raise NNSpecError(
                f"TinyNN cannot produce {spec.n_dynamic_outputs} dynamic outputs without dynamic inputs"
            )
        linear = torch.nn.Linear
        self.dynamic_in = linear(spec.n_dynamic_inputs, hidden) if spec.n_dynamic_inputs else None
        self.static_in = linear(spec.n_static_inputs, hidden) if spec.n_static_inputs else None
        self.dynamic_head = linear(hidden, spec.n_dynamic_outputs) if spec.n_dynamic_outputs else None
        self.static_head = linear(hidden, spec.n_static_outputs) if spec.n_static_outputs else None

    def forward(self, x_dynamic: torch.Tensor | None, x_static: torch.Tensor | None) -> NNOutput:
        """Map ``[time, batch, f]`` and ``[batch, g]`` inputs to ``[time, batch, n]`` and ``[batch, m]``."""
        h_dyn = None
        h_sta = None
        if self.dynamic_in is not None:
            _expect(x_dynamic, "x_dynamic", 3, self.spec.n_dynamic_inputs, "[time, batch, {n}]")
            assert x_dynamic is not None
            h_dyn = torch.tanh(self.dynamic_in(x_dynamic))
        if self.static_in is not None:
            _expect(x_static, "x_static", 2, self.spec.n_static_inputs, "[batch, {n}]")
            assert x_static is not None
            h_sta = torch.tanh(self.static_in(x_static))
        out = NNOutput()
        if self.static_head is not None:
            parts = [h for h in (h_sta, None if h_dyn is None else h_dyn.mean(dim=0)) if h is not None]
            out.static = self.squash(self.static_head(sum(parts[1:], parts[0])))
        if self.dynamic_head is not None:
            assert h_dyn is not None
            h = h_dyn if h_sta is None else h_dyn + h_sta.unsqueeze(0)
            out.dynamic = self.squash(self.dynamic_head(h))
        return out


def _expect(x: torch.Tensor | None, what: str, ndim: int, n: int, layout: str) -> None:
    if x is None:
        raise NNSpecError(f"TinyNN: {what} {layout.format(n=n)} is required by the spec but was None")
    if x.ndim != ndim or x.shape[-1] != n:
        raise NNSpecError(f"TinyNN: {what} must be {layout.format(n=n)}, got shape {tuple(x.shape)}")
