"""CAMELS-US importer: real files of ../shared/data/camels_us, and bad input written to tmp_path.

Values are checked against the raw text files, read here by plain line lookup (not by
the importer's readers), for specific basins and dates.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from delta_core.cli.main import cli
from delta_core.data.canonical import open_canonical, validate
from delta_core.data.importers import DataImportError
from delta_hydro import plugin
from delta_hydro.camels.importer import import_camels_us
from delta_hydro.camels.priestley_taylor import priestley_taylor_pet

REPO_ROOT = Path(__file__).resolve().parents[2]
CAMELS = REPO_ROOT.parent / "shared" / "data" / "camels_us"
ALL_DAYMET = ["01013500", "01022500", "01031500", "01547700", "01620500", "02064000", "03015500", "06409000",
              "07373000"]
SHORT = ["01022500", "01547700", "02064000", "03015500"]
CFS = 0.3048**3 * 86400 * 1000  # cfs -> mm/day once divided by the area in m²


def _require_camels() -> None:
    if not (CAMELS / "basin_mean_forcing").is_dir():
        pytest.skip(f"shared CAMELS-US data absent: no {CAMELS}/basin_mean_forcing (../shared/data not checked out)")


def _raw(path: Path, date: str, *, skip: int = 0) -> list[str]:
    """Fields of the line of ``path`` for ``date`` ('YYYY MM DD'), found by text search."""
    y, m, d = date.split()
    for line in path.read_text().splitlines()[skip:]:
        fields = line.split()
        if fields[0].isdigit() and len(fields[0]) == 8:  # streamflow: gauge id first
            fields = fields[1:]
        if fields[:3] == [y, m, d]:
            return line.split()
    raise AssertionError(f"{date} not in {path}")


def _header(path: Path) -> tuple[float, float, float]:
    lines = path.read_text().splitlines()
    return float(lines[0]), float(lines[1]), float(lines[2])


def _forcing(basin: str, product: str = "daymet") -> Path:
    (path,) = (CAMELS / "basin_mean_forcing" / product).glob(f"*/{basin}_lump_*_forcing_leap.txt")
    return path


def _flow(basin: str) -> Path:
    (path,) = (CAMELS / "usgs_streamflow").glob(f"*/{basin}_streamflow_qc.txt")
    return path


def _model_output(basin: str) -> Path:
    (path,) = (CAMELS / "model_output" / "flow_timeseries" / "daymet").glob(f"*/{basin}_05_model_output.txt")
    return path


def _at(ds: xr.Dataset, name: str, basin: str, date: str) -> float:
    return float(ds[name].sel(basin=basin, time=np.datetime64(date)).values)


@pytest.fixture(scope="module")
def daymet() -> xr.Dataset:
    _require_camels()
    return import_camels_us(CAMELS)


# --------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_all_daymet_basins_import_into_a_valid_dataset(daymet: xr.Dataset) -> None:
    report = validate(daymet, required=["P", "T", "PET", "Q", "Q_sacsma", "tmin", "tmax", "area", "aridity"])
    assert report.ok, report.problems
    assert daymet["basin"].values.tolist() == ALL_DAYMET
    assert daymet["basin"].dtype.kind == "U"
    t = daymet["time"].values
    assert (str(t[0])[:10], str(t[-1])[:10], t.size) == ("1980-01-01", "2014-12-31", 12784)
    assert daymet["P"].dims == ("basin", "time") and daymet["P"].dtype == np.float32
    assert daymet["P"].attrs["units"] == "mm/day" and daymet["T"].attrs["units"] == "degC"
    sources = dict(zip(ALL_DAYMET, daymet["forcing_source"].values.tolist(), strict=True))
    assert sources["01620500"] == "daymet" and sources["07373000"] == "model_output"
    assert dict(zip(ALL_DAYMET, daymet["q_source"].values.tolist(), strict=True)) == {
        "01013500": "model_output", "01022500": "usgs_streamflow", "01031500": "model_output",
        "01547700": "usgs_streamflow", "01620500": "usgs_streamflow", "02064000": "usgs_streamflow",
        "03015500": "usgs_streamflow", "06409000": "model_output", "07373000": "usgs_streamflow"}


@pytest.mark.shared_data
@pytest.mark.parametrize(("basin", "date"), [("01620500", "1995 07 15"), ("01620500", "1983 01 20"),
                                             ("01022500", "2003 12 31"), ("01031500", "2000 02 29")])
def test_forcing_values_match_the_raw_file(daymet: xr.Dataset, basin: str, date: str) -> None:
    path = _forcing(basin)
    f = _raw(path, date, skip=4)
    dayl, prcp, srad, swe, tmax, tmin, vp = map(float, f[4:])
    iso = date.replace(" ", "-")
    assert _at(daymet, "P", basin, iso) == pytest.approx(prcp, abs=1e-5)
    assert _at(daymet, "tmax", basin, iso) == pytest.approx(tmax, abs=1e-5)
    assert _at(daymet, "tmin", basin, iso) == pytest.approx(tmin, abs=1e-5)
    assert _at(daymet, "T", basin, iso) == pytest.approx((tmax + tmin) / 2, abs=1e-5)
    assert _at(daymet, "srad", basin, iso) == pytest.approx(srad, rel=1e-6)
    assert _at(daymet, "vp", basin, iso) == pytest.approx(vp, rel=1e-6)
    assert _at(daymet, "dayl", basin, iso) == pytest.approx(dayl, rel=1e-6)
    assert _at(daymet, "swe", basin, iso) == pytest.approx(swe, abs=1e-5)
    lat, elev, area = _header(path)
    b = daymet.sel(basin=basin)
    assert (float(b["latitude"]), float(b["elevation"])) == (lat, elev)
    assert float(b["area"]) == pytest.approx(area / 1e6)


@pytest.mark.shared_data
@pytest.mark.parametrize(("basin", "date"), [("01620500", "1995 07 15"), ("01620500", "2014 11 04"),
                                             ("01022500", "2001 03 10"), ("03015500", "2002 06 01")])
def test_streamflow_in_mm_per_day_with_the_area_of_the_forcing_header(daymet: xr.Dataset, basin: str,
                                                                       date: str) -> None:
    q_cfs = float(_raw(_flow(basin), date)[4])
    area_m2 = _header(_forcing(basin))[2]
    expected = q_cfs * 0.3048**3 * 86400 / area_m2 * 1000
    assert q_cfs > 0
    assert _at(daymet, "Q", basin, date.replace(" ", "-")) == pytest.approx(expected, rel=1e-6)


@pytest.mark.shared_data
def test_missing_flag_days_are_nan(daymet: xr.Dataset) -> None:
    lines = _flow("01620500").read_text().splitlines()
    missing = [ln.split() for ln in lines if ln.split()[-1] == "M"]
    assert missing and all(float(f[4]) == -999.0 for f in missing)
    first = "-".join(missing[0][1:4])
    assert first == "2014-11-05"
    assert np.isnan(_at(daymet, "Q", "01620500", first))
    assert np.isfinite(_at(daymet, "Q", "01620500", "2014-11-04"))
    q = daymet["Q"].sel(basin="01620500")
    assert int(q.isnull().sum()) == len(missing)  # every M day, nothing else, within a full record
    # 07373000 (model output + USGS file): an isolated M day is NaN, not OBS_RUN's -999 or 0
    assert _raw(_flow("07373000"), "1995 10 01")[-1] == "M"
    assert np.isnan(_at(daymet, "Q", "07373000", "1995-10-01"))


@pytest.mark.shared_data
def test_usgs_file_is_preferred_to_obs_run_which_holds_zeros(daymet: xr.Dataset) -> None:
    # 07373000: OBS_RUN is 0 from 2011-01-02 although USGS reports flow; Q uses USGS and area_gages2.
    assert float(_raw(_model_output("07373000"), "2011 01 02")[11]) == 0.0
    q_cfs = float(_raw(_flow("07373000"), "2011 01 02")[4])
    area_km2 = float(daymet["area_gages2"].sel(basin="07373000"))
    assert float(daymet["area"].sel(basin="07373000")) == area_km2
    assert str(daymet["area_source"].sel(basin="07373000").values) == "camels_topo.area_gages2"
    assert _at(daymet, "Q", "07373000", "2011-01-02") == pytest.approx(q_cfs * CFS / (area_km2 * 1e6), rel=1e-6)
    assert _at(daymet, "Q", "07373000", "2011-01-02") > 0.1


@pytest.mark.shared_data
@pytest.mark.parametrize("basin", ["01013500", "06409000"])
def test_model_output_only_basins_take_p_t_pet_q_from_the_file(daymet: xr.Dataset, basin: str) -> None:
    f = _raw(_model_output(basin), "1990 05 17", skip=1)
    _, _, _, _, _, prcp, _, tair, pet, _, mod_run, obs_run = map(float, f)
    assert _at(daymet, "P", basin, "1990-05-17") == pytest.approx(prcp, abs=1e-5)
    assert _at(daymet, "T", basin, "1990-05-17") == pytest.approx(tair, abs=1e-5)
    assert _at(daymet, "PET", basin, "1990-05-17") == pytest.approx(pet, rel=1e-6)
    assert _at(daymet, "Q", basin, "1990-05-17") == pytest.approx(obs_run, rel=1e-6)
    assert _at(daymet, "Q_sacsma", basin, "1990-05-17") == pytest.approx(mod_run, rel=1e-6)
    b = daymet.sel(basin=basin)
    assert str(b["forcing_source"].values) == "model_output"
    assert str(b["pet_method"].values) == "camels_model_output"
    assert np.isnan(float(b["latitude"])) and bool(b["tmin"].isnull().all())
    # the model output starts 1980-10-01: NaN before, values from then on
    assert np.isnan(_at(daymet, "P", basin, "1980-09-30")) and np.isfinite(_at(daymet, "P", basin, "1980-10-01"))


@pytest.mark.shared_data
def test_forcing_basin_without_streamflow_file_uses_obs_run(daymet: xr.Dataset) -> None:
    f = _raw(_model_output("01031500"), "2005 04 20", skip=1)
    assert _at(daymet, "Q", "01031500", "2005-04-20") == pytest.approx(float(f[11]), rel=1e-6)
    assert _at(daymet, "Q_sacsma", "01031500", "2005-04-20") == pytest.approx(float(f[10]), rel=1e-6)
    assert str(daymet["pet_method"].sel(basin="01031500").values) == "hargreaves"
    # no Q before the model output starts, forcing from 1980-01-01
    assert np.isnan(_at(daymet, "Q", "01031500", "1980-06-01"))
    assert np.isfinite(_at(daymet, "P", "01031500", "1980-06-01"))


@pytest.mark.shared_data
def test_nan_outside_each_basin_record(daymet: xr.Dataset) -> None:
    b = daymet.sel(basin="01022500")
    assert bool(b["P"].sel(time=slice(None, "1999-12-31")).isnull().all())
    assert bool(b["P"].sel(time="2003").notnull().all())  # its Daymet file runs to 2003
    assert bool(b["Q"].sel(time="2003").isnull().all())  # its streamflow stops in 2002
    assert bool(b["Q_sacsma"].isnull().all())


@pytest.mark.shared_data
def test_attribute_values_types_and_units(daymet: xr.Dataset) -> None:
    b = daymet.sel(basin="01013500")
    assert str(b["gauge_name"].values) == "Fish River near Fort Kent, Maine"
    assert str(b["huc_02"].values) == "01"  # a code: text with its leading zero
    assert float(b["area_gages2"]) == 2252.7
    assert float(b["aridity"]) == 0.63055865946247
    assert float(b["gauge_lat"]) == 47.23739
    assert str(b["high_prec_timing"].values) == "son"
    assert str(b["dom_land_cover"].values) == "Mixed Forests"  # leading blanks of the file stripped
    assert np.isnan(float(b["root_depth_50"]))  # NA
    assert str(daymet["geol_2nd_class"].sel(basin="01620500").values) == ""  # NA of a categorical
    assert daymet["aridity"].dtype == np.float64 and daymet["area_gages2"].attrs["units"] == "km2"
    assert daymet["dom_land_cover"].dtype.kind == "U" and "units" not in daymet["dom_land_cover"].attrs


@pytest.mark.shared_data
def test_pet_is_plausible_and_seasonal(daymet: xr.Dataset) -> None:
    pet, temp = daymet["PET"], daymet["T"]
    assert bool((pet.notnull() == temp.notnull()).all())  # PET wherever there is forcing
    assert float(pet.min()) >= 0.0 and float(pet.max()) < 15.0
    annual = pet.mean("time")
    assert bool(((annual > 0.8) & (annual < 5.0)).all()), annual.values
    season = pet.groupby("time.season").mean()
    summer, winter = season.sel(season="JJA"), season.sel(season="DJF")
    assert bool((summer > 2.5 * winter).all()), (summer.values, winter.values)
    assert bool((summer > 2.0).all())
    assert daymet["pet_method"].sel(basin="01620500").item() == "hargreaves"
    assert "Hargreaves" in daymet["PET"].attrs["method"]


@pytest.mark.shared_data
def test_priestley_taylor_reproduces_the_camels_benchmark_pet() -> None:
    _require_camels()
    ds = import_camels_us(CAMELS, basins=["01031500"], pet="priestley-taylor")
    assert ds["pet_method"].item() == "priestley_taylor"
    lines = _model_output("01031500").read_text().splitlines()[1:]
    rows = np.array([ln.split() for ln in lines], dtype=float)
    dates = np.array([f"{int(r[0]):04d}-{int(r[1]):02d}-{int(r[2]):02d}" for r in rows], dtype="datetime64[D]")
    ours = ds["PET"].sel(basin="01031500", time=dates.astype("datetime64[ns]")).values.astype(float)
    theirs = rows[:, 8]
    assert np.corrcoef(ours, theirs)[0, 1] > 0.99
    assert ours.mean() == pytest.approx(theirs.mean(), rel=0.05)


@pytest.mark.shared_data
@pytest.mark.parametrize("product", ["nldas", "maurer"])
def test_other_forcing_products_on_the_short_record_basins(daymet: xr.Dataset, product: str) -> None:
    ds = import_camels_us(CAMELS, forcing=product)
    assert validate(ds).ok
    assert ds["basin"].values.tolist() == SHORT
    t = ds["time"].values
    assert (str(t[0])[:10], str(t[-1])[:10]) == ("2000-01-01", "2002-12-31")
    assert "Q_sacsma" not in ds  # benchmark runs are Daymet-driven
    assert set(ds["forcing_source"].values.tolist()) == {product}
    f = _raw(_forcing("02064000", product), "2001 08 09", skip=4)
    assert _at(ds, "P", "02064000", "2001-08-09") == pytest.approx(float(f[5]), abs=1e-5)
    assert _at(ds, "T", "02064000", "2001-08-09") == pytest.approx((float(f[8]) + float(f[9])) / 2, abs=1e-5)
    # these files carry tmax == tmin: Hargreaves would be 0, Priestley-Taylor from srad is used
    assert f[8] == f[9]
    assert set(ds["pet_method"].values.tolist()) == {"priestley_taylor"}
    season = ds["PET"].groupby("time.season").mean()
    assert bool((season.sel(season="JJA") > 3.0).all() & (season.sel(season="JJA") > 3 * season.sel(season="DJF")).all())
    # same USGS series, same header area: Q as with Daymet
    np.testing.assert_allclose(ds["Q"].values, daymet["Q"].sel(basin=SHORT, time=ds["time"]).values, rtol=1e-6)


@pytest.mark.shared_data
def test_hargreaves_is_refused_when_tmax_equals_tmin() -> None:
    _require_camels()
    with pytest.raises(DataImportError, match=r"01022500_lump_nldas_forcing_leap\.txt: tmax equals tmin on 1096 of 1096 "
                                              r"days, so Hargreaves PET would be 0"):
        import_camels_us(CAMELS, forcing="nldas", basins=["01022500"], pet="hargreaves")


@pytest.fixture
def delta_cli() -> click.Group:
    """The root CLI with delta-hydro's commands added (as the plugin hook does)."""
    plugin.delta_commands(cli=cli)
    return cli


@pytest.mark.shared_data
def test_cli_imports_then_data_check_passes(delta_cli: click.Group, tmp_path: Path) -> None:
    _require_camels()
    out = tmp_path / "camels.zarr"
    runner = CliRunner()
    result = runner.invoke(delta_cli, ["data", "import", "camels-us", str(CAMELS), "--out", str(out),
                                       "--basins", str(CAMELS / "4_basins_test_set.txt"), "--forcing", "maurer"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 4 basin x 1096 days (2000-01-01 .. 2002-12-31)" in result.output
    check = runner.invoke(delta_cli, ["data", "check", str(out)])
    assert check.exit_code == 0, check.output
    assert check.output.strip().endswith(f"{out}: valid")
    ds = open_canonical(out)
    assert ds["basin"].values.tolist() == SHORT and ds.attrs["forcing_product"] == "maurer"
    assert ds["gauge_name"].sel(basin="01022500").item() == "Narraguagus River at Cherryfield, Maine"
    # an existing store is kept unless --overwrite
    again = runner.invoke(delta_cli, ["data", "import", "camels-us", str(CAMELS), "--out", str(out)])
    assert again.exit_code == 1 and f"{out} exists; pass --overwrite to replace it" in again.output
    over = runner.invoke(delta_cli, ["data", "import", "camels-us", str(CAMELS), "--out", str(out), "--overwrite",
                                     "--basins", "07373000,01620500"])
    assert over.exit_code == 0, over.output
    assert open_canonical(out)["basin"].values.tolist() == ["01620500", "07373000"]


@pytest.mark.shared_data
def test_real_command_line_registers_the_command_and_does_not_import_torch(tmp_path: Path) -> None:
    _require_camels()
    out = tmp_path / "one.zarr"
    code = ("import sys\nfrom delta_core.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    code = e.code\nprint('TORCH_IMPORTED=%s' % ('torch' in sys.modules), file=sys.stderr)\nsys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, "data", "import", "camels-us", str(CAMELS), "--out", str(out),
                           "--basins", str(CAMELS / "1_basin_test_set.txt")],
                          capture_output=True, text=True, timeout=120, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "1 basin x 1461 days (2000-01-01 .. 2003-12-31)" in proc.stdout
    assert "TORCH_IMPORTED=False" in proc.stderr
    assert proc.stderr.count("\r") == 0  # no progress bar when stderr is not a terminal


# --------------------------------------------------------------------------- bad input (synthetic layout)

DAYS = [f"2000 01 {d:02d}" for d in range(1, 9)]
FORCING_HEADER = "Year Mnth Day Hr dayl(s) prcp(mm/day) srad(W/m2) swe(mm) tmax(C) tmin(C) vp(Pa)"
MO_HEADER = "YR MNTH DY HR SWE PRCP RAIM TAIR PET ET MOD_RUN OBS_RUN"
ATTRIBUTE_FILES = {
    "clim": ("p_mean;aridity;high_prec_timing", lambda i: f"{2.0 + i};{0.5 + i / 10};son"),
    "geol": ("geol_1st_class;geol_porostiy", lambda i: "Metamorphics;0.1"),
    "hydro": ("q_mean", lambda i: f"{1.0 + i}"),
    "name": ("huc_02;gauge_name", lambda i: f"0{i + 1};River {i} near Town"),
    "soil": ("soil_porosity", lambda i: "0.4"),
    "topo": ("gauge_lat;area_gages2", lambda i: f"{40 + i};{100.0 * (i + 1)}"),
    "vege": ("frac_forest;dom_land_cover", lambda i: "0.5;    Mixed Forests"),
}
FAKE_IDS = ["01111111", "02222222", "03333333", "04444444"]


def forcing_text(lat: float = 44.5, elev: float = 200.0, area: float = 100e6, days: list[str] = DAYS) -> str:
    rows = [f"{d} 12\t{30000 + i:.2f}\t{i * 1.5:.2f}\t{200 + i:.2f}\t0.00\t{5.0 + i:.2f}\t{-3.0 + i:.2f}\t{500 + i:.2f}"
            for i, d in enumerate(days)]
    return "\n".join([f"  {lat:.2f}", f" {elev:.2f}", f" {area:.0f}", FORCING_HEADER, *rows]) + "\n"


def flow_text(basin: str, days: list[str] = DAYS) -> str:
    rows = [f"{basin} {d}   {10.0 * (i + 1):7.2f} A" for i, d in enumerate(days)]
    rows[3] = f"{basin} {days[3]}  -999.00 M"
    rows[5] = f"{basin} {days[5]}    60.00 M"  # flagged missing although a value is given
    return "\n".join(rows) + "\n"


def model_output_text(days: list[str]) -> str:
    rows = [f"{d} 12 0.0 {1.0 + i:.4f} 0.0 {10.0 + i:.4f} {2.0:.4f} 1.0 {0.5 + i:.4f} {0.7 + i:.4f}"
            for i, d in enumerate(days)]
    return "\n".join([MO_HEADER, *rows]) + "\n"


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A small CAMELS-US folder: 2 forcing basins with streamflow, 1 model-output basin, 4 attribute rows."""
    root = tmp_path / "camels_us"
    for basin, huc in (("01111111", "01"), ("02222222", "02")):
        forcing = root / "basin_mean_forcing" / "daymet" / huc / f"{basin}_lump_cida_forcing_leap.txt"
        forcing.parent.mkdir(parents=True, exist_ok=True)
        forcing.write_text(forcing_text())
        flow = root / "usgs_streamflow" / huc / f"{basin}_streamflow_qc.txt"
        flow.parent.mkdir(parents=True, exist_ok=True)
        flow.write_text(flow_text(basin))
    output = root / "model_output" / "flow_timeseries" / "daymet" / "03" / "03333333_05_model_output.txt"
    output.parent.mkdir(parents=True)
    output.write_text(model_output_text([f"2000 01 {d:02d}" for d in range(5, 13)]))
    attrs_dir = root / "camels_attributes_v2.0"
    attrs_dir.mkdir()
    for group, (header, row) in ATTRIBUTE_FILES.items():
        lines = [f"gauge_id;{header}"] + [f"{b};{row(i)}" for i, b in enumerate(FAKE_IDS)]
        (attrs_dir / f"camels_{group}.txt").write_text("\n".join(lines) + "\n")
    return root


def _path(root: Path, kind: str, basin: str = "01111111") -> Path:
    huc = basin[:2]
    return {
        "forcing": root / "basin_mean_forcing" / "daymet" / huc / f"{basin}_lump_cida_forcing_leap.txt",
        "flow": root / "usgs_streamflow" / huc / f"{basin}_streamflow_qc.txt",
        "output": root / "model_output" / "flow_timeseries" / "daymet" / "03" / "03333333_05_model_output.txt",
    }[kind]


def _edit(path: Path, line: int, change: Callable[[str], str]) -> None:
    """Change the 1-based ``line`` of ``path``."""
    lines = path.read_text().splitlines()
    lines[line - 1] = change(lines[line - 1])
    path.write_text("\n".join(lines) + "\n")


def test_fake_layout_imports_with_every_rule(fake: Path) -> None:
    ds = import_camels_us(fake)
    assert validate(ds).ok
    assert ds["basin"].values.tolist() == ["01111111", "02222222", "03333333"]
    assert str(ds["time"].values[0])[:10] == "2000-01-01" and str(ds["time"].values[-1])[:10] == "2000-01-12"
    # Q: cfs -> mm/day with the header area (100 km²); the M day is NaN
    assert _at(ds, "Q", "01111111", "2000-01-01") == pytest.approx(10.0 * CFS / 100e6, rel=1e-6)
    assert np.isnan(_at(ds, "Q", "01111111", "2000-01-04"))  # -999
    assert np.isnan(_at(ds, "Q", "01111111", "2000-01-06"))  # flag M
    assert _at(ds, "Q", "01111111", "2000-01-05") == pytest.approx(50.0 * CFS / 100e6, rel=1e-6)
    assert np.isnan(_at(ds, "Q", "01111111", "2000-01-10"))  # after the record
    # model-output basin: P, T, PET, Q, Q_sacsma from the file, NaN before its first day
    assert _at(ds, "P", "03333333", "2000-01-05") == pytest.approx(1.0)
    assert _at(ds, "T", "03333333", "2000-01-06") == pytest.approx(11.0)
    assert _at(ds, "Q", "03333333", "2000-01-05") == pytest.approx(0.7)
    assert _at(ds, "Q_sacsma", "03333333", "2000-01-05") == pytest.approx(0.5)
    assert np.isnan(_at(ds, "P", "03333333", "2000-01-04"))
    assert ds["huc_02"].sel(basin="03333333").item() == "03"
    assert ds["dom_land_cover"].sel(basin="01111111").item() == "Mixed Forests"
    pet = ds["PET"].sel(basin="01111111").values
    assert np.isfinite(pet[:8]).all() and (pet[:8] > 0).all()  # Hargreaves in January at 44.5 °N, T > -3 °C


def test_missing_source_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere: CAMELS-US folder not found"):
        import_camels_us(tmp_path / "nowhere")


def test_missing_forcing_product_folder(fake: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"basin_mean_forcing/nldas: forcing folder not found.*"
                                                 r"forcing products present: daymet"):
        import_camels_us(fake, forcing="nldas")


def test_missing_attribute_file(fake: Path) -> None:
    (fake / "camels_attributes_v2.0" / "camels_topo.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"camels_topo\.txt: attribute file not found"):
        import_camels_us(fake)


def test_missing_streamflow_folder(fake: Path) -> None:
    import shutil

    shutil.rmtree(fake / "usgs_streamflow")
    with pytest.raises(FileNotFoundError, match=r"usgs_streamflow: streamflow folder not found"):
        import_camels_us(fake)


def test_wrong_forcing_column_header(fake: Path) -> None:
    _edit(_path(fake, "forcing"), 4, lambda s: s.replace("tmax(C) tmin(C)", "tmin(C) tmax(C)"))
    with pytest.raises(DataImportError, match=r"01111111_lump_cida_forcing_leap\.txt: line 4: wrong column header "
                                              r"'Year .* tmin\(C\) tmax\(C\) vp\(Pa\)'; expected 'Year"):
        import_camels_us(fake)


def test_wrong_forcing_header_line(fake: Path) -> None:
    _edit(_path(fake, "forcing", "02222222"), 3, lambda s: " big")
    with pytest.raises(DataImportError, match=r"02222222_lump_cida_forcing_leap\.txt: line 3: expected the basin "
                                              r"area \(m²\) as a number, got 'big'"):
        import_camels_us(fake)


def test_wrong_model_output_header(fake: Path) -> None:
    _edit(_path(fake, "output"), 1, lambda s: s.replace("OBS_RUN", "QOBS"))
    with pytest.raises(DataImportError, match=r"03333333_05_model_output\.txt: line 1: wrong column header"):
        import_camels_us(fake)


def test_streamflow_file_with_a_header_row(fake: Path) -> None:
    path = _path(fake, "flow")
    path.write_text("gauge_id year month day Q_cfs flag\n" + path.read_text())
    with pytest.raises(DataImportError, match=r"01111111_streamflow_qc\.txt: line 1: wrong layout: expected 'gauge_id "
                                              r"year month day Q_cfs flag' without a header"):
        import_camels_us(fake)


def test_unknown_basin_id_lists_available_ones(fake: Path) -> None:
    with pytest.raises(DataImportError, match=r"unknown basin id\(s\) 09999999: not among the 3 basins with daymet "
                                              r"forcing or model output in .*; available: 01111111, 02222222, 03333333"):
        import_camels_us(fake, basins=["01111111", "09999999"])


def test_unknown_basin_id_hints(fake: Path) -> None:
    with pytest.raises(DataImportError, match=r"1111111 -> 01111111\? \(ids keep their leading zeros\)"):
        import_camels_us(fake, basins=["1111111"])
    with pytest.raises(DataImportError, match=r"04444444 is a CAMELS basin but has no daymet forcing or model output"):
        import_camels_us(fake, basins=["04444444"])
    with pytest.raises(DataImportError, match=r"basin ids must be text \(leading zeros matter\), got 1111111"):
        import_camels_us(fake, basins=[1111111])  # type: ignore[list-item]


def test_non_numeric_value_in_forcing(fake: Path) -> None:
    _edit(_path(fake, "forcing"), 7, lambda s: s.replace("\t3.00\t", "\t3,0\t"))
    with pytest.raises(DataImportError, match=r"01111111_lump_cida_forcing_leap\.txt: line 7: column 'prcp\(mm/day\)': "
                                              r"'3,0' is not a number"):
        import_camels_us(fake)


def test_non_numeric_value_in_streamflow(fake: Path) -> None:
    _edit(_path(fake, "flow", "02222222"), 3, lambda s: s.replace("30.00", "n/a"))
    with pytest.raises(DataImportError, match=r"02222222_streamflow_qc\.txt: line 3: column 'Q_cfs': 'n/a' is not "
                                              r"a number"):
        import_camels_us(fake)


def test_non_numeric_value_in_model_output(fake: Path) -> None:
    _edit(_path(fake, "output"), 5, lambda s: s.replace("0.0 ", "x ", 1))
    with pytest.raises(DataImportError, match=r"03333333_05_model_output\.txt: line 5: column 'SWE': 'x' is not a "
                                              r"number"):
        import_camels_us(fake)


def test_non_numeric_attribute(fake: Path) -> None:
    _edit(fake / "camels_attributes_v2.0" / "camels_clim.txt", 3, lambda s: s.replace("3.0;", "wet;"))
    with pytest.raises(DataImportError, match=r"camels_clim\.txt: line 3: column 'p_mean': 'wet' is not a number"):
        import_camels_us(fake)


def test_duplicated_date_in_forcing(fake: Path) -> None:
    _edit(_path(fake, "forcing"), 8, lambda s: s.replace("2000 01 04", "2000 01 03"))
    with pytest.raises(DataImportError, match=r"01111111_lump_cida_forcing_leap\.txt: duplicated date 2000-01-03 "
                                              r"\(lines 7 and 8\)"):
        import_camels_us(fake)


def test_duplicated_date_in_streamflow(fake: Path) -> None:
    _edit(_path(fake, "flow"), 6, lambda s: s.replace("2000 01 06", "2000 01 02"))
    with pytest.raises(DataImportError, match=r"01111111_streamflow_qc\.txt: duplicated date 2000-01-02 "
                                              r"\(lines 2 and 6\)"):
        import_camels_us(fake)


def test_impossible_date(fake: Path) -> None:
    _edit(_path(fake, "forcing"), 5, lambda s: s.replace("2000 01 01", "2000 13 01"))
    with pytest.raises(DataImportError, match=r"forcing_leap\.txt: line 5: 2000-13-01 is not a valid date"):
        import_camels_us(fake)


def test_wrong_number_of_fields(fake: Path) -> None:
    _edit(_path(fake, "forcing"), 9, lambda s: s.rsplit("\t", 1)[0])
    with pytest.raises(DataImportError, match=r"forcing_leap\.txt: line 9: expected 11 fields \(Year Mnth"):
        import_camels_us(fake)


def test_streamflow_of_another_gauge(fake: Path) -> None:
    _edit(_path(fake, "flow"), 5, lambda s: s.replace("01111111", "01111112"))
    with pytest.raises(DataImportError, match=r"01111111_streamflow_qc\.txt: line 5: gauge id '01111112' differs from "
                                              r"the basin '01111111'"):
        import_camels_us(fake)


def test_unknown_quality_flag(fake: Path) -> None:
    _edit(_path(fake, "flow"), 2, lambda s: s.replace(" A", " Q"))
    with pytest.raises(DataImportError, match=r"line 2: unknown quality flag 'Q'"):
        import_camels_us(fake)


def test_duplicated_gauge_in_attributes(fake: Path) -> None:
    _edit(fake / "camels_attributes_v2.0" / "camels_hydro.txt", 3, lambda s: s.replace("02222222", "01111111"))
    with pytest.raises(DataImportError, match=r"camels_hydro\.txt: gauge_id '01111111' appears twice \(lines 2 and 3\)"):
        import_camels_us(fake)


def test_cli_reports_errors_without_traceback(delta_cli: click.Group, fake: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["data", "import", "camels-us", str(fake), "--out", str(tmp_path / "x.zarr")]
    missing_list = runner.invoke(delta_cli, [*args, "--basins", str(tmp_path / "basins.txt")])
    assert missing_list.exit_code == 2 and "basins.txt: basin list file not found" in missing_list.output
    unknown = runner.invoke(delta_cli, [*args, "--basins", "01111111,05555555"])
    assert unknown.exit_code == 1
    assert "Error: unknown basin id(s) 05555555" in unknown.output and "Traceback" not in unknown.output
    (tmp_path / "basins.txt").write_text("# my basins\n01111111\n03333333  # model output only\n")
    ok = runner.invoke(delta_cli, [*args, "--basins", str(tmp_path / "basins.txt")])
    assert ok.exit_code == 0, ok.output
    assert open_canonical(tmp_path / "x.zarr")["basin"].values.tolist() == ["01111111", "03333333"]


def test_priestley_taylor_function_basics() -> None:
    doy = np.array([15, 196])
    pet = priestley_taylor_pet(np.array([-5.0, 15.0]), np.array([5.0, 28.0]), np.array([150.0, 450.0]),
                               np.array([33000.0, 52000.0]), np.array([500.0, 1500.0]), 42.0, 300.0, doy)
    assert 0.0 <= pet[0] < 1.0 and 4.0 < pet[1] < 8.0
    assert np.isnan(priestley_taylor_pet(np.array([np.nan]), np.array([1.0]), np.array([100.0]), np.array([4e4]),
                                         np.array([500.0]), 42.0, 300.0, np.array([100])))[0]
