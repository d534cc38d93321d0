"""delta-nn's networks through the registry and the core's parameter-learning coupling."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
import torch

from delta_core.coupling.config import ParameterLearningConfig
from delta_core.coupling.parameter_learning import InputSizes, ParameterLearning
from delta_core.interfaces.nn import NN, NNSpec, NNSpecError
from delta_core.interfaces.phy import PhyModel, PhyOutput
from delta_core.interfaces.specs import Parameter, Variable
from delta_core.plugins.manager import build_registry
from delta_nn.config import LSTMConfig, LSTMMLPConfig, MLPConfig
from delta_nn.lstm import LSTMNet
from delta_nn.lstm_mlp import LSTMMLPNet
from delta_nn.mlp import MLPNet

T, B, WARMUP, N_COMP = 7, 3, 2, 2


class TinyBucket(PhyModel):
    """A fake PhyModel: ``Q = mean_c(k * P * beta / 6) + route * T / 100``.

    ``k`` static per component, ``beta`` per component and possibly dynamic, ``route``
    one value per entity and never dynamic.
    """

    def __init__(self, dynamic: tuple[str, ...] = ("beta",)) -> None:
        super().__init__()
        self._dynamic = dynamic

    @property
    def forcings(self) -> tuple[Variable, ...]:
        return (Variable("P", "mm/day"), Variable("T", "degC"))

    @property
    def param_specs(self) -> tuple[Parameter, ...]:
        return (
            Parameter("k", 0.1, 0.9),
            Parameter("beta", 1.0, 6.0),
            Parameter("route", 0.0, 2.0, per_component=False, dynamic_allowed=False),
        )

    @property
    def state_vars(self) -> tuple[Variable, ...]:
        return (Variable("S", "mm"),)

    @property
    def output_vars(self) -> tuple[Variable, ...]:
        return (Variable("Q", "mm/day"),)

    @property
    def n_components(self) -> int:
        return N_COMP

    @property
    def dynamic_params(self) -> tuple[str, ...]:
        return self._dynamic

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
        p, temp = forcing[..., 0:1], forcing[..., 1]
        q = (params["k"] * p * params["beta"] / 6).mean(-1) + params["route"] * temp / 100
        storage = (params["k"] * p).sum(0)
        return PhyOutput(fluxes={"Q": q[warmup:]}, states={"S": storage})


def _factory(name: str) -> Callable[[NNSpec], NN]:
    if name == "nn.lstm":
        return lambda spec: LSTMNet(spec, LSTMConfig(hidden_size=8))
    if name == "nn.mlp":
        return lambda spec: MLPNet(spec, MLPConfig(hidden_size=8))
    return lambda spec: LSTMMLPNet(spec, LSTMMLPConfig(lstm={"hidden_size": 8}, mlp={"hidden_size": 8}))


def _sample(n_x: int, n_c: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    precip = torch.rand(T, B, generator=gen) * 10
    temp = torch.randn(T, B, generator=gen) * 5
    sample = {"x_phy": torch.stack([precip, temp], -1)}
    if n_x:
        sample["x_nn"] = torch.randn(T, B, n_x, generator=gen)
    if n_c:
        sample["c_nn"] = torch.randn(B, n_c, generator=gen)
    return sample


@pytest.mark.parametrize("name", ["nn.lstm", "nn.mlp", "nn.lstm_mlp"])
def test_parameter_learning_builds_and_trains_with_each_network(name: str) -> None:
    torch.manual_seed(0)
    model = ParameterLearning.build(
        {"phy": TinyBucket()},
        {"nn": _factory(name)},
        InputSizes(n_dynamic=3, n_static=2),
        ParameterLearningConfig(warmup=WARMUP),
    )
    net = model.nn["nn"]
    assert isinstance(net, NN)
    # beta is dynamic (2 components); k (2 components) and route (1) are static
    assert net.spec == NNSpec(3, 2, n_dynamic_outputs=2, n_static_outputs=3, output_range="unit")
    out = model(_sample(3, 2))
    assert out.fluxes["Q"].shape == (T - WARMUP, B)
    assert out.parameters["k"].shape == (B, N_COMP)
    assert out.parameters["beta"].shape == (T, B, N_COMP)
    assert out.parameters["route"].shape == (B,)
    for pname, (lo, hi) in {"k": (0.1, 0.9), "beta": (1.0, 6.0), "route": (0.0, 2.0)}.items():
        value = out.parameters[pname]
        assert ((value >= lo) & (value <= hi)).all(), pname
    out.fluxes["Q"].pow(2).mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def test_mlp_learns_static_parameters_from_attributes_alone() -> None:
    torch.manual_seed(0)
    model = ParameterLearning.build(
        {"phy": TinyBucket(dynamic=())},
        {"nn": _factory("nn.mlp")},
        InputSizes(n_dynamic=0, n_static=2),
    )
    assert model.nn["nn"].spec == NNSpec(0, 2, n_dynamic_outputs=0, n_static_outputs=5)
    out = model(_sample(0, 2))
    assert out.fluxes["Q"].shape == (T, B)
    assert out.parameters["beta"].shape == (B, N_COMP)


@pytest.mark.parametrize("name", ["nn.mlp", "nn.lstm_mlp"])
def test_coupling_surfaces_the_network_spec_error(name: str) -> None:
    with pytest.raises(NNSpecError, match=rf"^{name}: 3 static outputs need static inputs"):
        ParameterLearning.build({"phy": TinyBucket()}, {"nn": _factory(name)}, InputSizes(3, 0))


def test_lstm_gives_static_parameters_without_attributes() -> None:
    model = ParameterLearning.build({"phy": TinyBucket()}, {"nn": _factory("nn.lstm")}, InputSizes(3, 0))
    out = model(_sample(3, 0))
    assert out.parameters["k"].shape == (B, N_COMP)


def test_registry_provides_the_three_networks_with_their_configs() -> None:
    registry, _ = build_registry(only=["nn"])
    assert registry.names("nn") == ["nn.lstm", "nn.lstm_mlp", "nn.mlp"]
    expected = {
        "nn.lstm": (LSTMNet, LSTMConfig),
        "nn.mlp": (MLPNet, MLPConfig),
        "nn.lstm_mlp": (LSTMMLPNet, LSTMMLPConfig),
    }
    spec = NNSpec(3, 2, 1, 1)
    for name, (cls, config_cls) in expected.items():
        component = registry.get("nn", name)
        assert component.plugin == "nn" and component.summary
        assert component.load() is cls
        assert component.load_config_class() is config_cls
        net = component.load()(spec, component.load_config_class()())
        out = net(torch.zeros(2, 4, 3), torch.zeros(4, 2))
        assert out.dynamic is not None and out.dynamic.shape == (2, 4, 1)
        assert out.static is not None and out.static.shape == (4, 1)
