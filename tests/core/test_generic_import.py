"""Generic importer: per-entity CSV/NetCDF files + attributes table → canonical dataset (synthetic files)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from click.testing import CliRunner

from delta_core.cli.main import cli
from delta_core.data.canonical import open_canonical, validate
from delta_core.data.importers import DataImportError
from delta_core.data.importers.generic import apply_options, import_generic, parse_mapping

MAPPING = {
    "entity_dim": "site",
    "files": {"pattern": "{id}_daily.csv"},
    "time": {"column": "date"},
    "missing": [-999],
    "variables": {
        "P": {"column": "prcp", "units": "mm/day", "long_name": "precipitation"},
        "T": {"column": "temp", "units": "degC", "long_name": "air temperature"},
        "Q": {"column": "flow", "units": "mm/day"},
    },
    "attributes": {
        "file": "attributes.csv",
        "id_column": "site_id",
        "variables": {
            "area": {"column": "area_km2", "units": "km2", "long_name": "catchment area"},
            "land_cover": {"long_name": "dominant land cover"},
            "elevation": {"units": "m"},
        },
    },
}


def _csv(path: Path, rows: list[str], header: str = "date,prcp,temp,flow") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def sites(tmp_path: Path) -> Path:
    """Three sites with different records, one with leading zeros in its id, and an attributes table."""
    src = tmp_path / "sites"
    _csv(src / "A01_daily.csv", ["2000-01-01,1.5,3.0,0.5", "2000-01-02,0.0,4.0,0.4", "2000-01-03,2.0,5.0,-999",
                                 "2000-01-04,,6.0,0.6"])
    _csv(src / "B7_daily.csv", ["2000-01-03,3.0,1.0,1.0", "2000-01-04,NA,2.0,1.1", "2000-01-06,1.0,2.5,1.2"])
    _csv(src / "0042_daily.csv", ["1999-12-30,0.1,-1.0,0.2", "1999-12-31,0.2,-2.0,0.3"])
    (src / "notes.txt").write_text("not data\n")
    (src / "attributes.csv").write_text(
        "site_id,area_km2,land_cover,elevation,unused\n"
        "A01,12.5,forest,300,x\n"
        "0042,7.25,crops,NA,y\n"
        "B7,100,  grassland ,150.5,z\n"
        "C9,1,forest,1,w\n"
    )
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(MAPPING, sort_keys=False))
    return src


def _at(ds: xr.Dataset, name: str, entity: str, date: str) -> float:
    return float(ds[name].sel(site=entity, time=np.datetime64(date)).values)


def test_import_with_a_yaml_mapping(sites: Path) -> None:
    ds = import_generic(sites, sites.parent / "map.yaml")
    assert validate(ds).ok
    assert ds.attrs["entity_dim"] == "site" and ds["site"].values.tolist() == ["0042", "A01", "B7"]
    t = ds["time"].values
    assert (str(t[0])[:10], str(t[-1])[:10], t.size) == ("1999-12-30", "2000-01-06", 8)  # union of the records
    assert ds["P"].dims == ("site", "time") and ds["P"].dtype == np.float32
    assert _at(ds, "P", "A01", "2000-01-01") == 1.5
    assert _at(ds, "T", "B7", "2000-01-06") == 2.5
    assert _at(ds, "Q", "0042", "1999-12-31") == pytest.approx(0.3)
    assert np.isnan(_at(ds, "Q", "A01", "2000-01-03"))  # -999 (mapping's missing)
    assert np.isnan(_at(ds, "P", "A01", "2000-01-04"))  # empty cell
    assert np.isnan(_at(ds, "P", "B7", "2000-01-04"))  # NA
    assert np.isnan(_at(ds, "P", "B7", "2000-01-05"))  # a day the file lacks
    assert np.isnan(_at(ds, "P", "0042", "2000-01-01"))  # outside its record
    assert ds["P"].attrs == {"units": "mm/day", "long_name": "precipitation", "source_column": "prcp"}
    assert ds["Q"].attrs["long_name"] == "Q"  # defaults to the name
    assert ds["area"].sel(site="B7").item() == 100.0 and ds["area"].dtype == np.float64
    assert ds["area"].attrs["units"] == "km2"
    assert ds["land_cover"].values.tolist() == ["crops", "forest", "grassland"]
    assert "units" not in ds["land_cover"].attrs
    assert np.isnan(ds["elevation"].sel(site="0042").item())
    assert "unused" not in ds


def test_cli_end_to_end_then_check(sites: Path, tmp_path: Path) -> None:
    out = tmp_path / "sites.zarr"
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "import", "generic", str(sites), "--mapping", str(tmp_path / "map.yaml"),
                                 "--out", str(out), "--entity-dim", "plot"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 3 plot x 8 days (1999-12-30 .. 2000-01-06), 6 variables" in result.output
    check = runner.invoke(cli, ["data", "check", str(out)])
    assert check.exit_code == 0 and check.output.strip().endswith("valid"), check.output
    ds = open_canonical(out)
    assert ds["plot"].values.tolist() == ["0042", "A01", "B7"]
    np.testing.assert_array_equal(ds["T"].sel(plot="A01").values[2:6], [3.0, 4.0, 5.0, 6.0])
    again = runner.invoke(cli, ["data", "import", "generic", str(sites), "--mapping", str(tmp_path / "map.yaml"),
                                "--out", str(out)])
    assert again.exit_code == 1 and "exists; pass --overwrite to replace it" in again.output


def test_cli_mapping_given_by_options_only(tmp_path: Path) -> None:
    src = tmp_path / "stations"
    _csv(src / "north" / "st-1.txt", ["01.02.2001;5;x", "02.02.2001;-;y"], header="day;rain;code")
    _csv(src / "south" / "st-2.txt", ["03.02.2001;7;z"], header="day;rain;code")
    (src / "meta.csv").write_text("station,kind,height\nst-1,hill,10\nst-2,valley,2\n")
    out = tmp_path / "st.zarr"
    result = CliRunner().invoke(cli, [
        "data", "import", "generic", str(src), "--out", str(out), "--pattern", "*/{id}.txt", "--delimiter", ";",
        "--date-column", "day", "--date-format", "%d.%m.%Y", "--var", "P=rain:mm/day:daily rainfall",
        "--missing", "-", "--attributes", "meta.csv", "--id-column", "station", "--attr", "kind=kind",
        "--attr", "height=height:m:station height"])
    assert result.exit_code == 0, result.output
    ds = open_canonical(out)
    assert ds.attrs["entity_dim"] == "entity" and ds["entity"].values.tolist() == ["st-1", "st-2"]
    np.testing.assert_array_equal(ds["P"].values, [[5.0, np.nan, np.nan], [np.nan, np.nan, 7.0]])
    assert ds["P"].attrs["long_name"] == "daily rainfall"
    assert ds["kind"].values.tolist() == ["hill", "valley"]
    assert ds["height"].attrs == {"units": "m", "long_name": "station height", "source_column": "height"}


def test_year_month_day_columns_whitespace_and_skipped_lines(tmp_path: Path) -> None:
    src = tmp_path / "ws"
    _csv(src / "g1.dat", ["2010 02 27 1.0", "2010 02 28 2.0", "2010 03 01 3.0"], header="# exported\nY M D q")
    mapping = {"files": {"pattern": "{id}.dat", "delimiter": "whitespace", "skip_rows": 1},
               "time": {"year": "Y", "month": "M", "day": "D"},
               "variables": {"Q": {"column": "q", "units": "m3/s", "long_name": "discharge"}}}
    ds = import_generic(src, mapping)
    assert ds["time"].values.astype("datetime64[D]").astype(str).tolist() == ["2010-02-27", "2010-02-28",
                                                                               "2010-03-01"]
    np.testing.assert_array_equal(ds["Q"].values, [[1.0, 2.0, 3.0]])


def test_attributes_table_beside_the_files_is_not_an_entity(tmp_path: Path) -> None:
    src = tmp_path / "flat"
    _csv(src / "s1.csv", ["2000-01-01,1,2,3"])
    (src / "attributes.csv").write_text("id,area\ns1,5\n")
    mapping = {"variables": {"P": {"column": "prcp", "units": "mm/day"}},
               "attributes": {"file": "attributes.csv", "variables": {"area": {"units": "km2"}}}}
    ds = import_generic(src, mapping)  # default pattern {id}.csv also matches attributes.csv
    assert ds["entity"].values.tolist() == ["s1"] and ds["area"].values.tolist() == [5.0]


def _netcdf_engine() -> str:
    for module, engine in (("netCDF4", "netcdf4"), ("h5netcdf", "h5netcdf"), ("scipy", "scipy")):
        if importlib.util.find_spec(module):
            return engine
    pytest.skip("no NetCDF engine installed (netCDF4, h5netcdf or scipy)")


def _nc(path: Path, times: list[str], values: list[float], engine: str) -> None:
    ds = xr.Dataset({"discharge": (("time",), np.asarray(values, dtype=float), {"units": "mm/day"}),
                     "rain": (("time",), np.ones(len(values)))},
                    coords={"time": pd.to_datetime(times)})
    ds.to_netcdf(path, engine=engine)


def test_netcdf_entities(tmp_path: Path) -> None:
    engine = _netcdf_engine()
    src = tmp_path / "nc"
    src.mkdir()
    _nc(src / "x1.nc", ["2005-06-01", "2005-06-02"], [1.0, -9999.0], engine)
    _nc(src / "x2.nc", ["2005-06-02 12:00", "2005-06-03 12:00"], [3.0, 4.0], engine)
    mapping = {"files": {"pattern": "{id}.nc"}, "missing": [-9999],
               "variables": {"Q": {"column": "discharge", "units": "mm/day", "long_name": "streamflow"}}}
    ds = import_generic(src, mapping)
    assert validate(ds).ok
    np.testing.assert_array_equal(ds["Q"].values, [[1.0, np.nan, np.nan], [np.nan, 3.0, 4.0]])
    _nc(src / "x3.nc", ["2005-06-01", "2005-06-01"], [1.0, 2.0], engine)
    with pytest.raises(DataImportError, match=r"x3\.nc: duplicated date 2005-06-01 \(time indices 0 and 1\)"):
        import_generic(src, mapping)
    (src / "x3.nc").unlink()
    bad = {**mapping, "variables": {"Q": {"column": "flow", "units": "mm/day"}}}
    with pytest.raises(DataImportError, match=r"x1\.nc: no variable 'flow' for 'Q' \(variables: discharge, rain\)"):
        import_generic(src, bad)


# --------------------------------------------------------------------------- bad input


def test_missing_source_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent: source folder not found"):
        import_generic(tmp_path / "absent", MAPPING)


def test_missing_mapping_file(sites: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nomap\.yaml: mapping file not found"):
        import_generic(sites, sites / "nomap.yaml")


def test_no_file_matches_the_pattern(sites: Path) -> None:
    mapping = {**MAPPING, "files": {"pattern": "{id}.parquet"}}
    with pytest.raises(DataImportError, match=r"sites: no file matches the pattern '\{id\}\.parquet' \(found: "
                                              r"0042_daily\.csv, A01_daily\.csv, B7_daily\.csv, attributes\.csv"):
        import_generic(sites, mapping)


def test_two_files_for_one_entity(tmp_path: Path) -> None:
    _csv(tmp_path / "s" / "a" / "e1.csv", ["2000-01-01,1,1,1"])
    _csv(tmp_path / "s" / "b" / "e1.csv", ["2000-01-01,1,1,1"])
    mapping = {"files": {"pattern": "*/{id}.csv"}, "variables": {"P": {"column": "prcp", "units": "mm/day"}}}
    with pytest.raises(DataImportError, match=r"entity 'e1' has two files: .*a/e1\.csv and .*b/e1\.csv"):
        import_generic(tmp_path / "s", mapping)


@pytest.mark.parametrize(("change", "message"), [
    ({"variabels": {}}, r"map\.yaml: unknown key 'variabels'; did you mean 'variables'\?"),
    ({"files": {"patern": "x"}}, r"map\.yaml: files: unknown key 'patern'; did you mean 'pattern'\?"),
    ({"variables": {"P": {"column": "prcp"}}}, r"map\.yaml: variables\.P: 'units' is required for a time series"),
    ({"variables": {"P": {"column": "prcp", "unit": "mm"}}},
     r"map\.yaml: variables\.P: unknown key 'unit'; did you mean 'units'\?"),
    ({"variables": {"time": {"column": "prcp", "units": "mm"}}},
     r"map\.yaml: variables\.time: the name is taken by a dimension"),
    ({"variables": {}}, r"map\.yaml: variables: give at least one variable"),
    ({"files": {"pattern": "data.csv"}}, r"map\.yaml: files\.pattern: 'data\.csv' must contain \{id\} exactly once"),
    ({"files": {"pattern": "{id}.csv", "format": "xlsx"}}, r"map\.yaml: files\.format: 'xlsx' is not one of csv, netcdf"),
    ({"time": {"year": "Y"}}, r"map\.yaml: time: give all of year, month and day columns"),
    ({"entity_dim": "time"}, r"map\.yaml: entity_dim: 'time' is the time dimension"),
    ({"attributes": {"file": "attributes.csv", "id_column": "site_id"}},
     r"map\.yaml: attributes\.variables: name the attributes to import"),
])
def test_bad_mapping(sites: Path, change: dict[str, object], message: str) -> None:
    path = sites.parent / "map.yaml"
    path.write_text(yaml.safe_dump({**MAPPING, **change}))
    with pytest.raises(DataImportError, match=message):
        import_generic(sites, path)


def test_missing_column(sites: Path) -> None:
    mapping = {**MAPPING, "variables": {"P": {"column": "precip", "units": "mm/day"}}}
    with pytest.raises(DataImportError, match=r"0042_daily\.csv: no column 'precip'; did you mean 'prcp'\? "
                                              r"\(columns: date, prcp, temp, flow\)"):
        import_generic(sites, mapping)


def test_wrong_header_without_date_column(sites: Path) -> None:
    _csv(sites / "B7_daily.csv", ["2000-01-03,3.0,1.0,1.0"], header="when,prcp,temp,flow")
    with pytest.raises(DataImportError, match=r"B7_daily\.csv: no date column 'date' \(columns: when, prcp, temp, flow\)"):
        import_generic(sites, MAPPING)


def test_non_numeric_value(sites: Path) -> None:
    _csv(sites / "B7_daily.csv", ["2000-01-03,3.0,1.0,1.0", "2000-01-04,2.0,warm,1.1"])
    with pytest.raises(DataImportError, match=r"B7_daily\.csv: line 3: column 'temp': 'warm' is not a number"):
        import_generic(sites, MAPPING)


def test_duplicated_dates(sites: Path) -> None:
    _csv(sites / "A01_daily.csv", ["2000-01-01,1,1,1", "2000-01-02,1,1,1", "2000-01-02,2,2,2"])
    with pytest.raises(DataImportError, match=r"A01_daily\.csv: duplicated date 2000-01-02 \(lines 3 and 4\)"):
        import_generic(sites, MAPPING)


def test_bad_date(sites: Path) -> None:
    _csv(sites / "A01_daily.csv", ["2000-01-01,1,1,1", "2000-02-30,1,1,1"])
    with pytest.raises(DataImportError, match=r"A01_daily\.csv: line 3: column 'date': '2000-02-30' is not a date "
                                              r"in ISO 8601"):
        import_generic(sites, MAPPING)
    mapping = {**MAPPING, "time": {"column": "date", "format": "%d/%m/%Y"}}
    with pytest.raises(DataImportError, match=r"0042_daily\.csv: line 2: column 'date': '1999-12-30' is not a date in format '%d/%m/%Y'"):
        import_generic(sites, mapping)


def test_wrong_number_of_fields(sites: Path) -> None:
    _csv(sites / "A01_daily.csv", ["2000-01-01,1,1,1", "2000-01-02,1,1,1,9"])
    with pytest.raises(DataImportError, match=r"A01_daily\.csv: line 3: expected 4 fields as in the header, got 5"):
        import_generic(sites, MAPPING)


def test_empty_file(sites: Path) -> None:
    (sites / "A01_daily.csv").write_text("date,prcp,temp,flow\n")
    with pytest.raises(DataImportError, match=r"A01_daily\.csv: no data rows after the header"):
        import_generic(sites, MAPPING)


def test_attributes_table_problems(sites: Path) -> None:
    table = sites / "attributes.csv"
    text = table.read_text()
    table.unlink()
    with pytest.raises(FileNotFoundError, match=r"attributes\.csv: attributes table not found"):
        import_generic(sites, MAPPING)
    table.write_text(text.replace("site_id", "id"))
    with pytest.raises(DataImportError, match=r"attributes\.csv: no id column 'site_id'"):
        import_generic(sites, MAPPING)
    table.write_text(text.replace("B7,", "B8,"))
    with pytest.raises(DataImportError, match=r"attributes\.csv: no row for 1 entities with files: B7 \(ids are "
                                              r"compared as text"):
        import_generic(sites, MAPPING)
    table.write_text(text.replace("C9,", "A01,"))
    with pytest.raises(DataImportError, match=r"attributes\.csv: id 'A01' appears twice in column 'site_id' "
                                              r"\(lines 2 and 5\)"):
        import_generic(sites, MAPPING)
    table.write_text(text.replace("12.5", "big"))
    with pytest.raises(DataImportError, match=r"attributes\.csv: line 2: column 'area_km2': 'big' is not a number"):
        import_generic(sites, MAPPING)


def test_cli_errors_are_clean(sites: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "o.zarr")
    neither = runner.invoke(cli, ["data", "import", "generic", str(sites), "--out", out])
    assert neither.exit_code == 2 and "give --mapping FILE or at least one --var NAME=COLUMN:UNITS" in neither.output
    no_units = runner.invoke(cli, ["data", "import", "generic", str(sites), "--out", out, "--var", "P=prcp"])
    assert no_units.exit_code == 1
    assert "--var 'P=prcp': give the units, NAME=COLUMN:UNITS[:LONG_NAME]" in no_units.output
    bad_value = runner.invoke(cli, ["data", "import", "generic", str(sites), "--out", out, "--pattern", "{id}_daily.csv",
                                    "--var", "P=prcp:mm/day", "--var", "F=flow:mm/day", "--date-format", "%Y/%m/%d"])
    assert bad_value.exit_code == 1 and "Traceback" not in bad_value.output
    assert "0042_daily.csv: line 2: column 'date': '1999-12-30' is not a date in format '%Y/%m/%d'" in bad_value.output
    assert not Path(out).exists()


def test_options_layer_over_a_mapping() -> None:
    data = apply_options(MAPPING, entity_dim="basin", pattern="{id}.txt", variables=["P=rain:mm:rain fall"],
                         attributes=["kind=kind"], missing=["-"])
    mapping = parse_mapping(data)
    assert mapping.entity_dim == "basin" and mapping.pattern == "{id}.txt"
    assert {v.name: v.column for v in mapping.variables} == {"P": "rain", "T": "temp", "Q": "flow"}
    assert [(a.name, a.units) for a in mapping.attributes][-1] == ("kind", None)
    assert "-" in mapping.missing_tokens and -999.0 in mapping.missing_values
    assert MAPPING["files"] == {"pattern": "{id}_daily.csv"}  # the input mapping is not modified
