"""HBV against the reference outputs of hydrodl2 1.4.0 (../shared/reference/hbv).

Each case is fed through our model exactly as the reference run was set up (see the
folder's README and each file's ``meta``): ``raw -> sigmoid -> bounds -> HBV``; static
parameters read from the last step of ``raw``, dynamic ones from every step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from delta_hydro.hbv.routing import gamma_unit_hydrograph
from tests.hydro.helpers import REFERENCE_DIR

pytestmark = pytest.mark.shared_data

OUTPUT_RTOL = 1e-5
OUTPUT_ATOL = 1e-5  # mm/day (mm for SWE and states; % for BFI): floor for near-zero values
GRAD_RTOL = 1e-4
GRAD_ATOL_FRACTION = 1e-5  # absolute floor, as a fraction of the largest reference gradient

_PEER_VARIANTS = {
    "hydrodl2.models.hbv.hbv.Hbv": "1.0",
    "hydrodl2.models.hbv.hbv_1_1p.Hbv_1_1p": "1.1p",
    "hydrodl2.models.hbv.hbv_2.Hbv_2": "2.0",
}


def _cases() -> list[Any]:
    files = sorted(REFERENCE_DIR.glob("*.npz")) if REFERENCE_DIR.is_dir() else []
    if not files:
        reason = f"reference data absent: no {REFERENCE_DIR}/*.npz (shared data is not checked out)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-reference-data")]
    return [pytest.param(path, id=path.stem) for path in files]


class Case:
    """One reference file, set up and run through our HBV (with gradients)."""

    def __init__(self, path: Path) -> None:
        data = np.load(path)
        self.data = {key: data[key] for key in data.files}
        self.meta = json.loads(str(self.data["meta"]))
        cfg = self.meta["config"]
        # Settings our model reproduces; anything else must fail loudly, not mismatch silently.
        assert cfg["routing"] is True and cfg["dy_drop"] == 0.0 and cfg["nearzero"] == 1e-5
        assert cfg.get("cache_states", False) is False
        assert list(cfg["variables"]) == ["prcp", "tmean", "pet"]
        variant = _PEER_VARIANTS[self.meta["peer_class"]]
        dynamic = tuple(str(n).removeprefix("par") for n in self.data["dynamic_params"])
        self.nmul = int(self.data["nmul"])
        self.warmup = int(self.data["warmup"])
        mode = "spinup_no_grad" if bool(self.data["warmup_states"]) else "full_grad"
        self.model = HBV(HBVConfig(variant=variant, nmul=self.nmul, dynamic=dynamic, warmup_mode=mode))

        self.raw = torch.tensor(self.data["raw"], requires_grad=True)
        u = torch.sigmoid(self.raw)
        names = [str(n).removeprefix("par") for n in self.data["param_names"]]
        params = {}
        for i, name in enumerate(names):
            lo, hi = float(self.data["bounds_lo"][i]), float(self.data["bounds_hi"][i])
            # The reference convention: a [T, B, nmul] series for every parameter.
            params[name] = lo + u[:, :, i * self.nmul : (i + 1) * self.nmul] * (hi - lo)
        offset = len(names) * self.nmul
        for j, name in enumerate(str(n) for n in self.data["route_names"]):
            lo, hi = float(self.data["route_lo"][j]), float(self.data["route_hi"][j])
            params[name] = lo + u[:, :, offset + j] * (hi - lo)
        self.params = params
        self.forcing = torch.tensor(self.data["x_phy"])
        self.out = self.model(self.forcing, params, warmup=self.warmup)


@pytest.fixture(scope="module", params=_cases())
def case(request: pytest.FixtureRequest) -> Case:
    return Case(request.param)


def _assert_close(name: str, got: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> None:
    assert got.shape == ref.shape, f"{name}: shape {got.shape} != reference {ref.shape}"
    excess = np.abs(got - ref) - (atol + rtol * np.abs(ref))
    if (excess > 0).any():
        idx = np.unravel_index(np.argmax(excess), excess.shape)
        raise AssertionError(
            f"{name}: {int((excess > 0).sum())} values differ beyond rtol={rtol:g}, atol={atol:g}; "
            f"worst at {tuple(int(i) for i in idx)}: ours {got[idx]!r}, reference {ref[idx]!r}"
        )


def test_every_reference_output_is_produced(case: Case) -> None:
    ref_names = {k.removeprefix("out_") for k in case.data if k.startswith("out_")}
    ours = set(case.out.fluxes)
    assert ref_names == ours - {"leakage"}, f"missing {ref_names - ours}, extra {ours - ref_names}"


def test_outputs_match(case: Case) -> None:
    for key in sorted(k for k in case.data if k.startswith("out_")):
        name = key.removeprefix("out_")
        got = case.out.fluxes[name].detach().numpy()
        _assert_close(name, got, case.data[key], OUTPUT_RTOL, OUTPUT_ATOL)


def test_final_states_match(case: Case) -> None:
    keys = sorted(k for k in case.data if k.startswith("state_"))
    assert {k.removeprefix("state_") for k in keys} == set(case.out.states)
    for key in keys:
        name = key.removeprefix("state_")
        got = case.out.states[name].detach().numpy()
        _assert_close(f"state {name}", got, case.data[key], OUTPUT_RTOL, OUTPUT_ATOL)


def test_losses_match(case: Case) -> None:
    for flux in ("streamflow", "streamflow_no_rout"):
        got = float(case.out.fluxes[flux].detach().mean())
        ref = float(case.data[f"loss_{flux}_mean"])
        assert got == pytest.approx(ref, rel=OUTPUT_RTOL), flux


def test_unit_hydrograph_matches(case: Case) -> None:
    route_a = case.params["route_a"][-1].detach()
    route_b = case.params["route_b"][-1].detach()
    np.testing.assert_allclose(route_a.numpy(), case.data["par_route_a"], rtol=1e-6)
    np.testing.assert_allclose(route_b.numpy(), case.data["par_route_b"], rtol=1e-6)
    weights = gamma_unit_hydrograph(route_a, route_b, case.data["uh"].shape[0]).numpy()
    _assert_close("uh", weights, case.data["uh"], OUTPUT_RTOL, 1e-7)


@pytest.mark.parametrize("flux", ["streamflow", "streamflow_no_rout"])
def test_gradients_match(case: Case, flux: str) -> None:
    key = "grad_raw" if flux == "streamflow" else "grad_raw_no_rout"
    (grad,) = torch.autograd.grad(case.out.fluxes[flux].mean(), case.raw, retain_graph=True)
    ref = case.data[key]
    _assert_close(key, grad.numpy(), ref, GRAD_RTOL, GRAD_ATOL_FRACTION * float(np.abs(ref).max()))
