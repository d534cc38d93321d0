"""The standard coupling: a network learns a PhyModel's parameters.

For every learned parameter ``p`` with bounds ``[lo, hi]`` the network yields ``u`` in
``[0, 1]`` and the PhyModel receives ``lo + u * (hi - lo)`` (Tsai et al. 2021, Nature
Communications 12:5988; Feng et al. 2022, Water Resources Research 58:e2022WR032404).
Static parameters come from the network's static output (one row per entity),
dynamic ones from its dynamic output (one row per time step). Which parameters are
dynamic is declared by the PhyModel's configuration (:attr:`PhyModel.dynamic_params`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
import torch

from delta_core.coupling.config import ParameterLearningConfig
from delta_core.interfaces.dmodel import DModel, DModelOutput
from delta_core.interfaces.nn import NN, NNSpec
from delta_core.interfaces.phy import PhyModel
from delta_core.interfaces.specs import Parameter

NNFactory = Callable[[NNSpec], NN]


class CouplingError(ValueError):
    """Raised when a PhyModel, a network and a coupling configuration do not fit together."""


@attrs.frozen
class InputSizes:
    """Number of network input features a dataset provides.

    Parameters
    ----------
    n_dynamic
        Time-varying network inputs (``x_nn`` channels).
    n_static
        Static network inputs (``c_nn`` columns).
    n_entities
        Number of entities in the dataset (couplings with one parameter set per entity
        size their tables with it).
    """

    n_dynamic: int
    n_static: int
    n_entities: int = 0


@attrs.frozen
class _Slot:
    param: Parameter
    dynamic: bool
    start: int
    width: int


class ParameterLearning(DModel):
    """A network learns the parameters of one PhyModel.

    Build it with :meth:`build`, which sizes the network from the PhyModel's
    declarations. Sample keys read: ``x_phy`` ``[time, batch, n_forcing]`` (physical
    units), ``x_nn`` ``[time, batch, n_x]`` and/or ``c_nn`` ``[batch, n_c]``
    (normalised), and ``c_phy`` ``[batch, n_attribute]`` when the PhyModel declares
    attributes.
    """

    def __init__(
        self,
        phy: PhyModel,
        nn: NN,
        config: ParameterLearningConfig,
        slots: tuple[_Slot, ...],
    ) -> None:
        super().__init__({"phy": phy}, {"nn": nn}, config)
        self._slots = slots
        self.warmup = config.warmup

    @classmethod
    def build(
        cls,
        phy: Mapping[str, PhyModel],
        nn: Mapping[str, NNFactory],
        inputs: InputSizes,
        config: ParameterLearningConfig | None = None,
    ) -> ParameterLearning:
        """Size a network for ``phy``'s learned parameters and couple the two.

        Parameters
        ----------
        phy
            Exactly one PhyModel, by role name.
        nn
            Exactly one network factory (``NNSpec -> NN``), by role name.
        inputs
            Network input sizes provided by the dataset.
        config
            Coupling options; defaults when ``None``.
        """
        config = config or ParameterLearningConfig()
        if len(phy) != 1 or len(nn) != 1:
            raise CouplingError(
                "core.param_learning couples exactly one PhyModel and one network, "
                f"got {len(phy)} PhyModel(s) and {len(nn)} network(s)"
            )
        (phy_model,) = phy.values()
        (factory,) = nn.values()
        slots = _layout(phy_model, config)
        n_dyn = sum(s.width for s in slots if s.dynamic)
        n_sta = sum(s.width for s in slots if not s.dynamic)
        if n_dyn and inputs.n_dynamic == 0:
            raise CouplingError(
                f"dynamic parameters {[s.param.name for s in slots if s.dynamic]} need "
                "time-varying network inputs, but the dataset provides none"
            )
        spec = NNSpec(
            n_dynamic_inputs=inputs.n_dynamic,
            n_static_inputs=inputs.n_static,
            n_dynamic_outputs=n_dyn,
            n_static_outputs=n_sta,
            output_range="unit",
        )
        return cls(phy_model, factory(spec), config, slots)

    @property
    def phy_model(self) -> PhyModel:
        """The coupled PhyModel."""
        model = self.phy["phy"]
        assert isinstance(model, PhyModel)
        return model

    def learned_parameters(self) -> tuple[str, ...]:
        """Names of the parameters the network provides, static and dynamic."""
        return tuple(s.param.name for s in self._slots)

    def scale(self, u_static: torch.Tensor | None, u_dynamic: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Map network outputs in ``[0, 1]`` to physical parameters by name.

        Parameters
        ----------
        u_static
            ``[batch, n_static_outputs]`` or ``None``.
        u_dynamic
            ``[time, batch, n_dynamic_outputs]`` or ``None``.
        """
        params: dict[str, torch.Tensor] = {}
        for s in self._slots:
            source = u_dynamic if s.dynamic else u_static
            if source is None:
                raise CouplingError(
                    f"network returned no {'dynamic' if s.dynamic else 'static'} output for {s.param.name!r}"
                )
            u = source[..., s.start : s.start + s.width]
            if not s.param.per_component:
                u = u[..., 0]
            params[s.param.name] = s.param.lo + u * (s.param.hi - s.param.lo)
        return params

    def forward(self, sample: Mapping[str, torch.Tensor]) -> DModelOutput:
        """Run network then PhyModel on ``sample``; see the class docstring for keys."""
        if "x_phy" not in sample:
            raise CouplingError(f"sample has no 'x_phy'; keys: {sorted(sample)}")
        out = self.nn["nn"](sample.get("x_nn"), sample.get("c_nn"))
        params = self.scale(out.static, out.dynamic)
        x_phy = sample["x_phy"]
        params.update(fixed_parameters(self.phy_model, self.config.fixed, x_phy))
        result = self.phy_model(x_phy, params, attributes=sample.get("c_phy"), warmup=self.warmup)
        return DModelOutput(
            fluxes=result.fluxes, parameters=params, states=result.states, warmup=self.warmup
        )


def fixed_parameters(phy: PhyModel, fixed: Mapping[str, float], x_phy: torch.Tensor) -> dict[str, torch.Tensor]:
    """Constant tensors for parameters held at a physical value, shaped for ``x_phy``'s batch.

    ``[batch, n_components]`` (or ``[batch]`` for per-entity parameters), dtype and device
    of ``x_phy`` (``[time, batch, n_forcing]``).
    """
    specs = {p.name: p for p in phy.param_specs}
    n = x_phy.shape[1]
    out = {}
    for name, value in fixed.items():
        shape = (n, phy.n_components) if specs[name].per_component else (n,)
        out[name] = torch.full(shape, float(value), dtype=x_phy.dtype, device=x_phy.device)
    return out


def _layout(phy: PhyModel, config: ParameterLearningConfig) -> tuple[_Slot, ...]:
    declared = {p.name: p for p in phy.param_specs}
    dynamic = tuple(phy.dynamic_params)
    problems = []
    for name in dynamic:
        if name not in declared:
            problems.append(f"dynamic parameter {name!r} is not declared by {type(phy).__name__}")
        elif not declared[name].dynamic_allowed:
            problems.append(f"parameter {name!r} of {type(phy).__name__} may not be dynamic")
    for name, value in config.fixed.items():
        if name not in declared:
            problems.append(f"fixed parameter {name!r} is not declared by {type(phy).__name__}")
        elif not declared[name].lo <= value <= declared[name].hi:
            p = declared[name]
            problems.append(f"fixed parameter {name!r}={value} is outside [{p.lo}, {p.hi}]")
        elif name in dynamic:
            problems.append(f"parameter {name!r} cannot be both fixed and dynamic")
    if problems:
        raise CouplingError("; ".join(problems))
    slots = []
    offsets = {True: 0, False: 0}
    for p in phy.param_specs:
        if p.name in config.fixed:
            continue
        is_dyn = p.name in dynamic
        width = phy.n_components if p.per_component else 1
        slots.append(_Slot(p, is_dyn, offsets[is_dyn], width))
        offsets[is_dyn] += width
    return tuple(slots)
