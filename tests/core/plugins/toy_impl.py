"""Implementations behind the ``toy`` test plugin (imports torch, loaded lazily)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from delta_core.interfaces.nn import NN, NNOutput, NNSpec
from delta_core.interfaces.phy import PhyModel, PhyOutput
from delta_core.interfaces.specs import Parameter, Variable
from delta_core.interfaces.trainer import Trainer


class Bucket(PhyModel):
    """A linear bucket: S += P - k*S; Q = k*S. Forcing P [mm/day]."""

    @property
    def forcings(self) -> tuple[Variable, ...]:
        return (Variable("P", "mm/day", "precipitation"),)

    @property
    def param_specs(self) -> tuple[Parameter, ...]:
        return (
            Parameter("k", 0.01, 0.5, "1/day", "outflow rate"),
            Parameter("scale", 0.5, 1.5, "1", "precipitation multiplier", per_component=False,
                      dynamic_allowed=False),
        )

    @property
    def state_vars(self) -> tuple[Variable, ...]:
        return (Variable("S", "mm", "storage"),)

    @property
    def output_vars(self) -> tuple[Variable, ...]:
        return (Variable("Q", "mm/day", "outflow"), Variable("Qmean", "mm/day", "mean outflow", "entity"))

    @property
    def n_components(self) -> int:
        return self.config.nmul if self.config is not None else 1

    @property
    def dynamic_params(self) -> tuple[str, ...]:
        return self.config.dynamic if self.config is not None else ()

    def forward(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        *,
        attributes: torch.Tensor | None = None,
        states: Mapping[str, torch.Tensor] | None = None,
        warmup: int = 0,
    ) -> PhyOutput:
        self.check_inputs(forcing, params, attributes, warmup)
        n_time, n_entity, _ = forcing.shape
        s = states["S"] if states else torch.zeros(n_entity, self.n_components, dtype=forcing.dtype)
        k = params["k"]
        scale = params["scale"]
        qs = []
        for t in range(n_time):
            kt = k[t] if k.ndim == 3 else k
            s = s + forcing[t, :, 0:1] * scale[:, None]
            q = kt * s
            s = s - q
            qs.append(q.mean(-1))
        q_all = torch.stack(qs)[warmup:]
        return PhyOutput({"Q": q_all, "Qmean": q_all.mean(0)}, {"S": s})


class Net(NN):
    """A linear map from static inputs (or mean dynamic inputs) to outputs."""

    def __init__(self, spec: NNSpec, config: Any = None) -> None:
        super().__init__(spec, config)
        n_in = spec.n_dynamic_inputs + spec.n_static_inputs
        self.static = torch.nn.Linear(n_in, max(spec.n_static_outputs, 1))
        self.dynamic = torch.nn.Linear(n_in, max(spec.n_dynamic_outputs, 1))

    def forward(self, x_dynamic: torch.Tensor | None, x_static: torch.Tensor | None) -> NNOutput:
        assert x_dynamic is not None and x_static is not None
        x = torch.cat([x_dynamic, x_static.expand(x_dynamic.shape[0], -1, -1)], -1)
        static = self.squash(self.static(x[-1]))[:, : self.spec.n_static_outputs]
        dynamic = self.squash(self.dynamic(x))[..., : self.spec.n_dynamic_outputs]
        return NNOutput(dynamic=dynamic, static=static)


class Source:
    """Placeholder dataset type for configuration tests (never sampled)."""


class RecordingTrainer(Trainer):
    """Writes what it received to ``run_dir/received.json``, proving the CLI hand-off."""

    def fit(self, experiment: Any, run_dir: Path, *, resume: bool = False) -> Path:
        run_dir.mkdir(parents=True, exist_ok=True)
        from delta_core.config import to_yaml

        (run_dir / "config.yaml").write_text(to_yaml(experiment))
        (run_dir / "received.json").write_text(
            json.dumps({"name": experiment.name, "epochs": self.config.epochs, "lr": self.config.lr,
                        "resume": resume})
        )
        return run_dir
