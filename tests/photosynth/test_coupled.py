"""Coupled mode: Ci solved with a stomatal model; implicit gradients; convergence and its reporting."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from delta_core.testing import check_phy_model
from delta_photosynth._base import LeafModel
from delta_photosynth.c4 import C4
from delta_photosynth.config import C4Config, CiSolverConfig, FvCBConfig
from delta_photosynth.data.readers import ReadOptions, read_leaf_file
from delta_photosynth.fvcb import FvCB
from delta_photosynth.stomata import CiSolveWarning
from tests.photosynth.helpers import C3, C4P, F64, STOMATA, coupled_forcing, per_curve

MODELS = {
    "fvcb-medlyn-gbw": (FvCBConfig(mode="coupled", optional_forcings=("gbw",)), "VPD", True),
    "fvcb-ballberry": (FvCBConfig(mode="coupled", stomatal="ball_berry"), "RH", False),
    "fvcb-medlyn-min-fixed-gb": (FvCBConfig(mode="coupled", colimitation="min", gbw=2.0), "VPD", False),
    "c4-medlyn": (C4Config(mode="coupled", optional_forcings=("gbw",)), "VPD", True),
}


def build(name: str) -> tuple[LeafModel, torch.Tensor, dict[str, float]]:
    config, humidity, gbw = MODELS[name]
    model: LeafModel = FvCB(config) if isinstance(config, FvCBConfig) else C4(config)
    base = {**(C3 if isinstance(config, FvCBConfig) else C4P), **STOMATA}
    return model, coupled_forcing(humidity, n_rows=6, n_curves=3, seed=2, gbw=gbw), base


@pytest.mark.parametrize("name", list(MODELS))
def test_gradients_through_the_ci_solve_match_finite_differences(name: str) -> None:
    model, forcing, base = build(name)
    names = [p.name for p in model.param_specs]
    g = torch.Generator().manual_seed(0)
    values = [torch.full((3, 1), base[n], dtype=F64) * (1 + 0.2 * torch.rand(3, 1, generator=g, dtype=F64))
              for n in names]
    ca_vpd = forcing[..., [0, 3]].clone()

    def run(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        *params, drivers = args
        x = torch.cat([drivers[..., :1], forcing[..., 1:3], drivers[..., 1:], forcing[..., 4:]], dim=-1)
        out = model(x, dict(zip(names, params, strict=True))).fluxes
        return out["An"], out["Ci"], out["gsw"]

    inputs = [v.requires_grad_() for v in values] + [ca_vpd.requires_grad_()]
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_solution_satisfies_diffusion_and_stomatal_model(name: str) -> None:
    model, forcing, base = build(name)
    out = model(forcing, per_curve(base, 3)).fluxes
    assert (out["ci_converged"] == 1).all()
    ca, an, gs, ci = forcing[..., 0], out["An"], out["gsw"], out["Ci"]
    config = model.config
    if "gbw" in model.forcing_names:
        rb = 1.4 / forcing[..., 4]
    else:
        rb = torch.zeros_like(ca) if config.gbw is None else torch.full_like(ca, 1.4 / config.gbw)
    torch.testing.assert_close(ci, ca - an * (rb + 1.6 / gs), rtol=0, atol=1e-8)
    cs = ca - rb * an
    if config.stomatal == "medlyn":
        slope = 1.6 * (1 + STOMATA["g1"] / torch.sqrt(forcing[..., 3]))
    else:
        slope = STOMATA["g1"] * forcing[..., 3] / 100.0
    torch.testing.assert_close(gs, STOMATA["g0"] + slope * torch.relu(an) / cs, rtol=1e-12, atol=1e-12)
    # in darkness the leaf respires: gs = g0 and CO2 builds up inside (Ci > Ca)
    dark = forcing[..., 1] == 0
    assert (gs[dark] == STOMATA["g0"]).all() and (ci[dark] > ca[dark]).all()


def test_bisection_fallback_converges_and_failures_are_reported() -> None:
    forcing = coupled_forcing("VPD", n_rows=8, n_curves=3, seed=4)
    p = per_curve({**C3, **STOMATA}, 3)
    ref = FvCB(FvCBConfig(mode="coupled"))(forcing, p).fluxes["Ci"]
    # one Newton step, then bisection finishes every row
    fallback = FvCB(FvCBConfig(mode="coupled", solver=CiSolverConfig(max_newton=1)))(forcing, p).fluxes
    assert (fallback["ci_converged"] == 1).all()
    torch.testing.assert_close(fallback["Ci"], ref, rtol=0, atol=1e-6)
    # no fallback: the unconverged rows are flagged and named in a warning
    starved = FvCB(FvCBConfig(mode="coupled", solver=CiSolverConfig(max_newton=1, max_bisect=0)))
    with pytest.warns(CiSolveWarning, match=r"did not converge on \d+ rows: \(row \d+, curve \d+\)"):
        out = starved(forcing, p).fluxes
    assert (out["ci_converged"] == 0).any()


def _graph_size(output: torch.Tensor) -> int:
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return len(seen)


def test_memory_does_not_grow_with_iterations() -> None:
    """The graph behind Ci is the same whatever the number of solver iterations (no unrolling)."""
    forcing = coupled_forcing("VPD", n_rows=8, n_curves=3, seed=4)
    sizes = []
    for solver in (CiSolverConfig(), CiSolverConfig(max_newton=1, max_bisect=300, rtol=1e-14)):
        p = {k: v.requires_grad_() for k, v in per_curve({**C3, **STOMATA}, 3).items()}
        ci = FvCB(FvCBConfig(mode="coupled", solver=solver))(forcing, p).fluxes["Ci"]
        names = {type(n).__name__ for n in _iter_nodes(ci)}
        assert "_ImplicitCiBackward" in names
        sizes.append(_graph_size(ci))
    assert sizes[0] == sizes[1]


def _iter_nodes(output: torch.Tensor) -> list[object]:
    seen: list[object] = []
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.append(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return seen


def test_padding_rows_in_coupled_mode() -> None:
    forcing = coupled_forcing("VPD", n_rows=6, n_curves=2, seed=1)
    forcing[4:, 0] = float("nan")
    p = {k: v.requires_grad_() for k, v in per_curve({**C3, **STOMATA}, 2).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = FvCB(FvCBConfig(mode="coupled"))(forcing, p).fluxes
    assert torch.isnan(out["Ci"][4:, 0]).all() and torch.isfinite(out["Ci"][:4, 0]).all()
    out["An"][torch.isfinite(out["An"])].sum().backward()
    assert all(torch.isfinite(v.grad).all() for v in p.values())


@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(MODELS))
def test_coupled_contract(name: str, dtype: torch.dtype) -> None:
    config, humidity, gbw = MODELS[name]
    model = FvCB(config) if isinstance(config, FvCBConfig) else C4(config)
    forcing = coupled_forcing(humidity, n_rows=10, n_curves=3, seed=3, gbw=gbw).to(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CiSolveWarning)  # every row converges, even at the parameter bounds
        check_phy_model(model, forcing, warmup=1)


# Rows of the shared files with their measured conditions (Ca, Q, Tleaf, VPD, gbw); files without a
# VPD column use 1.5 kPa, without gbw none (Ca is then the leaf-surface CO2 as measured, CO2S).
SHARED_FILES = {
    "plantecophys/acidata1.csv": ("c3", ReadOptions()),
    "cdmuir/A_Ci_T_data.csv": ("c3", ReadOptions(curve_columns=("ID",), split_on=("Tleaf:1",))),
    "cdmuir/A_Ci_Q_data_1.csv": ("c3", ReadOptions(split_on=("Qin:10",))),
    "photogea/ld11_aci_soybean.csv": ("c3", ReadOptions(curve_columns=("instrument", "species", "plot"))),
    "photogea/c4_aci_sorghum.csv": ("c4", ReadOptions(curve_columns=("instrument", "species", "plot"))),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", list(SHARED_FILES))
def test_ci_solve_converges_on_every_row_of_the_shared_files(leaf_dir: Path, rel: str) -> None:
    kind, options = SHARED_FILES[rel]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropped rows are tested with the readers
        table = read_leaf_file(leaf_dir / rel, options).table
    n = len(table)
    vpd = table["VPD"].to_numpy() if "VPD" in table else np.full(n, 1.5)
    columns = [table["Ca"].to_numpy(), table["Q"].to_numpy(), table["Tleaf"].to_numpy(), vpd]
    optional: tuple[str, ...] = ()
    if "gbw" in table:
        columns.append(table["gbw"].to_numpy())
        optional = ("gbw",)
    forcing = torch.from_numpy(np.stack(columns, axis=-1)[:, None, :]).expand(n, 3, len(columns)).contiguous()
    if kind == "c3":
        model: LeafModel = FvCB(FvCBConfig(mode="coupled", optional_forcings=optional))
        sets = [{"Vcmax25": 20.0, "Jmax25": 30.0, "Rd25": 0.5, "TPU25": 3.0, "g0": 0.01, "g1": 2.0},
                {"Vcmax25": 80.0, "Jmax25": 140.0, "Rd25": 1.5, "TPU25": 9.0, "g0": 0.05, "g1": 4.0},
                {"Vcmax25": 250.0, "Jmax25": 450.0, "Rd25": 5.0, "TPU25": 25.0, "g0": 0.2, "g1": 10.0}]
    else:
        model = C4(C4Config(mode="coupled", optional_forcings=optional))
        sets = [{"Vcmax25": 15.0, "kp25": 0.1, "Rd25": 0.5, "g0": 0.01, "g1": 1.0},
                {"Vcmax25": 50.0, "kp25": 0.7, "Rd25": 1.5, "g0": 0.05, "g1": 2.0},
                {"Vcmax25": 200.0, "kp25": 2.5, "Rd25": 5.0, "g0": 0.2, "g1": 6.0}]
    params = {k: torch.tensor([[s[k]] for s in sets], dtype=F64) for k in sets[0]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", CiSolveWarning)
        out = model(forcing, params).fluxes
    assert (out["ci_converged"] == 1).all(), f"{rel}: rows not converged: {torch.nonzero(out['ci_converged'] == 0)}"
    assert torch.isfinite(out["Ci"]).all() and (out["gsw"] > 0).all()
    for dtype in (torch.float32,):
        out32 = model(forcing.to(dtype), {k: v.to(dtype) for k, v in params.items()}).fluxes
        assert (out32["ci_converged"] == 1).all()
        torch.testing.assert_close(out32["Ci"].double(), out["Ci"], rtol=1e-4, atol=1e-2)
