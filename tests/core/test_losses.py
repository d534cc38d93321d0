"""Built-in losses: NaN masking (values and gradients), hand-computed values, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from delta_core.evaluation.metrics import kge as kge_metric
from delta_core.interfaces.loss import Loss
from delta_core.plugins.manager import build_registry
from delta_core.training.config import CombinedRMSEConfig, NSEBatchConfig
from delta_core.training.losses import (
    CombinedRMSELoss,
    KGELoss,
    LossInputError,
    NSEBatchLoss,
    RMSELoss,
)

NAN = float("nan")
LOSSES = [RMSELoss(), NSEBatchLoss(), KGELoss(), CombinedRMSELoss()]
IDS = ["rmse", "nse_batch", "kge", "rmse_combined"]


def _context(n_batch: int) -> dict[str, torch.Tensor]:
    return {"target_std": torch.linspace(0.5, 2.0, n_batch, dtype=torch.float64)}


def _gapped(seed: int = 0, n_time: int = 30, n_batch: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive ``(simulated, observed)`` float64 with NaN at about a fifth of the observations."""
    gen = torch.Generator().manual_seed(seed)
    obs = torch.rand(n_time, n_batch, generator=gen, dtype=torch.float64) * 5 + 0.1
    sim = obs + torch.randn(n_time, n_batch, generator=gen, dtype=torch.float64)
    obs[torch.rand(n_time, n_batch, generator=gen) < 0.2] = NAN
    obs[0, 0] = obs[1, 1] = NAN
    return sim.abs(), obs


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_gradient_is_finite_and_zero_at_masked_steps(loss: Loss) -> None:
    sim, obs = _gapped()
    sim.requires_grad_(True)
    value = loss(sim, obs, _context(obs.shape[1]))
    assert torch.isfinite(value)
    value.backward()
    assert sim.grad is not None
    assert torch.isfinite(sim.grad).all()
    masked = torch.isnan(obs)
    assert masked.sum() >= 2
    assert (sim.grad[masked] == 0).all()
    assert (sim.grad[~masked] != 0).sum() > 0.9 * (~masked).sum()


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_masked_value_equals_the_loss_without_the_gaps(loss: Loss) -> None:
    """Whatever stands in ``simulated`` where the target is NaN has no effect."""
    sim, obs = _gapped(1)
    other = torch.where(torch.isnan(obs), torch.full_like(sim, 1e6), sim)
    ctx = _context(obs.shape[1])
    assert loss(sim, obs, ctx).item() == pytest.approx(loss(other, obs, ctx).item(), rel=1e-12)


@pytest.mark.parametrize("loss", [RMSELoss(), CombinedRMSELoss(), NSEBatchLoss()], ids=["rmse", "combined", "nse"])
def test_perfect_fit_has_zero_gradient_not_nan(loss: Loss) -> None:
    """``sqrt`` has an infinite derivative at 0: a perfect fit must not turn the gradient into NaN."""
    _, obs = _gapped(2)
    sim = torch.nan_to_num(obs, nan=1.0).requires_grad_(True)
    value = loss(sim, obs, _context(obs.shape[1]))
    value.backward()
    assert value.item() == 0.0
    assert sim.grad is not None
    assert (sim.grad == 0).all()


SIM = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)
OBS = torch.tensor([[2.0, NAN], [3.0, 1.0], [NAN, 6.0]], dtype=torch.float64)  # errors -1, 0 | 3, 0


def test_rmse_by_hand() -> None:
    assert RMSELoss()(SIM, OBS).item() == pytest.approx(math.sqrt((1 + 0 + 9 + 0) / 4), rel=1e-14)


def test_nse_batch_by_hand() -> None:
    std = torch.tensor([1.0, 2.9], dtype=torch.float64)
    expected = (1 / 1.1**2 + 0 + 9 / 3.0**2 + 0) / 4
    assert NSEBatchLoss()(SIM, OBS, {"target_std": std}).item() == pytest.approx(expected, rel=1e-14)
    expected_eps = (1 / 1.5**2 + 9 / 3.4**2) / 4
    loss = NSEBatchLoss(NSEBatchConfig(eps=0.5))
    assert loss(SIM, OBS, {"target_std": std}).item() == pytest.approx(expected_eps, rel=1e-14)


def test_nse_batch_weights_each_entity_by_inverse_squared_std() -> None:
    """Equal errors in two entities: their gradients differ by ((σ2 + eps) / (σ1 + eps))²."""
    obs = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], dtype=torch.float64)
    sim = (obs + torch.tensor([[0.5], [-0.2], [0.3]], dtype=torch.float64)).requires_grad_(True)
    std = torch.tensor([1.0, 3.0], dtype=torch.float64)
    NSEBatchLoss()(sim, obs, {"target_std": std}).backward()
    assert sim.grad is not None
    ratio = sim.grad[:, 0] / sim.grad[:, 1]
    torch.testing.assert_close(ratio, torch.full((3,), (3.1 / 1.1) ** 2, dtype=torch.float64))


def test_kge_by_hand() -> None:
    """Entity 0: sim = obs + 1 (r = α = 1, β = 3.5 / 2.5); entity 1: sim = 2·obs (r = 1, α = β = 2).

    Entity 2 has constant observations and entity 3 a single one: no KGE, left out.
    """
    obs = torch.tensor([
        [1.0, 1.0, 2.0, NAN], [2.0, NAN, 2.0, 4.0], [3.0, 2.0, 2.0, NAN], [4.0, 3.0, NAN, NAN], [NAN, 4.0, 2.0, NAN],
    ], dtype=torch.float64)
    sim = torch.stack([obs[:, 0] + 1, 2 * obs[:, 1], torch.arange(5.0, dtype=torch.float64), torch.ones(5)], dim=1)
    sim = torch.nan_to_num(sim, nan=7.0)
    expected = ((1.4 - 1) + math.sqrt(2.0)) / 2
    assert KGELoss()(sim, obs).item() == pytest.approx(expected, rel=1e-9)
    assert KGELoss()(sim[:, :2], obs[:, :2]).item() == pytest.approx(expected, rel=1e-9)


def test_kge_loss_is_one_minus_the_kge_metric() -> None:
    sim, obs = _gapped(3, n_time=60, n_batch=5)
    metric = kge_metric(sim.numpy(), obs.numpy())
    assert KGELoss()(sim, obs).item() == pytest.approx(float(np.mean(1 - metric)), rel=1e-9)


def test_kge_ignores_dry_windows() -> None:
    """A window of constant (zero) flow has no KGE: it must not blow the loss up (1/σ_obs)."""
    sim, obs = _gapped(4, n_batch=3)
    dry = obs.clone()
    dry[:, 2] = 0.0
    noisy = sim.clone()
    noisy[:, 2] = torch.linspace(0.0, 0.01, len(sim), dtype=torch.float64)
    assert KGELoss()(noisy, dry).item() == pytest.approx(KGELoss()(sim[:, :2], obs[:, :2]).item(), rel=1e-12)


def test_combined_rmse_by_hand() -> None:
    def tr(q: float) -> float:
        return math.log10(math.sqrt(q + 1e-6) + 0.1)

    pairs = [(1.0, 2.0), (3.0, 3.0), (4.0, 1.0), (6.0, 6.0)]  # (sim, obs) of SIM / OBS where obs is valid
    plain = math.sqrt(sum((s - o) ** 2 for s, o in pairs) / 4)
    logged = math.sqrt(sum((tr(s) - tr(o)) ** 2 for s, o in pairs) / 4)
    assert CombinedRMSELoss()(SIM, OBS).item() == pytest.approx(0.75 * plain + 0.25 * logged, rel=1e-12)
    half = CombinedRMSELoss(CombinedRMSEConfig(log_weight=0.5))(SIM, OBS).item()
    assert half == pytest.approx(0.5 * plain + 0.5 * logged, rel=1e-12)


def test_combined_rmse_negative_simulation_is_clamped() -> None:
    sim = torch.tensor([[-1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    obs = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    value = CombinedRMSELoss()(sim, obs)
    value.backward()
    assert value.item() == pytest.approx(0.75 * math.sqrt(0.5), rel=1e-12)  # log part: clamp(-1) = 0 = obs
    assert sim.grad is not None and torch.isfinite(sim.grad).all()


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_all_nan_batch_is_an_error(loss: Loss) -> None:
    obs = torch.full((5, 2), NAN)
    with pytest.raises(LossInputError) as err:
        loss(torch.ones(5, 2), obs, _context(2))
    assert str(err.value) == "no observation in the batch: every target value is NaN"


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_shape_mismatch_is_an_error(loss: Loss) -> None:
    with pytest.raises(LossInputError) as err:
        loss(torch.ones(3, 2), torch.ones(2, 2), _context(2))
    assert str(err.value) == "simulated (3, 2) and observed (2, 2) differ"


@pytest.mark.parametrize("context", [None, {}, {"std": torch.ones(2)}])
def test_nse_batch_without_target_std_is_an_error(context: dict[str, torch.Tensor] | None) -> None:
    with pytest.raises(LossInputError) as err:
        NSEBatchLoss()(torch.ones(3, 2), torch.ones(3, 2), context)
    assert str(err.value) == "core.nse_batch needs context['target_std'] [batch] (training-period std)"


def test_kge_without_a_usable_entity_is_an_error() -> None:
    obs = torch.tensor([[1.0, NAN, 2.0], [NAN, 2.0, 2.0]])
    with pytest.raises(LossInputError) as err:
        KGELoss()(torch.ones(2, 3), obs)
    assert str(err.value) == "core.kge needs an entity with at least two different observations in the batch"


def test_losses_are_registered() -> None:
    registry, _ = build_registry(autoload=False)
    for name, cls in zip(IDS, (RMSELoss, NSEBatchLoss, KGELoss, CombinedRMSELoss), strict=True):
        assert registry.get("loss", f"core.{name}").load() is cls


def test_kge_gradient_is_finite_with_empty_and_dry_entities_in_float32() -> None:
    gen = torch.Generator().manual_seed(5)
    obs = torch.rand(365, 4, generator=gen) * 5
    obs[:, 1] = NAN  # no observation at all
    obs[:, 2] = 0.0  # dry all window
    obs[:100, 3] = NAN
    sim = (torch.rand(365, 4, generator=gen) * 50).requires_grad_(True)
    KGELoss()(sim, obs).backward()
    assert sim.grad is not None
    assert torch.isfinite(sim.grad).all()
    assert (sim.grad[:, 1:3] == 0).all() and (sim.grad[:100, 3] == 0).all()
