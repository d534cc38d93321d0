"""photosynth.fvcb and photosynth.c4 in A/Ci mode: values, padding rows, inputs, contract."""

from __future__ import annotations

import math

import pytest
import torch

from delta_core.interfaces.phy import PhyInputError
from delta_core.testing import check_phy_model
from delta_photosynth.c4 import C4
from delta_photosynth.config import C3Kinetics, C4Config, FvCBConfig, arrhenius
from delta_photosynth.fvcb import FvCB
from tests.photosynth.helpers import C3, C4P, F64, aci_forcing, per_curve
from tests.photosynth.test_equations import AC, AJ, KM


def one_row(ci: float, q: float, tleaf: float) -> torch.Tensor:
    return torch.tensor([[[ci, q, tleaf]]], dtype=F64)


def test_fvcb_at_25_degrees_by_hand() -> None:
    p = per_curve({"Vcmax25": 60.0, "Jmax25": 110.0, "Rd25": 1.5, "TPU25": 7.0}, 1)
    hard = FvCB(FvCBConfig(colimitation="min")).forward(one_row(200.0, 1800.0, 25.0), p).fluxes
    assert float(hard["Ac"]) == pytest.approx(AC, rel=1e-12)
    assert float(hard["Aj"]) == pytest.approx(AJ, rel=1e-12)
    assert float(hard["Ap"]) == pytest.approx(21.0, rel=1e-12)
    assert float(hard["A"]) == pytest.approx(AC, rel=1e-12)
    assert float(hard["An"]) == pytest.approx(AC - 1.5, rel=1e-12)
    assert float(hard["limitation"]) == 1.0
    smooth = FvCB().forward(one_row(200.0, 1800.0, 25.0), p).fluxes
    # smooth: root of 0.999 A^2 - (Ac + Aj) A + Ac Aj, then with Ap = 21
    b, c = AC + AJ, AC * AJ
    a1 = (b - (b * b - 4 * 0.999 * c) ** 0.5) / (2 * 0.999)
    b, c = a1 + 21.0, a1 * 21.0
    a2 = (b - (b * b - 4 * 0.999 * c) ** 0.5) / (2 * 0.999)
    assert float(smooth["A"]) == pytest.approx(a2, rel=1e-12)
    assert float(smooth["An"]) == pytest.approx(a2 - 1.5, rel=1e-12)
    # the TPU limit binds at high Ci
    high = FvCB(FvCBConfig(colimitation="min")).forward(one_row(1500.0, 1800.0, 25.0), p).fluxes
    assert float(high["limitation"]) == 3.0 and float(high["A"]) == pytest.approx(21.0)
    assert pytest.approx(404.9 * (1 + 210.0 / 278.4)) == KM


def test_fvcb_without_tpu_declares_no_tpu() -> None:
    model = FvCB(FvCBConfig(tpu=False))
    assert "TPU25" not in [p.name for p in model.param_specs]
    assert "Ap" not in [v.name for v in model.output_vars]
    out = model(aci_forcing(), per_curve({k: v for k, v in C3.items() if k != "TPU25"}, 4)).fluxes
    assert torch.isfinite(out["An"]).all()


def test_partial_pressure_basis() -> None:
    p = per_curve(C3, 1)
    forcing = torch.tensor([[[300.0, 1800.0, 25.0, 101.325]], [[300.0, 1800.0, 25.0, 80.0]]], dtype=F64)
    pp = FvCB(FvCBConfig(optional_forcings=("Patm",), kinetics=C3Kinetics(basis="partial_pressure")))
    out = pp(forcing, p).fluxes
    ref = FvCB()(forcing[..., :3], p).fluxes
    # at the reference pressure both bases agree; at altitude Rubisco sees less CO2: Ac falls
    assert float(out["Ac"][0, 0]) == pytest.approx(float(ref["Ac"][0, 0]), rel=1e-12)
    assert float(out["Ac"][1, 0]) < float(ref["Ac"][1, 0])
    # by hand in Pa at 80 kPa: Ci 300e-6 * 80000 = 24 Pa; O2 0.210 * 80000 = 16800 Pa; constants fixed at
    # 101325 Pa: Kc 41.0265, Ko 28208.88, G* 4.3316 Pa; Km = 41.0265 (1 + 16800/28208.88) = 65.4606 Pa;
    # Ac = 60 (24 - 4.3316) / (24 + 65.4606) = 13.19137
    kc, ko, gstar = 404.9e-6 * 101325, 278.4e-3 * 101325, 42.75e-6 * 101325
    km = kc * (1 + 0.210 * 80000 / ko)
    assert km == pytest.approx(65.4606, rel=1e-5)
    assert float(out["Ac"][1, 0]) == pytest.approx(60.0 * (24.0 - gstar) / (24.0 + km), rel=1e-12)
    assert float(out["Ac"][1, 0]) == pytest.approx(13.19137, rel=1e-6)
    with pytest.raises(ValueError, match="Patm"):
        FvCBConfig(optional_forcings=("Patm",))  # no effect in the mole-fraction basis


def test_oxygen_forcing_lowers_rubisco_rate() -> None:
    model = FvCB(FvCBConfig(optional_forcings=("O2",)))
    forcing = torch.tensor([[[250.0, 1800.0, 25.0, 210.0]], [[250.0, 1800.0, 25.0, 20.0]]], dtype=F64)
    ac = model(forcing, per_curve(C3, 1)).fluxes["Ac"][:, 0]
    assert float(ac[1]) > float(ac[0])
    assert float(ac[0]) == pytest.approx(60.0 * (250 - 42.75) / (250 + KM), rel=1e-12)


def test_temperature_reaches_every_rate() -> None:
    model = FvCB(FvCBConfig(colimitation="min", temperature={"Vcmax": arrhenius(65330.0)}))
    p = per_curve(C3, 1)
    at25 = model(one_row(200.0, 1800.0, 25.0), p).fluxes
    at35 = model(one_row(200.0, 1800.0, 35.0), p).fluxes
    # Ac(35) = Vcmax25 f(35) (Ci - G*(35)) / (Ci + Km(35)), all with their own Arrhenius factors
    f = 2.3519085924034413

    def arr(ha: float) -> float:
        return math.exp(ha * 10.0 / (8.314462618 * 298.15 * 308.15))

    gstar, kc, ko = 42.75 * arr(37830.0), 404.9 * arr(79430.0), 278.4 * arr(36380.0)
    expected = 60.0 * f * (200.0 - gstar) / (200.0 + kc * (1 + 210.0 / ko))
    assert float(at35["Ac"]) == pytest.approx(expected, rel=1e-12)
    assert float(at25["Ac"]) == pytest.approx(AC, rel=1e-12)


def test_padding_rows_give_fill_values_and_clean_gradients() -> None:
    model = FvCB()
    forcing = aci_forcing(10, 3)
    forcing[7:, 1] = float("nan")  # curve 1 has 7 rows
    p = {k: v.requires_grad_() for k, v in per_curve(C3, 3).items()}
    out = model(forcing, p).fluxes
    assert torch.isnan(out["An"][7:, 1]).all()
    assert torch.isfinite(out["An"][:7, 1]).all() and torch.isfinite(out["An"][:, [0, 2]]).all()
    valid = torch.isfinite(out["An"])
    out["An"][valid].sum().backward()
    assert all(torch.isfinite(v.grad).all() for v in p.values())
    # the same rows without padding give the same values there
    ref = model(forcing[:7, 1:2], per_curve(C3, 1)).fluxes["An"][:, 0]
    torch.testing.assert_close(out["An"][:7, 1].detach(), ref)
    # padding_fill chooses the value on padding rows
    zero = FvCB(FvCBConfig(padding_fill=0.0))(forcing, per_curve(C3, 3)).fluxes
    assert (zero["An"][7:, 1] == 0).all()


def test_partly_missing_rows_and_implausible_units_are_errors() -> None:
    model = FvCB()
    forcing = aci_forcing(5, 2)
    bad = forcing.clone()
    bad[2, 1, 0] = float("nan")
    with pytest.raises(PhyInputError, match=r"row 2, curve 1, non-finite Ci"):
        model(bad, per_curve(C3, 2))
    kelvin = forcing.clone()
    kelvin[..., 2] += 273.15
    with pytest.raises(PhyInputError, match="Tleaf.*check the units"):
        model(kelvin, per_curve(C3, 2))
    negative = forcing.clone()
    negative[0, 0, 0] = -5.0
    with pytest.raises(PhyInputError, match="'Ci'"):
        model(negative, per_curve(C3, 2))
    with pytest.raises(PhyInputError, match="missing"):
        model(forcing, per_curve({"Vcmax25": 50.0}, 2))


def test_warmup_drops_leading_rows_and_dynamic_parameters_vary_per_row() -> None:
    forcing = aci_forcing(8, 2)
    model = FvCB(FvCBConfig(dynamic=("Vcmax25",)))
    assert model.dynamic_params == ("Vcmax25",)
    p = per_curve(C3, 2)
    p["Vcmax25"] = torch.linspace(30.0, 90.0, 8, dtype=F64)[:, None, None].expand(8, 2, 1)
    full = model(forcing, p).fluxes["Ac"]
    part = model(forcing, p, warmup=3).fluxes["Ac"]
    torch.testing.assert_close(part, full[3:])
    static = FvCB()(forcing, per_curve({**C3, "Vcmax25": 90.0}, 2)).fluxes["Ac"]
    torch.testing.assert_close(full[-1], static[-1])


def test_learned_light_and_temperature_parameters_are_declared_and_used() -> None:
    config = FvCBConfig(learn=("alpha", "theta", "Ha_Vcmax", "dS_Jmax"))
    names = [p.name for p in FvCB(config).param_specs]
    assert names == ["Vcmax25", "Jmax25", "Rd25", "TPU25", "alpha", "theta", "Ha_Vcmax", "dS_Jmax"]
    with pytest.raises(ValueError, match="Q10_Vcmax"):
        FvCBConfig(learn=("Q10_Vcmax",))  # Vcmax is peaked, not q10
    with pytest.raises(ValueError, match="unknown"):
        FvCBConfig(dynamic=("alpha",))  # not learned
    model = FvCB(config)
    forcing = aci_forcing(6, 1)
    base = per_curve({**C3, "alpha": 0.24, "theta": 0.85, "Ha_Vcmax": 65330.0, "dS_Jmax": 495.0}, 1)
    ref = FvCB()(forcing, per_curve(C3, 1)).fluxes["An"]
    torch.testing.assert_close(model(forcing, base).fluxes["An"], ref)
    # parameters with defaults may be omitted
    torch.testing.assert_close(model(forcing, per_curve(C3, 1)).fluxes["An"], ref)
    # a higher quantum yield raises Aj at low light (row 3: Q = 100) and leaves darkness (row 5) at 0
    changed = model(forcing, {**base, "alpha": torch.full((1, 1), 0.4, dtype=F64)}).fluxes["Aj"]
    default = FvCB()(forcing, per_curve(C3, 1)).fluxes["Aj"]
    assert float(changed[3, 0]) > 1.5 * float(default[3, 0]) > 0
    assert float(changed[5, 0]) == float(default[5, 0]) == 0.0


def test_c4_by_hand() -> None:
    model = C4(C4Config(colimitation="min"))
    p = per_curve(C4P, 1)
    rows = torch.tensor([[[30.0, 1500.0, 25.0]], [[200.0, 1500.0, 25.0]], [[200.0, 300.0, 25.0]]], dtype=F64)
    out = model(rows, p).fluxes
    assert out["Ap"][:, 0].tolist() == pytest.approx([21.0, 140.0, 140.0])
    assert out["Aj"][:, 0].tolist() == pytest.approx([75.0, 75.0, 15.0])
    assert out["Ac"][:, 0].tolist() == pytest.approx([40.0, 40.0, 40.0])
    assert out["limitation"][:, 0].tolist() == [3.0, 1.0, 2.0]
    assert out["An"][:, 0].tolist() == pytest.approx([21.0 - 0.8, 40.0 - 0.8, 15.0 - 0.8])
    smooth = C4()(rows, p).fluxes
    b, c = 40.0 + 75.0, 40.0 * 75.0
    m = (b - (b * b - 4 * 0.8 * c) ** 0.5) / (2 * 0.8)
    b, c = m + 140.0, m * 140.0
    a = (b - (b * b - 4 * 0.95 * c) ** 0.5) / (2 * 0.95)
    assert float(smooth["A"][1, 0]) == pytest.approx(a, rel=1e-12)
    assert float(smooth["A"][1, 0]) < 40.0
    # at 35 degC Vcmax follows Collatz' Q10 with inhibition (factor 1.2221466, normalised at 25 degC)
    hot = model(torch.tensor([[[1000.0, 2000.0, 35.0]]], dtype=F64), p).fluxes
    assert float(hot["Ac"]) == pytest.approx(40.0 * 1.2221466288113039, rel=1e-12)


CONTRACT = {
    "fvcb": FvCBConfig(),
    "fvcb-min-learned": FvCBConfig(colimitation="min", learn=("alpha", "theta", "Ha_Vcmax", "Hd_Jmax", "dS_Jmax")),
    "fvcb-arrhenius-dynamic": FvCBConfig(temperature={k: arrhenius(50000.0) for k in ("Vcmax", "Jmax", "Rd", "TPU")},
                                         learn=("Ha_Jmax",), dynamic=("Vcmax25", "Ha_Jmax")),
    "fvcb-no-tpu": FvCBConfig(tpu=False),
}


@pytest.mark.parametrize("name", list(CONTRACT))
def test_fvcb_contract(name: str) -> None:
    check_phy_model(FvCB(CONTRACT[name]), aci_forcing(12, 4), warmup=2)


@pytest.mark.parametrize("config", [C4Config(), C4Config(colimitation="min", learn=("alpha", "Q10_kp"))],
                         ids=["smooth", "min-learned"])
def test_c4_contract(config: C4Config) -> None:
    check_phy_model(C4(config), aci_forcing(12, 4), warmup=2)
