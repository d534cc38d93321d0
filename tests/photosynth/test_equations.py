"""Each equation against values computed by hand (numbers worked out independently below)."""

from __future__ import annotations

import math

import pytest
import torch

from delta_photosynth.biochem import c3_limits, c4_limits, electron_transport, limiting_index, smooth_min
from delta_photosynth.config import (
    C3_TEMPERATURE_DEFAULTS,
    C4_TEMPERATURE_DEFAULTS,
    R_GAS,
    T25,
    C3Kinetics,
    TemperatureResponse,
    arrhenius,
    peaked,
)
from delta_photosynth.temperature import peaked_arrhenius, q10, response_factor

F64 = torch.float64


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


# Worked out by hand (see the module docstrings of biochem/fvcb for the formulas):
# Km = 404.9 (1 + 210/278.4) = 710.3202586
# Ac = 60 (200 - 42.75) / (200 + 710.3202586) = 10.3644843
# J: 0.85 J^2 - (432 + 110) J + 432*110 = 0 -> J = (542 - sqrt(542^2 - 3.4*47520)) / 1.7 = 104.9484244
# Aj = J (200 - 42.75) / (800 + 342) = 14.4510856
KM = 710.3202586206896
AC = 10.364484268751571
J = 104.94842437699631
AJ = 14.451085580807943


def test_rubisco_and_electron_transport_limits() -> None:
    j = electron_transport(t(1800.0), t(110.0), 0.24, 0.85)
    assert float(j) == pytest.approx(J, rel=1e-12)
    # J is a root of the quadratic and the smaller one (below both alpha*Q and Jmax)
    assert float(0.85 * j**2 - 542.0 * j + 432.0 * 110.0) == pytest.approx(0.0, abs=1e-8)
    assert float(j) < min(432.0, 110.0)
    ac, aj, ap = c3_limits(t(200.0), t(60.0), j, t(KM), t(42.75), t(7.0))
    assert float(ac) == pytest.approx(AC, rel=1e-12)
    assert float(aj) == pytest.approx(AJ, rel=1e-12)
    assert ap is not None and float(ap) == pytest.approx(21.0)
    # at Ci = Gamma* both limits vanish
    ac0, aj0, _ = c3_limits(t(42.75), t(60.0), j, t(KM), t(42.75), None)
    assert float(ac0) == 0.0 and float(aj0) == 0.0


def test_electron_transport_limits_at_extremes() -> None:
    # darkness: J = 0; negative PPFD readings count as darkness; huge light: J -> Jmax
    assert float(electron_transport(t(0.0), t(110.0), 0.24, 0.85)) == pytest.approx(0.0, abs=1e-12)
    assert float(electron_transport(t(-3.0), t(110.0), 0.24, 0.85)) == pytest.approx(0.0, abs=1e-12)
    assert float(electron_transport(t(1e9), t(110.0), 0.24, 0.85)) == pytest.approx(110.0, rel=1e-6)


def test_smooth_minimum_is_the_smaller_quadratic_root() -> None:
    # 0.999 x^2 - 22 x + 120 = 0: x = (22 - sqrt(484 - 479.52)) / 1.998 = 9.9516511
    assert float(smooth_min(t(10.0), t(12.0), 0.999)) == pytest.approx(9.951651126700861, rel=1e-12)
    # symmetric, below the minimum, tends to the minimum as theta -> 1
    assert float(smooth_min(t(12.0), t(10.0), 0.999)) == pytest.approx(9.951651126700861, rel=1e-12)
    assert float(smooth_min(t(10.0), t(12.0), 0.999999)) == pytest.approx(10.0, abs=2e-3)
    # signs: one negative limit (Ci below Gamma*) gives a negative result close to it; zero stays zero
    assert float(smooth_min(t(-2.0), t(30.0), 0.999)) == pytest.approx(-2.0, abs=0.01)
    assert float(smooth_min(t(-2.0), t(-1.0), 0.999)) < -2.0
    assert float(smooth_min(t(0.0), t(0.0), 0.999)) == 0.0
    assert float(smooth_min(t(0.0), t(5.0), 0.999)) == pytest.approx(0.0, abs=1e-12)
    # stable where the textbook form cancels: tiny a1 next to a huge a2
    assert float(smooth_min(t(1e-6), t(1e8), 0.999)) == pytest.approx(1e-6, rel=1e-6)


def test_smooth_minimum_gradients_are_finite_everywhere() -> None:
    a1 = torch.tensor([0.0, 0.0, 5.0, -3.0, 1e-8, 10.0], dtype=F64, requires_grad=True)
    a2 = torch.tensor([0.0, 5.0, 5.0, 3.0, 1e8, 10.0 + 1e-9], dtype=F64, requires_grad=True)
    smooth_min(a1, a2, 0.999).sum().backward()
    assert a1.grad is not None and a2.grad is not None
    assert torch.isfinite(a1.grad).all() and torch.isfinite(a2.grad).all()


def test_limiting_index() -> None:
    idx = limiting_index(t(1.0, 5.0, 5.0), t(2.0, 3.0, 6.0), t(3.0, 4.0, 1.0))
    assert idx.tolist() == [1.0, 2.0, 3.0]
    assert limiting_index(t(2.0), t(1.0), None).tolist() == [2.0]


def test_c4_limits() -> None:
    ac, aj, ap = c4_limits(t(100.0), t(40.0), t(1500.0), t(0.7), 0.05)
    assert float(ac) == 40.0
    assert float(aj) == pytest.approx(75.0)  # 0.05 * 1500
    assert float(ap) == pytest.approx(70.0)  # 0.7 mol m-2 s-1 * 100 umol mol-1


@pytest.mark.parametrize("response", [
    *C3_TEMPERATURE_DEFAULTS.values(), *C4_TEMPERATURE_DEFAULTS.values(),
    arrhenius(79430.0), TemperatureResponse(kind="none"), TemperatureResponse(kind="q10", q10=2.3),
])
def test_every_response_is_one_at_25_degrees(response: TemperatureResponse) -> None:
    assert float(response_factor(t(25.0), response)) == pytest.approx(1.0, abs=1e-14)


def test_temperature_responses_by_hand() -> None:
    # Arrhenius, Ha = 65330 J/mol at 35 degC: exp(65330 * 10 / (R 298.15 308.15)) = 2.3519086
    expected = math.exp(65330.0 * 10.0 / (R_GAS * T25 * 308.15))
    assert expected == pytest.approx(2.3519085924034413)
    assert float(response_factor(t(35.0), arrhenius(65330.0))) == pytest.approx(expected, rel=1e-12)
    # peaked (CLM4.5 Vcmax: 65330, 149250, 485) at 35 and 40 degC: 1.3027116, 1.0887665
    got = peaked_arrhenius(t(35.0, 40.0), 65330.0, 149250.0, 485.0)
    assert got.tolist() == pytest.approx([1.302711626379895, 1.0887665337381267], rel=1e-12)
    # peaked with a very high Hd reduces to Arrhenius
    assert float(peaked_arrhenius(t(35.0), 65330.0, 1e7, 485.0)) == pytest.approx(expected, rel=1e-9)
    # Q10 = 2 doubles per 10 K; with Collatz inhibition (13, 36 degC, 0.3/K) normalised at 25 degC:
    # 2 * [1/((1+e^(0.3(13-35)))(1+e^(0.3(35-36))))] / [1/((1+e^(-3.6))(1+e^(-3.3)))] = 1.2221466
    assert float(q10(t(35.0), 2.0)) == pytest.approx(2.0)
    assert float(response_factor(t(35.0), C4_TEMPERATURE_DEFAULTS["Vcmax"])) == pytest.approx(
        1.2221466288113039, rel=1e-12)


def test_learned_temperature_parameters_override_fixed_ones() -> None:
    resp = peaked(65330.0, 149250.0, 485.0)
    learned = {"Ha": t(50000.0), "dS": t(490.0)}
    assert float(response_factor(t(30.0), resp, learned)) == pytest.approx(
        float(peaked_arrhenius(t(30.0), 50000.0, 149250.0, 490.0)), rel=1e-14)
    assert float(response_factor(t(30.0), TemperatureResponse(kind="q10"), {"q10": t(3.0)})) == pytest.approx(
        3.0**0.5, rel=1e-12)


def test_kinetic_constants_at_25_degrees_are_the_fates_values() -> None:
    k = C3Kinetics()
    assert (k.Kc25, k.Ko25, k.gammastar25) == (404.9, 278.4, 42.75)
    assert (k.Kc.Ha, k.Ko.Ha, k.gammastar.Ha) == (79430.0, 36380.0, 37830.0)
    for resp in (k.Kc, k.Ko, k.gammastar):
        assert float(response_factor(t(25.0), resp)) == pytest.approx(1.0, abs=1e-15)
