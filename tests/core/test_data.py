"""Canonical format, periods, normalisation, sampling and the canonical dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from click.testing import CliRunner

from delta_core.data.canonical import DataFormatError, open_canonical, validate, write_canonical
from delta_core.data.config import CanonicalDatasetConfig
from delta_core.data.dataset import CanonicalDataset, DatasetError
from delta_core.data.normalize import NormalizationError, Normalizer
from delta_core.data.periods import PeriodError, TimeRange, time_range
from delta_core.data.sampling import SamplingError, WindowSampler, coverage_iterations, entity_chunks

IDS = ["01013500", "01022500", "06409000", "07373000", "01620500"]


def make_store(n_days: int = 400, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2000-01-01", periods=n_days, freq="D")
    n = len(IDS)
    p = rng.gamma(0.6, 4.0, (n, n_days)).astype("float32")
    t = (10 + 10 * np.sin(np.arange(n_days) / 58.0) + rng.normal(0, 1, (n, n_days))).astype("float32")
    q = (0.3 * p + rng.random((n, n_days))).astype("float32")
    q[1, 10:20] = np.nan
    return xr.Dataset(
        {
            "P": (("basin", "time"), p, {"units": "mm/day", "long_name": "precipitation"}),
            "T": (("basin", "time"), t, {"units": "degC", "long_name": "air temperature"}),
            "Q": (("basin", "time"), q, {"units": "mm/day", "long_name": "streamflow"}),
            "area": (("basin",), np.array([10.0, 20.0, 30.0, 40.0, 50.0]), {"units": "km2", "long_name": "area"}),
            "aridity": (("basin",), rng.random(n), {"units": "1", "long_name": "aridity index"}),
            "climate": (("basin",), np.array(list("abcab")), {"long_name": "climate class"}),
        },
        coords={"basin": np.array(IDS), "time": times},
        attrs={"entity_dim": "basin"},
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return write_canonical(make_store(), tmp_path / "data.zarr")


def _config(path: Path, **kw: object) -> CanonicalDatasetConfig:
    base = dict(path=str(path), x_phy=("P", "T"), x_nn=("P", "T"), c_nn=("area", "aridity"), target=("Q",),
                transforms={"P": "log1p"})
    base.update(kw)
    return CanonicalDatasetConfig(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_ids_units_and_values(store: Path) -> None:
    ds = open_canonical(store)
    assert ds["basin"].values.tolist() == IDS
    assert ds["P"].attrs["units"] == "mm/day" and ds.attrs["delta_format"] == "deltamod-canonical/1"
    assert np.array_equal(ds["P"].values, make_store()["P"].values)
    assert ds["climate"].values.tolist() == list("abcab")
    assert ds["P"].encoding["chunks"] == (5, 400)


def test_write_is_atomic_and_refuses_to_overwrite(store: Path) -> None:
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        write_canonical(make_store(), store)
    write_canonical(make_store(seed=1), store, overwrite=True)
    assert np.array_equal(open_canonical(store)["P"].values, make_store(seed=1)["P"].values)
    assert [p.name for p in store.parent.iterdir()] == ["data.zarr"]  # no temporary leftovers


def test_validate_reports_every_problem_at_once() -> None:
    ds = make_store(10)
    times = ds["time"].values[[0, 1, 1, 2, 3, 4, 5, 7, 8, 9]]
    bad = ds.assign_coords(basin=np.array([*IDS[:4], IDS[0]]), time=times)
    bad["P"].attrs.pop("units")
    bad["T"].attrs.pop("long_name")
    bad["flag"] = (("time", "basin"), np.zeros((10, 5)), {"units": "1", "long_name": "x"})
    bad["Q"][0, :5] = np.nan
    report = validate(bad, required=("PET",))
    assert report.problems == (
        "missing variables: PET",
        "duplicate entity ids: 01013500",
        "duplicated times: 2000-01-02",
        "1 gaps in the daily time axis, first after 2000-01-06 (next 2000-01-08)",
        "variable 'P' has no 'units' attribute",
        "variable 'T' has no 'long_name' attribute",
        "variable 'flag' has dims ('time', 'basin'); expected ('basin', 'time') or ('basin',)",
    )
    assert report.nan_fraction["Q"] == pytest.approx(5 / 50)


def test_numeric_ids_are_a_format_problem() -> None:
    ds = make_store(5).assign_coords(basin=np.arange(5))
    assert "entity ids ('basin') must be strings, got dtype int64" in validate(ds).problems


def test_open_missing_and_invalid(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.zarr: no such dataset"):
        open_canonical(tmp_path / "nope.zarr")
    path = tmp_path / "bad.nc"
    make_store(5).drop_attrs().assign_coords(basin=np.arange(5)).to_netcdf(path)
    with pytest.raises(DataFormatError, match=r"bad.nc: not a valid deltamod dataset \(12 problems\):\n  - entity ids \('basin'\) must be strings"):
        open_canonical(path)


def test_netcdf_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "d.nc"
    make_store(20).to_netcdf(path)
    assert open_canonical(path)["basin"].values.tolist() == IDS


def test_period_outside_data_names_dates() -> None:
    times = make_store(400)["time"].values
    assert time_range(times, "2000-02-01", "2000-02-29") == TimeRange(31, 60)
    with pytest.raises(PeriodError) as err:
        time_range(times, "1999-12-01", "2001-03-01", name="test")
    assert str(err.value) == (
        "period 'test' [1999-12-01 .. 2001-03-01] starts on 1999-12-01, before the data's first day 2000-01-01; "
        "ends on 2001-03-01, after the data's last day 2001-02-03 (data: 2000-01-01 .. 2001-02-03)"
    )
    with pytest.raises(PeriodError, match=r"needs 60 warm-up days before 2000-02-01 \(from 1999-12-03\)"):
        time_range(times, "2000-02-01", "2000-03-01", name="train", warmup=60)


def test_normalizer_uses_training_period_only(store: Path) -> None:
    ds = CanonicalDataset(_config(store))
    stats = ds.fit_normalizer(TimeRange(0, 200)).stats
    p = make_store()["P"].values[:, :200].astype(np.float64)
    assert stats["P"].transform == "log1p"
    assert stats["P"].mean == pytest.approx(np.log1p(p).mean(), rel=1e-6)
    assert stats["P"].std == pytest.approx(np.log1p(p).std(), rel=1e-5)
    # values after the training period do not influence the statistics
    other = make_store()
    other["P"][:, 200:] = 1000.0
    ds2 = CanonicalDataset(_config(store), data=other)
    assert ds2.fit_normalizer(TimeRange(0, 200)).stats["P"] == stats["P"]


def test_normalizer_round_trip_and_errors(tmp_path: Path) -> None:
    n = Normalizer.fit({"a": np.array([1.0, 2.0, np.nan, 3.0])}, {"a": "sqrt"})
    n.save(tmp_path / "norm.json")
    assert Normalizer.load(tmp_path / "norm.json") == n
    with pytest.raises(NormalizationError, match="variable 'c' is constant"):
        Normalizer.fit({"c": np.ones(4)})
    with pytest.raises(NormalizationError, match="transform 'log1p' needs values >= 0, found -1"):
        Normalizer.fit({"d": np.array([-1.0, 2.0])}, {"d": "log1p"})
    with pytest.raises(NormalizationError, match="norm2.json: normalisation statistics not found"):
        Normalizer.load(tmp_path / "norm2.json")


def test_sample_layout_and_normalisation(store: Path) -> None:
    ds = CanonicalDataset(_config(store))
    ds.fit_normalizer(TimeRange(0, 300))
    s = ds.sample([3, 0], 10, 30)
    assert s["x_phy"].shape == (30, 2, 2) and s["x_nn"].shape == (30, 2, 2)
    assert s["c_nn"].shape == (2, 2) and s["target"].shape == (30, 2, 1)
    raw = make_store()
    assert torch.equal(s["x_phy"][:, 0, 0], torch.from_numpy(raw["P"].values[3, 10:40]))
    assert torch.equal(s["entity_index"], torch.tensor([3, 0])) and s["time_index"][0] == 10
    expected = (np.log1p(raw["P"].values[0, 10:40].astype(np.float64)) - ds.normalizer.stats["P"].mean) / (
        ds.normalizer.stats["P"].std
    )
    assert np.allclose(s["x_nn"][:, 1, 0].numpy(), expected, atol=1e-5)


def test_lazy_and_in_memory_give_identical_samples(store: Path) -> None:
    lazy = CanonicalDataset(_config(store))
    memory = CanonicalDataset(_config(store, in_memory=True))
    for d in (lazy, memory):
        d.fit_normalizer(TimeRange(0, 300))
    a, b = lazy.sample([4, 1, 2], 50, 100), memory.sample([4, 1, 2], 50, 100)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key].nan_to_num(-9), b[key].nan_to_num(-9)), key


def test_entity_subset_and_unknown_ids(store: Path) -> None:
    ds = CanonicalDataset(_config(store, entities=("06409000", "01013500")))
    assert ds.entity_ids == ["06409000", "01013500"]
    assert ds.read_static(["area"], np.array([0, 1]))[:, 0].tolist() == [30.0, 10.0]
    with pytest.raises(DatasetError, match=r"unknown basin ids \['99999999'\]; the store has 5, e.g."):
        CanonicalDataset(_config(store, entities=("99999999",)))


def test_missing_variable_and_wrong_dims(store: Path) -> None:
    with pytest.raises(DataFormatError, match="missing variables: PET"):
        CanonicalDataset(_config(store, x_phy=("P", "PET")))
    with pytest.raises(DatasetError, match=r"c_nn variable 'P' has dims \('basin', 'time'\), expected \('basin',\)"):
        CanonicalDataset(_config(store, c_nn=("P",)))
    with pytest.raises(DatasetError, match="c_nn variable 'climate' is <U1, expected numbers"):
        CanonicalDataset(_config(store, c_nn=("climate",)))


def test_nan_in_inputs_names_entity_variable_and_dates(tmp_path: Path) -> None:
    data = make_store()
    data["T"][2, 100:110] = np.nan
    path = write_canonical(data, tmp_path / "nan.zarr")
    ds = CanonicalDataset(_config(path))
    ds.check_complete(TimeRange(200, 300), warmup=50, name="train")  # NaN outside: fine
    with pytest.raises(PeriodError) as err:
        ds.check_complete(TimeRange(120, 300), warmup=30, name="train")
    assert str(err.value).splitlines()[1:3] == [
        "  basin '06409000': x_phy variable 'T' missing on 2000-04-10..2000-04-19 (10 days)",
        "  basin '06409000': x_nn variable 'T' missing on 2000-04-10..2000-04-19 (10 days)",
    ]
    assert "period 'train' (2000-03-31 .. 2000-10-26, incl. 30 warm-up days) cannot be served" in str(err.value)


def test_fill_rule_replaces_nan_in_network_inputs_only(tmp_path: Path) -> None:
    data = make_store()
    data["T"][2, 100:110] = np.nan
    path = write_canonical(data, tmp_path / "nan.zarr")
    ds = CanonicalDataset(_config(path, x_phy=("P",), fill={"T": 0.0}))
    ds.check_complete(TimeRange(90, 300), warmup=0, name="train")
    ds.fit_normalizer(TimeRange(0, 300))
    s = ds.sample([2], 95, 20)
    assert torch.equal(s["x_nn"][5:15, 0, 1], torch.zeros(10))
    assert torch.isnan(s["target"]).sum() == 0


def test_target_std_per_entity(store: Path) -> None:
    ds = CanonicalDataset(_config(store))
    std = ds.target_std(TimeRange(0, 100))
    q = make_store()["Q"].values[:, :100]
    assert std.shape == (5, 1)
    assert np.allclose(std[:, 0], np.nanstd(q, axis=1), rtol=1e-5)


def test_sampler_windows_stay_inside_period_and_are_reproducible() -> None:
    period = TimeRange(100, 300)
    draws = []
    for _ in range(2):
        sampler = WindowSampler(50, period, window=30, warmup=40, batch_size=8, rng=np.random.default_rng(3))
        draws.append([sampler.draw() for _ in range(200)])
    for w, v in zip(*draws, strict=True):
        assert np.array_equal(w.entities, v.entities) and w.start == v.start
        assert len(set(w.entities.tolist())) == 8
        assert period.start <= w.start + w.warmup and w.start + w.length <= period.stop
        assert w.start >= 0 and w.length == 70
    sampler = WindowSampler(50, period, window=30, warmup=40, batch_size=8, rng=np.random.default_rng(4))
    starts = {sampler.draw().start + 40 for _ in range(3000)}
    assert min(starts) == 100 and max(starts) == 270  # whole range reachable


def test_sampler_errors() -> None:
    with pytest.raises(SamplingError, match=r"window of 400 steps is longer than the period \(200 steps\)"):
        WindowSampler(5, TimeRange(0, 200), 400, 0, 2, np.random.default_rng())
    with pytest.raises(SamplingError, match="no room for a 200-step window with 10 warm-up steps"):
        WindowSampler(5, TimeRange(0, 200), 200, 10, 2, np.random.default_rng())


def test_coverage_rule() -> None:
    # 1 - (1 - 100*365/(531*5479))**k >= 0.99  ->  k = ceil(log(0.01)/log(1 - 0.01255)) = 365
    assert coverage_iterations(531, 5479, 100, 365) == 365
    assert coverage_iterations(5, 100, 10, 100) == 1
    assert [c.tolist() for c in entity_chunks(5, 2)] == [[0, 1], [2, 3], [4]]


def test_cli_data_check_and_info(store: Path, tmp_path: Path) -> None:
    from delta_core.cli.main import cli

    result = CliRunner().invoke(cli, ["data", "info", str(store)])
    assert result.exit_code == 0
    assert f"{store}: 5 basin entities, 400 days 2000-01-01 .. 2001-02-03" in result.output
    assert ["Q", "basin,time", "mm/day", "0.5", "streamflow"] in [line.split() for line in result.output.splitlines()]
    ok = CliRunner().invoke(cli, ["data", "check", str(store), "--require", "Q"])
    assert ok.exit_code == 0 and ok.output.endswith(f"{store}: valid\n")
    bad = CliRunner().invoke(cli, ["data", "check", str(store), "--require", "PET"])
    assert bad.exit_code == 1 and "  - missing variables: PET" in bad.output


def test_direct_chunk_reader_matches_zarr(tmp_path: Path) -> None:
    from delta_core.data.chunk_reader import ChunkedArray, UnsupportedArray

    data = make_store(401)
    path = write_canonical(data, tmp_path / "c.zarr", chunks={"entity": 2, "time": 64})
    reader = ChunkedArray(path, "Q")
    assert reader.chunks == (2, 64)
    rows = np.array([4, 0, 4, 3])  # unsorted, duplicated, edge chunk
    for start, stop in [(0, 401), (63, 65), (390, 401), (10, 10)]:
        expected = data["Q"].values[rows, start:stop]
        assert np.array_equal(reader.rows(rows, start, stop), expected, equal_nan=True)
    assert np.array_equal(ChunkedArray(path, "area").rows(np.array([4, 1])), [50.0, 20.0])
    with pytest.raises(UnsupportedArray, match="dtype <U1 is not read directly"):
        ChunkedArray(path, "climate")
    with pytest.raises(IndexError, match=r"columns \[0, 500\) outside \[0, 401\)"):
        reader.rows(rows, 0, 500)
