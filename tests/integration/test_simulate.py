"""``delta test`` (metrics CSV, ``--plots``) and ``delta simulate`` on small trained runs, end to end.

The runs are trained in-process with ``core.trainer`` at tiny sizes: the toy bucket
(2 components, dynamic ``k``, per-basin ``scale`` and ``Qmean``) on a canonical store with
CAMELS-style ids, the example plugin's linear reservoir on its own (non-canonical)
dataset, and HBV 1.1p on the synthetic hydrology set (per-basin outputs such as ``BFI``,
per-basin routing parameters).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import xarray as xr
import zarr
from click.testing import CliRunner, Result
from tests.core.plugins import toy
from tests.core.test_trainer import BASINS, reservoir_experiment, write_reservoir_store

from delta_core.cli.main import cli
from delta_core.config.load import load_experiment
from delta_core.data.canonical import open_canonical, validate
from delta_core.evaluation import write as write_module
from delta_core.evaluation.metrics import nse
from delta_core.evaluation.report import load_run
from delta_core.evaluation.simulate import simulate_period
from delta_core.evaluation.write import write_simulation
from delta_core.plugins import manager
from delta_core.plugins.registry import Registry
from delta_core.training.build import warmup_of
from delta_core.training.trainer import StandardTrainer, period_range

PNG = b"\x89PNG\r\n\x1a\n"
METRICS = ["NSE", "KGE", "r", "alpha", "beta", "RMSE", "bias", "pbias"]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    """Core, deltamod-nn, delta-hydro, the example and the toy plugin, also as the process-wide registry."""
    saved = dict(manager._CACHE)
    threads = torch.get_num_threads()
    manager._CACHE["default"] = manager.build_registry(only=["nn", "example", "hydro"], extra_plugins={"toy": toy})
    yield manager._CACHE["default"][0]
    manager._CACHE.clear()
    manager._CACHE.update(saved)
    torch.set_num_threads(threads)


def train(registry: Registry, raw: dict[str, Any], run_dir: Path) -> Path:
    experiment = load_experiment(raw, registry)
    assert experiment.train is not None
    return StandardTrainer(experiment.train.params).fit(experiment, run_dir)


def delta(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reservoir_store(tmp_path_factory.mktemp("data") / "reservoir.zarr")


@pytest.fixture(scope="module")
def reservoir_run(registry: Registry, store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(registry, reservoir_experiment(store, epochs=2, iterations_per_epoch=3),
                 tmp_path_factory.mktemp("runs") / "reservoir")


def reference(registry: Registry, run: Path, period: str, chunk_size: int, data: Any = None):
    """``simulate_period`` of the run's best checkpoint, computed directly."""
    loaded = load_run(run, registry, "best", data=data)
    rng = period_range(loaded.dataset, loaded.experiment, period)
    return simulate_period(loaded.model, loaded.dataset, rng, warmup_of(loaded.experiment), chunk_size=chunk_size)


# -- delta test -------------------------------------------------------------------------------------


def test_delta_test_writes_metrics_with_string_ids_and_plots_on_request(registry, reservoir_run):
    result = delta("test", reservoir_run)
    assert result.exit_code == 0, result.output
    assert "NSE" in result.output and "6 entities" in result.output
    test_dir = reservoir_run / "test"
    assert not (test_dir / "plots").exists()
    with (test_dir / "metrics_test.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["basin", *METRICS]
    assert [r[0] for r in rows[1:]] == BASINS  # ids stay strings: leading zeros kept
    ref = reference(registry, reservoir_run, "test", 100)
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], nse(ref.fluxes["Q"], ref.observed[..., 0]), rtol=1e-5)

    result = delta("test", reservoir_run, "--plots")
    assert result.exit_code == 0, result.output
    plots = test_dir / "plots"
    assert f"{len(BASINS) + len(METRICS)} plots in {plots}" in result.output
    names = sorted(p.name for p in plots.iterdir())
    assert names == sorted([f"hydrograph_test_{b}.png" for b in BASINS] + [f"cdf_test_{m}.png" for m in METRICS])
    import matplotlib.image

    for path in plots.iterdir():
        assert path.read_bytes()[:8] == PNG
        image = matplotlib.image.imread(path)
        assert image.shape[0] >= 300 and image.shape[1] >= 400
        assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 20  # drawn, not blank

    result = delta("test", reservoir_run, "--period", "spring")
    assert result.exit_code == 1
    assert result.output == f"Error: {reservoir_run}: unknown period 'spring'; choose one of train, valid, test\n"


# -- delta simulate on a canonical store ------------------------------------------------------------


def test_delta_simulate_writes_a_canonical_store_equal_to_simulate_period(registry, reservoir_run, store, tmp_path):
    out = tmp_path / "sim.zarr"
    result = delta("simulate", reservoir_run, "--data", store, "--out", out, "--period", "test", "--chunk", 4)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out}: 6 basin x 184 days (2001-07-01 .. 2001-12-31)")

    ds = open_canonical(out)  # raises if the root group is not canonical
    report = validate(ds)
    assert report.ok and report.nan_fraction["Q"] == 0.0
    assert ds.attrs["entity_dim"] == "basin" and ds["basin"].values.tolist() == BASINS
    assert ds["basin"].dtype.kind == "U"
    assert ds["time"].values[0] == np.datetime64("2001-07-01") and ds.sizes["time"] == 184
    assert sorted(ds.data_vars) == ["Q", "Qmean", "final_S", "k", "scale"]
    assert {k: ds[k].dims for k in ds.data_vars} == {
        "Q": ("basin", "time"), "Qmean": ("basin",), "k": ("basin", "time"), "scale": ("basin",),
        "final_S": ("basin",)}
    assert ds["Q"].attrs == {"units": "mm/day", "long_name": "outflow"}
    assert ds["Qmean"].attrs == {"units": "mm/day", "long_name": "mean outflow"}
    assert ds["k"].attrs["units"] == "1/day" and (ds["k"].attrs["valid_min"], ds["k"].attrs["valid_max"]) == (0.01, 0.5)
    assert ds["scale"].attrs["units"] == "1" and ds["final_S"].attrs["units"] == "mm"
    assert all(ds[k].dtype == np.float32 for k in ds.data_vars)
    assert ds["Q"].encoding["chunks"][0] == 4

    ref = reference(registry, reservoir_run, "test", 4)
    np.testing.assert_array_equal(ds["Q"].values, ref.fluxes["Q"].T)
    np.testing.assert_array_equal(ds["Qmean"].values, ref.fluxes["Qmean"])
    np.testing.assert_array_equal(ds["scale"].values, ref.parameters["scale"])
    comp = xr.open_zarr(out, group="components")
    assert comp.sizes["component"] == 2 and comp["basin"].values.tolist() == BASINS
    assert {k: comp[k].dims for k in comp.data_vars} == {  # scale is one value per basin: not here
        "k": ("basin", "time", "component"), "final_S": ("basin", "component")}
    np.testing.assert_array_equal(comp["k"].values, ref.parameters["k"].transpose(1, 0, 2))
    np.testing.assert_array_equal(comp["final_S"].values, ref.states["S"])
    np.testing.assert_allclose(ds["k"].values, ref.parameters["k"].mean(axis=-1).T, rtol=1e-6)
    np.testing.assert_allclose(ds["final_S"].values, ref.states["S"].mean(axis=-1), rtol=1e-6)
    assert ((comp["k"].values >= 0.01) & (comp["k"].values <= 0.5)).all()  # physical units, within bounds
    assert ((ds["scale"].values >= 0.5) & (ds["scale"].values <= 1.5)).all()


def test_delta_simulate_output_does_not_depend_on_the_chunk_size(reservoir_run, store, tmp_path):
    stores = {}
    for chunk in (4, 1, 6, 4):
        out = tmp_path / f"sim{len(stores)}.zarr"
        result = delta("simulate", reservoir_run, "--data", store, "--out", out, "--chunk", chunk)
        assert result.exit_code == 0, result.output
        stores[len(stores)] = (xr.open_zarr(out), xr.open_zarr(out, group="components"))
    (a, a_comp), *others, (again, again_comp) = stores.values()
    assert a.sizes["time"] == 823 - 30  # the whole record after the warm-up
    for x, y in ((a, again), (a_comp, again_comp)):  # the same chunks give the same bits
        for name in x.data_vars:
            np.testing.assert_array_equal(x[name].values, y[name].values, err_msg=name)
    for b, b_comp in others:
        for x, y in ((a, b), (a_comp, b_comp)):
            assert sorted(x.data_vars) == sorted(y.data_vars)
            xr.testing.assert_identical(x.coords.to_dataset().drop_attrs(deep=False),
                                        y.coords.to_dataset().drop_attrs(deep=False))
            assert {k: v for k, v in x.attrs.items() if k != "history"} == {
                k: v for k, v in y.attrs.items() if k != "history"}
            for name in x.data_vars:
                assert x[name].attrs == y[name].attrs
                # identical up to float32 rounding: the network's matrix products round differently
                # for different batch sizes (BLAS picks other kernels), and the reservoir carries
                # that rounding through its storage over the 793 days
                np.testing.assert_allclose(x[name].values, y[name].values, rtol=1e-5, atol=1e-6, err_msg=name)
                assert np.array_equal(np.isnan(x[name].values), np.isnan(y[name].values))
    assert [s[0]["Q"].encoding["chunks"][0] for s in stores.values()] == [4, 1, 6, 4]


def test_delta_simulate_refuses_to_overwrite_unless_asked(reservoir_run, tmp_path):
    out = tmp_path / "sim.zarr"
    assert delta("simulate", reservoir_run, "--out", out, "--period", "valid").exit_code == 0
    result = delta("simulate", reservoir_run, "--out", out, "--period", "test")
    assert result.exit_code == 1 and result.output == f"Error: {out} exists; pass --overwrite to replace it\n"
    assert xr.open_zarr(out).sizes["time"] == 181  # untouched: still the validation period
    result = delta("simulate", reservoir_run, "--out", out, "--period", "test", "--overwrite")
    assert result.exit_code == 0, result.output
    assert xr.open_zarr(out).sizes["time"] == 184
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.zarr"]  # no temporary store left behind


def test_an_interrupted_simulation_resumes_to_identical_output(registry, reservoir_run, tmp_path, monkeypatch):
    loaded = load_run(reservoir_run, registry)
    rng = period_range(loaded.dataset, loaded.experiment, "test")
    reference = write_simulation(loaded.model, loaded.dataset, rng, 30, tmp_path / "ref.zarr", chunk_size=2).path
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return simulate_period(*args, **kwargs)

    monkeypatch.setattr(write_module, "simulate_period", failing)
    out = tmp_path / "sim.zarr"
    with pytest.raises(RuntimeError, match="killed"):
        write_simulation(loaded.model, loaded.dataset, rng, 30, out, chunk_size=2)
    assert not out.exists()  # nothing under the final name
    partial = tmp_path / ".sim.zarr.partial"
    assert sorted(p.name for p in (partial / ".chunks_done").iterdir()) == ["0", "1"]

    calls.clear()
    monkeypatch.setattr(write_module, "simulate_period", lambda *a, **k: calls.append(1) or simulate_period(*a, **k))
    write_simulation(loaded.model, loaded.dataset, rng, 30, out, chunk_size=2)
    n_chunks = -(-len(loaded.dataset.entity_ids) // 2)
    assert len(calls) == n_chunks - 2  # the two chunks written before the kill were skipped
    assert not partial.exists()
    xr.testing.assert_identical(xr.open_zarr(out).load(), xr.open_zarr(reference).load())


def test_a_partial_store_with_other_settings_is_not_reused(registry, reservoir_run, tmp_path, monkeypatch):
    loaded = load_run(reservoir_run, registry)
    rng = period_range(loaded.dataset, loaded.experiment, "test")
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return simulate_period(*args, **kwargs)

    monkeypatch.setattr(write_module, "simulate_period", failing)
    with pytest.raises(RuntimeError, match="killed"):
        write_simulation(loaded.model, loaded.dataset, rng, 30, tmp_path / "sim.zarr", chunk_size=2)
    monkeypatch.setattr(write_module, "simulate_period", simulate_period)
    summary = write_simulation(loaded.model, loaded.dataset, rng, 30, tmp_path / "sim.zarr", chunk_size=3)
    assert xr.open_zarr(summary.path)["Q"].encoding["chunks"][0] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["sim.zarr"]


def test_delta_simulate_period_options_and_errors(reservoir_run, tmp_path):
    out = tmp_path / "sim.zarr"
    result = delta("simulate", reservoir_run, "--out", out, "--start", "2001-03-01", "--end", "2001-03-31")
    assert result.exit_code == 0, result.output
    ds = xr.open_zarr(out)
    assert ds.sizes["time"] == 31 and ds.attrs["period"] == "custom"
    assert ds.attrs["source_run"] == str(reservoir_run.resolve()) and "epoch" in ds.attrs["checkpoint"]

    result = delta("simulate", reservoir_run, "--out", tmp_path / "x.zarr", "--start", "2001-03-01", "--end", "2001-02-01")
    assert result.exit_code == 1
    assert result.output == "Error: the period ends (2001-02-01) before it starts (2001-03-01)\n"
    result = delta("simulate", reservoir_run, "--out", out, "--period", "test", "--start", "2001-03-01")
    assert result.exit_code == 2 and "give either --period or --start/--end, not both" in result.output
    result = delta("simulate", reservoir_run, "--out", tmp_path / "x.zarr", "--start", "1999-10-05")
    assert result.exit_code == 1
    assert "needs 30 warm-up days before 1999-10-05" in result.output
    result = delta("simulate", reservoir_run, "--out", tmp_path / "x.zarr", "--checkpoint", "7")
    assert result.exit_code == 1 and "epoch_0007.pt: no such checkpoint; available: " in result.output
    result = delta("simulate", reservoir_run, "--out", tmp_path / "x.zarr", "--data", tmp_path)
    assert result.exit_code == 1 and f"Error: {tmp_path}: cannot open as Zarr or NetCDF" in result.output


def test_a_store_without_observations_can_be_simulated(registry, reservoir_run, store, tmp_path):
    forcing_only = tmp_path / "forcing.zarr"
    xr.open_zarr(store).drop_vars("Q").to_zarr(forcing_only, zarr_format=2, consolidated=True)
    result = delta("simulate", reservoir_run, "--data", forcing_only, "--out", tmp_path / "sim.zarr")
    assert result.exit_code == 0, result.output
    with_obs = tmp_path / "sim_obs.zarr"
    assert delta("simulate", reservoir_run, "--data", store, "--out", with_obs).exit_code == 0
    np.testing.assert_array_equal(xr.open_zarr(tmp_path / "sim.zarr")["Q"].values, xr.open_zarr(with_obs)["Q"].values)


# -- a run on a dataset that is not a canonical store ----------------------------------------------


def test_a_run_on_a_non_canonical_dataset_simulates_its_own_data(registry, tmp_path):
    raw = load_experiment(
        registry.get("preset", "example.linear_reservoir").load()(), registry,
        ["train.params.epochs=1", "train.params.iterations_per_epoch=1", "train.params.window=60",
         "train.params.progress=never", "model.nn.params.hidden_size=8"],
    )
    assert raw.train is not None
    run = StandardTrainer(raw.train.params).fit(raw, tmp_path / "run")
    result = delta("simulate", run, "--out", tmp_path / "sim.zarr", "--period", "test")
    assert result.exit_code == 0, result.output
    ds = open_canonical(tmp_path / "sim.zarr")
    assert ds.attrs["entity_dim"] == "entity" and ds["entity"].values.tolist()[:2] == ["syn000", "syn001"]
    assert ds.attrs["data"] == "the run's dataset (example.synthetic)"
    result = delta("simulate", run, "--out", tmp_path / "other.zarr", "--data", tmp_path / "sim.zarr")
    assert result.exit_code == 1
    assert "the run's dataset 'example.synthetic' is not read from a canonical store" in result.output


# -- HBV: per-basin outputs, routing parameters, a dataset built on a canonical store --------------


@pytest.fixture(scope="module")
def hbv_run(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from delta_hydro.synthetic.dataset import ensure_store

    cache = tmp_path_factory.mktemp("cache")
    raw = {
        "name": "tiny-dhbv",
        "data": {"name": "hydro.synthetic",
                 "params": {"generator": {"basins": 5, "years": 3, "seed": 1}, "cache_dir": str(cache)}},
        "model": {"name": "core.param_learning", "params": {"warmup": 30},
                  "phy": {"name": "hydro.hbv", "params": {"variant": "1.1p", "nmul": 2}},
                  "nn": {"name": "nn.mlp", "params": {"hidden_size": 8}}},
        "train": {"name": "core.trainer", "params": {"epochs": 1, "iterations_per_epoch": 1, "batch_size": 5,
                                                      "window": 60, "progress": "never"}},
        "loss": {"name": "core.nse_batch"},
        "periods": {"train": ["1990-03-01", "1990-12-31"], "test": ["1991-01-01", "1991-06-30"]},
    }
    experiment = load_experiment(raw, registry)
    assert experiment.train is not None
    run = StandardTrainer(experiment.train.params).fit(experiment, tmp_path_factory.mktemp("runs") / "hbv")
    return run, ensure_store(experiment.data.params.generator, cache)


def test_delta_simulate_writes_every_hbv_output_state_and_parameter(registry, hbv_run, tmp_path):
    run, data = hbv_run
    out = tmp_path / "hbv.zarr"
    result = delta("simulate", run, "--data", data, "--out", out, "--period", "test", "--chunk", 2)
    assert result.exit_code == 0, result.output
    ds = open_canonical(out)
    assert validate(ds).ok and ds["basin"].values.tolist() == [f"syn{i:05d}" for i in range(5)]
    phy = load_run(run, registry).model.phy_model
    for var in phy.output_vars:  # every declared output, with its units
        assert ds[var.name].attrs["units"] == var.units, var.name
        assert ds[var.name].dims == (("basin",) if var.dims == "entity" else ("basin", "time")), var.name
    assert ds["BFI"].dims == ("basin",) and ds["BFI"].attrs["units"] == "%"
    for var in phy.state_vars:
        assert ds[f"final_{var.name}"].dims == ("basin",) and ds[f"final_{var.name}"].attrs["units"] == "mm"
    comp = xr.open_zarr(out, group="components")
    for spec in phy.param_specs:
        assert ds[spec.name].dims == ("basin",) and ds[spec.name].attrs["units"] == spec.units
        assert spec.lo <= float(ds[spec.name].min()) and float(ds[spec.name].max()) <= spec.hi
        assert (spec.name in comp) == spec.per_component, spec.name  # route_a/route_b: one value per basin
    assert comp["BETA"].shape == (5, 2) and comp["final_SM"].shape == (5, 2)

    # the same numbers as simulating the run's own dataset (hydro.synthetic reads this very store)
    ref = reference(registry, run, "test", 2)
    np.testing.assert_array_equal(ds["streamflow"].values, ref.fluxes["streamflow"].T)
    np.testing.assert_array_equal(ds["BFI"].values, ref.fluxes["BFI"])
    np.testing.assert_array_equal(ds["route_a"].values, ref.parameters["route_a"])
    own = tmp_path / "own.zarr"
    assert delta("simulate", run, "--out", own, "--period", "test", "--chunk", 2).exit_code == 0
    np.testing.assert_array_equal(xr.open_zarr(own)["streamflow"].values, ds["streamflow"].values)
    assert zarr.open_group(str(out), mode="r").attrs["warmup_days"] == 30
