"""The standard coupling: network outputs scaled into a PhyModel's declared bounds."""

from __future__ import annotations

import pytest
import torch

from delta_core.coupling.config import ParameterLearningConfig
from delta_core.coupling.parameter_learning import CouplingError, InputSizes, ParameterLearning
from delta_core.interfaces.phy import PhyInputError
from tests.core.plugins.toy import BucketConfig
from tests.core.plugins.toy_impl import Bucket, Net


def _sample(n_time: int = 12, n_entity: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "x_phy": torch.rand(n_time, n_entity, 1, generator=g) * 5,
        "x_nn": torch.randn(n_time, n_entity, 2, generator=g),
        "c_nn": torch.randn(n_entity, 3, generator=g),
    }


def _build(config: BucketConfig, coupling: ParameterLearningConfig | None = None) -> ParameterLearning:
    torch.manual_seed(0)
    return ParameterLearning.build(
        {"bucket": Bucket(config)}, {"net": lambda spec: Net(spec)}, InputSizes(2, 3), coupling
    )


def test_static_parameters_scaled_into_bounds() -> None:
    model = _build(BucketConfig(nmul=4))
    spec = model.nn["nn"].spec
    assert (spec.n_static_outputs, spec.n_dynamic_outputs, spec.output_range) == (5, 0, "unit")
    out = model(_sample())
    k, scale = out.parameters["k"], out.parameters["scale"]
    assert k.shape == (3, 4) and scale.shape == (3,)
    assert bool(((k >= 0.01) & (k <= 0.5)).all()) and bool(((scale >= 0.5) & (scale <= 1.5)).all())
    assert out.fluxes["Q"].shape == (12, 3)


def test_scale_is_exactly_lo_plus_u_times_range() -> None:
    model = _build(BucketConfig(nmul=2))
    u = torch.tensor([[0.0, 1.0, 0.25]])
    params = model.scale(u, None)
    assert torch.allclose(params["k"], torch.tensor([[0.01, 0.5]]))
    assert torch.allclose(params["scale"], torch.tensor([0.75]))


def test_dynamic_parameters_come_from_dynamic_output() -> None:
    model = _build(BucketConfig(nmul=2, dynamic=("k",)), ParameterLearningConfig(warmup=4))
    spec = model.nn["nn"].spec
    assert (spec.n_static_outputs, spec.n_dynamic_outputs) == (1, 2)
    out = model(_sample())
    assert out.parameters["k"].shape == (12, 3, 2)
    assert out.fluxes["Q"].shape == (8, 3) and out.warmup == 4


def test_fixed_parameters_are_not_learned() -> None:
    model = _build(BucketConfig(nmul=2), ParameterLearningConfig(fixed={"scale": 1.0}))
    assert model.learned_parameters() == ("k",)
    out = model(_sample())
    assert torch.equal(out.parameters["scale"], torch.ones(3))


def test_gradients_reach_the_network() -> None:
    model = _build(BucketConfig(nmul=2, dynamic=("k",)))
    model(_sample()).fluxes["Q"].mean().backward()
    for name, p in model.nn.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.nn["nn"].static.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("config", "coupling", "message"),
    [
        (BucketConfig(dynamic=("scale",)), None, "parameter 'scale' of Bucket may not be dynamic"),
        (BucketConfig(dynamic=("x",)), None, "dynamic parameter 'x' is not declared by Bucket"),
        (BucketConfig(), ParameterLearningConfig(fixed={"k": 2.0}), r"fixed parameter 'k'=2.0 is outside \[0.01, 0.5\]"),
        (BucketConfig(), ParameterLearningConfig(fixed={"q": 1.0}), "fixed parameter 'q' is not declared by Bucket"),
    ],
)
def test_mismatches_are_clear_errors(
    config: BucketConfig, coupling: ParameterLearningConfig | None, message: str
) -> None:
    with pytest.raises(CouplingError, match=message):
        _build(config, coupling)


def test_only_one_phy_and_one_nn() -> None:
    with pytest.raises(CouplingError, match=r"exactly one PhyModel and one network, got 2 PhyModel\(s\)"):
        ParameterLearning.build({"a": Bucket(), "b": Bucket()}, {"n": Net}, InputSizes(1, 1))


def test_phy_input_validation_names_the_problem() -> None:
    phy = Bucket(BucketConfig(nmul=2))
    forcing = torch.ones(5, 3, 1)
    forcing[2, 1, 0] = float("nan")
    params = {"k": torch.full((3, 2), 0.1), "scale": torch.ones(3)}
    with pytest.raises(PhyInputError, match=r"forcing 'P' has 1 non-finite values \(first at time index 2, entity index 1\)"):
        phy(forcing, params)
    with pytest.raises(PhyInputError, match=r"forcing must be \[time, entity, 1\] \(P\), got shape \(5, 3\)"):
        phy(torch.ones(5, 3), params)
    with pytest.raises(PhyInputError, match=r"parameter 'k' must have shape \(3, 2\) \(static\) or \(5, 3, 2\)"):
        phy(torch.ones(5, 3, 1), {"k": torch.full((3,), 0.1), "scale": torch.ones(3)})
    with pytest.raises(PhyInputError, match=r"unknown parameters \['z'\]; declared: k, scale"):
        phy(torch.ones(5, 3, 1), {**params, "z": torch.ones(3)})


def test_free_parameters_fit_one_set_per_entity() -> None:
    from delta_core.coupling.config import FreeParametersConfig
    from delta_core.coupling.free_parameters import FreeParameters

    phy = Bucket(BucketConfig(nmul=2))
    model = FreeParameters.build({"phy": phy}, {}, InputSizes(0, 0, n_entities=4),
                                 FreeParametersConfig(init={"k": 0.25}, fixed={"scale": 1.0}))
    sample = _sample(n_entity=2)
    sample["entity_index"] = torch.tensor([3, 1])
    out = model(sample)
    assert torch.allclose(out.parameters["k"], torch.full((2, 2), 0.01 + 0.25 * 0.49), atol=1e-6)
    assert torch.equal(out.parameters["scale"], torch.ones(2))
    # gradients reach only the rows of the sampled entities
    out.fluxes["Q"].mean().backward()
    grad = model.table["k"].grad
    assert grad is not None and grad[[0, 2]].abs().sum() == 0 and grad[[1, 3]].abs().sum() > 0


def test_free_parameters_refuse_networks_and_dynamic_parameters() -> None:
    from delta_core.coupling.free_parameters import FreeParameters

    with pytest.raises(CouplingError, match="uses no network: remove model.nn"):
        FreeParameters.build({"phy": Bucket()}, {"nn": Net}, InputSizes(0, 0, 3))
    with pytest.raises(CouplingError, match=r"fits static parameters only; Bucket declares dynamic \['k'\]"):
        FreeParameters.build({"phy": Bucket(BucketConfig(dynamic=("k",)))}, {}, InputSizes(0, 0, 3))
