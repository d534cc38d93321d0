"""Synthetic leaf curves: determinism, truth, noise, consistency with the model, recovery, component, CLI."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
import torch
import xarray as xr
from click.testing import CliRunner

from delta_core.cli.main import cli
from delta_core.data.canonical import open_canonical, validate
from delta_photosynth import plugin
from delta_photosynth.fvcb import FvCB
from delta_photosynth.synthetic.config import SyntheticLeafConfig
from delta_photosynth.synthetic.generator import generate

SMALL = SyntheticLeafConfig(curves=16, seed=3)


@pytest.fixture(scope="module")
def small() -> xr.Dataset:
    return generate(SMALL)


def test_deterministic_under_seed(small: xr.Dataset) -> None:
    xr.testing.assert_identical(small, generate(SMALL))
    other = generate(SyntheticLeafConfig(curves=16, seed=4))
    assert not np.array_equal(other["A"].values, small["A"].values)


def test_layout_and_truth(small: xr.Dataset) -> None:
    assert validate(small).problems == ()
    assert small.sizes == {"curve": 16, "time": 13 + 8 + 6}
    assert small["curve"].values.tolist() == [f"leaf{i:05d}" for i in range(16)]
    assert small["segment"].values[0].tolist() == [0.0] * 13 + [1.0] * 8 + [2.0] * 6
    v, j = small["true_Vcmax25"].values, small["true_Jmax25"].values
    assert ((v >= 20) & (v <= 150)).all() and ((j / v >= 1.2 - 1e-5) & (j / v <= 2.2 + 1e-5)).all()
    model = FvCB()
    for spec in model.param_specs:
        truth = small[f"true_{spec.name}"].values
        assert ((truth >= spec.lo) & (truth <= spec.hi)).all(), spec.name
        assert small[f"true_{spec.name}"].attrs["units"] == spec.units
    # light curve reaches darkness, temperature series spans 15-40 degC
    assert small["Q"].values[:, 20].max() < 1e-6 and small["Tleaf"].values[:, 21:].min() < 16
    assert small["Tleaf"].values[:, 21:].max() > 39


def test_observations_reproduce_the_model_with_instrument_noise() -> None:
    ds = generate(SyntheticLeafConfig(curves=200, seed=1))
    x = torch.from_numpy(np.stack([ds[v].values.T for v in ("Ci", "Q", "Tleaf")], -1).astype(np.float64))
    p = {k: torch.from_numpy(ds[f"true_{k}"].values.astype(np.float64))[:, None]
         for k in ("Vcmax25", "Jmax25", "Rd25", "TPU25")}
    with torch.no_grad():
        an = FvCB()(x, p).fluxes["An"].numpy().T
    np.testing.assert_allclose(an.astype(np.float32), ds["A_true"].values, rtol=1e-5, atol=1e-5)
    a, a_true = ds["A"].values.astype(np.float64), ds["A_true"].values.astype(np.float64)
    big = np.abs(a_true) > 5
    rel = (a[big] - a_true[big]) / a_true[big]
    assert 0.022 < rel.std() < 0.028 and abs(rel.mean()) < 0.003
    # every limitation occurs (Rubisco at low Ci, electron transport, TPU at high Ci for some leaves)
    lim = FvCB()(x, p).fluxes["limitation"]
    assert {1.0, 2.0, 3.0} <= set(lim.unique().tolist())


def test_parameters_are_recoverable_from_the_curves(small: xr.Dataset) -> None:
    """Per-curve least squares from a common start recovers Vcmax25 and Jmax25 (the design is identifiable)."""
    x = torch.from_numpy(np.stack([small[v].values.T for v in ("Ci", "Q", "Tleaf")], -1).astype(np.float64))
    y = torch.from_numpy(small["A"].values.T.astype(np.float64))
    model = FvCB()
    specs = model.param_specs
    start = {"Vcmax25": 80.0, "Jmax25": 150.0, "Rd25": 1.5, "TPU25": 15.0}
    z = {}
    for s in specs:
        u = (start[s.name] - s.lo) / (s.hi - s.lo)
        z[s.name] = torch.full((16, 1), float(np.log(u / (1 - u))), dtype=torch.float64, requires_grad=True)

    def physical() -> dict[str, torch.Tensor]:
        return {s.name: s.lo + torch.sigmoid(z[s.name]) * (s.hi - s.lo) for s in specs}

    opt = torch.optim.LBFGS(list(z.values()), max_iter=300, line_search_fn="strong_wolfe", tolerance_grad=1e-10)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((model(x, physical()).fluxes["An"] - y) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    opt.step(closure)
    fitted = {k: v.detach().numpy()[:, 0] for k, v in physical().items()}
    for name, limit in (("Vcmax25", 0.03), ("Jmax25", 0.05)):
        truth = small[f"true_{name}"].values
        assert np.median(np.abs(fitted[name] - truth) / truth) < limit, name


def test_component_generates_into_cache_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from delta_core.config.converter import make_converter
    from delta_core.plugins.manager import build_registry
    from delta_photosynth.synthetic.dataset import SyntheticLeafDataset
    from delta_photosynth.synthetic.dataset_config import SyntheticLeafDatasetConfig

    monkeypatch.setenv("DELTA_CACHE_DIR", str(tmp_path))
    registry, _ = build_registry()
    assert registry.get("dataset", "photosynth.synthetic") is not None
    config = make_converter(registry).structure({"generator": {"curves": 5, "seed": 2}}, SyntheticLeafDatasetConfig)
    ds = SyntheticLeafDataset(config)
    (store,) = tmp_path.iterdir()
    assert store.name == "synthetic-photosynth-v1-5c-s2-n0.025-f0.05-p13.8.6-v20.150-r1.2.2.2.zarr"
    assert len(ds.entity_ids) == 5 and open_canonical(store).sizes["time"] == 27
    mtime = store.stat().st_mtime_ns
    SyntheticLeafDataset(config)
    assert store.stat().st_mtime_ns == mtime  # reused, not regenerated


@pytest.fixture
def delta_cli() -> click.Group:
    plugin.delta_commands(cli=cli)
    return cli


def test_synth_command(delta_cli: click.Group, tmp_path: Path) -> None:
    out = tmp_path / "syn.zarr"
    result = CliRunner().invoke(delta_cli, ["data", "synth", "photosynth", "--out", str(out), "--curves", "7",
                                            "--noise", "0.01", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "7 synthetic leaves x 27 rows" in result.output
    ds = open_canonical(out)
    assert ds.sizes["curve"] == 7 and ds.attrs["noise"] == 0.01
    assert {"true_Vcmax25", "true_Jmax25", "true_Rd25", "true_TPU25"} <= set(ds.data_vars)
