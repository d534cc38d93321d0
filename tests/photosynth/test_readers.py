"""Readers of gas-exchange files into the canonical format; dropped rows; the import commands."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from delta_core.cli.main import cli
from delta_core.data.canonical import open_canonical, validate, write_canonical
from delta_core.data.dataset import open_dataset
from delta_core.data.importers import DataImportError
from delta_core.data.periods import time_range
from delta_photosynth import plugin
from delta_photosynth.data.canonical import ROW_ORIGIN, files_to_dataset
from delta_photosynth.data.readers import DroppedRowsWarning, ReadOptions, read_leaf_file, read_leaf_files

# file -> (options, curves, rows kept, rows dropped, header rows)
SHARED = {
    "plantecophys/manyacidat.csv": (ReadOptions(layout="table"), 28, 390, 0, 1),
    "plantecophys/acidata1.csv": (ReadOptions(), 1, 10, 0, 1),
    "photorch/dfMAGIC043_lr.csv": (ReadOptions(), 12, 1863, 0, 1),
    "photorch/steadystate_stomatalconductance.csv": (ReadOptions(), 14, 145, 0, 1),
    "cdmuir/A_Ci_T_data.csv": (ReadOptions(curve_columns=("ID",), split_on=("Tleaf:1",)), 20, 240, 0, 1),
    "cdmuir/A_Ci_Q_data_1.csv": (ReadOptions(split_on=("Qin:10",)), 8, 96, 0, 1),
    "photogea/ld11_aci_soybean.csv": (ReadOptions(curve_columns=("instrument", "species", "plot")), 8, 160, 0, 3),
    "photogea/c4_aci_sorghum.csv": (ReadOptions(curve_columns=("instrument", "species", "plot"),
                                                split_on=("time:3600",)), 22, 327, 1, 3),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", list(SHARED))
def test_every_shared_file(leaf_dir: Path, rel: str) -> None:
    options, n_curves, n_rows, n_dropped, header_rows = SHARED[rel]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leaf = read_leaf_file(leaf_dir / rel, options)
    dropped = [w for w in caught if issubclass(w.category, DroppedRowsWarning)]
    assert len(dropped) == (1 if n_dropped else 0)
    assert leaf.report.n_dropped == n_dropped and leaf.report.header_rows == header_rows
    assert leaf.table["curve"].nunique() == n_curves and len(leaf.table) == n_rows
    assert {"A", "Tleaf", "Q"} <= set(leaf.variables)
    ds = files_to_dataset([leaf])
    assert validate(ds).problems == ()
    assert ds.sizes["curve"] == n_curves and int(ds["row_valid"].sum()) == n_rows
    assert int(np.isfinite(ds["A"].values).sum()) == n_rows
    assert ds.attrs["rows_dropped"] == n_dropped


@pytest.mark.shared_data
def test_manyacidat_values_and_padding(leaf_dir: Path, tmp_path: Path) -> None:
    leaf = read_leaf_file(leaf_dir / "plantecophys/manyacidat.csv")
    ds = files_to_dataset([leaf])
    assert ds["curve"].values[0] == "1000_1_5" and ds.attrs["time_axis"] == "row"
    assert str(ds["time"].values[0])[:10] == ROW_ORIGIN and ds["row"].values.tolist() == list(range(ds.sizes["time"]))
    first = ds.sel(curve="1000_1_5")
    # the first data line of the file: 1000_1_5,261.9568073,20.82980502,23.87227821,1799.53833,1000
    assert float(first["Ci"][0]) == pytest.approx(261.9568073, rel=1e-6)
    assert float(first["A"][0]) == pytest.approx(20.82980502, rel=1e-6)
    assert float(first["Tleaf"][0]) == pytest.approx(23.87227821, rel=1e-6)
    assert float(first["Q"][0]) == pytest.approx(1799.53833, rel=1e-6)
    assert float(first["source_line"][0]) == 2.0 and first["treatment"].item() == "1000"
    # padding rows: drivers repeat the last measured row, observations are NaN
    n = ds["n_rows"].values.astype(int)
    short = int(np.argmin(n))
    assert n.min() < ds.sizes["time"]
    row = ds.isel(curve=short)
    last = int(n[short]) - 1
    assert np.isnan(row["A"].values[last + 1:]).all() and np.isfinite(row["A"].values[: last + 1]).all()
    for name in ("Ci", "Q", "Tleaf"):
        assert (row[name].values[last + 1:] == row[name].values[last]).all()
    assert row["row_valid"].values.tolist() == [1.0] * (last + 1) + [0.0] * (ds.sizes["time"] - last - 1)
    # the core serves it: complete PhyModel inputs over the whole row axis, NaN targets on padding rows
    write_canonical(ds, tmp_path / "m.zarr")
    dataset = open_dataset(tmp_path / "m.zarr", x_phy=("Ci", "Q", "Tleaf"), target=("A",))
    rows = time_range(dataset.times, ROW_ORIGIN, str(ds["time"].values[-1])[:10])
    dataset.check_complete(rows, 0, "all rows")
    sample = dataset.sample(list(range(28)), 0, ds.sizes["time"])
    assert tuple(sample["x_phy"].shape) == (ds.sizes["time"], 28, 3)
    assert int(np.isnan(sample["target"].numpy()).sum()) == 28 * ds.sizes["time"] - 390


@pytest.mark.shared_data
def test_photogea_curves_by_id_columns_and_time_gaps(leaf_dir: Path) -> None:
    by_ids = read_leaf_file(leaf_dir / "photogea/ld11_aci_soybean.csv",
                            ReadOptions(curve_columns=("instrument", "species", "plot"))).table
    # the three id columns give 8 curves, two of which hold one 2021 and one 2022 curve (32 rows) ...
    sizes = by_ids.groupby("curve").size()
    assert sorted(sizes.tolist()) == [16] * 6 + [32] * 2
    split = read_leaf_file(leaf_dir / "photogea/ld11_aci_soybean.csv",
                           ReadOptions(curve_columns=("instrument", "species", "plot"), split_on=("time:3600",))).table
    # ... which a gap of more than an hour between consecutive rows separates: 10 curves of 16 points
    assert split.groupby("curve").size().tolist() == [16] * 10
    assert "ripe2_ld11_1_1" in set(split["curve"]) and "ripe2_ld11_1_2" in set(split["curve"])
    assert float(split["O2"].iloc[0]) == 210.0  # 21 % read as % and converted
    assert float(split["Patm"].iloc[0]) == pytest.approx(99.7145, rel=1e-6)  # column Pa, in kPa


@pytest.mark.shared_data
def test_multiple_files_prefix_curve_ids(leaf_dir: Path) -> None:
    files = read_leaf_files([leaf_dir / "plantecophys/acidata1.csv", leaf_dir / "plantecophys/manyacidat.csv"])
    ds = files_to_dataset(files)
    assert ds.sizes["curve"] == 29 and ds["curve"].values[0] == "acidata1:acidata1"
    assert "manyacidat:1000_1_5" in ds["curve"].values.tolist()
    # acidata1 has CO2S (Ca), manyacidat has not: NaN there
    assert np.isfinite(ds["Ca"].sel(curve="acidata1:acidata1").values).all()
    assert np.isnan(ds["Ca"].sel(curve="manyacidat:1000_1_5").values).all()
    assert ds["source_file"].sel(curve="manyacidat:1000_1_5").item() == "manyacidat.csv"


BAD_TABLE = """\
Curve,Ci,Photo,Tleaf,PARi,Cond
a,100,5.0,25,1800,0.2
a,200,95.0,25,1800,0.2
a,-3,1.0,25,1800,0.2
a,300,NA,25,1800,0.2
a,400,oops,25,1800,0.2
a,500,20.0,298.15,1800,0.2
a,600,22.0,25,1800,
b,100,-100,25,1800,0.1
b,,4.0,25,1800,0.1
c,150,6.0,25,1800,0.3
"""


def test_impossible_rows_are_dropped_with_counts_and_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_TABLE)
    with pytest.warns(DroppedRowsWarning) as caught:
        leaf = read_leaf_file(path, ReadOptions(layout="table"))
    message = str(caught[0].message)
    assert "dropped 7 of 10 rows" in message
    assert "non-finite A: 2 (lines 5, 6)" in message
    assert "non-finite Ci: 1 (lines 10)" in message
    assert "|A| > 80 umol m-2 s-1: 2 (lines 3, 9)" in message
    assert "Ci < 0: 1 (lines 4)" in message
    assert "Tleaf outside [-10, 60] degC: 1 (lines 7)" in message
    assert "curves left without rows: b" in message
    assert leaf.report.n_dropped == 7 and leaf.report.rows_read == 10
    # a missing conductance does not drop the row (gsw is an observation, NaN allowed)
    assert leaf.table["curve"].tolist() == ["a", "a", "c"]
    assert np.isnan(leaf.table["gsw"].iloc[1])
    ds = files_to_dataset([leaf])
    assert ds.sizes["curve"] == 2 and ds.attrs["rows_dropped"] == 7 and "dropped 7 of 10" in ds.attrs["dropped_rows"]


LI6400 = """\
"OPEN 6.2.4"
"Thr Aug 16 2012 09:54:34"
"Unit=","PSC-3184"
"Remark=","09:54:46 leaf 1"
"$STARTOFDATA$"
"Obs"\t"HHMMSS"\t"FTime"\t"Photo"\t"Cond"\t"Ci"\t"VpdL"\t"Tleaf"\t"CO2S"\t"RH_S"\t"PARi"\t"Press"
"in"\t"in"\t"out"\t"out"\t"out"\t"out"\t"out"\t"in"\t"in"\t"in"\t"in"\t"in"
"09:57:17 Launched AutoProg /User/Configs/AutoProgs/A-CiCurve"
1\t"09:57:45"\t112.5\t14.3\t0.196\t258\t1.8\t25.1\t399.2\t61.2\t1800\t97.3
2\t"09:59:45"\t232.5\t9.1\t0.201\t180\t1.7\t25.2\t300.1\t61.0\t1800\t97.3
"10:01:02 Stability: Photo_cv < 1"
3\t"10:01:45"\t352.5\t120.0\t0.199\t110\t1.7\t25.2\t200.0\t61.4\t1800\t97.3
4\t"10:03:45"\t472.5\t-0.8\t0.205\t45\t1.8\t25.1\t50.3\t60.9\t1800\t97.3
"""

LI6800 = """\
[Header]
File opened\t2019-12-11 09:15:10
Console s/n\t68C-511196
Chamber type\t6800-01A
[Data]
SysObs\tSysObs\tGasEx\tGasEx\tGasEx\tGasEx\tGasEx\tGasEx\tLeafQ\tMeas\tMeas
obs\telapsed\tA\tCa\tCi\tgsw\tgbw\tVPDleaf\tQin\tPa\tTleaf
\ts\tµmol m⁻² s⁻¹\tµmol mol⁻¹\tµmol mol⁻¹\tmol m⁻² s⁻¹\tmol m⁻² s⁻¹\tkPa\tµmol m⁻² s⁻¹\tkPa\t°C
1\t0\t12.78\t395.0\t339.0\t0.4598\t2.53\t1.12\t1500.0\t84.91\t17.49
2\t150.5\t12.22\t286.1\t239.8\t0.5244\t2.53\t1.07\t1500.0\t84.91\t17.50
09:05:44\tFlr: dark pulse
3\t301.4\t8.55\t195.3\t163.1\t0.5257\t2.53\t1.07\t1500.0\t84.91\t17.50
"""


def test_li6400_text_export(tmp_path: Path) -> None:
    path = tmp_path / "li6400.txt"
    path.write_text(LI6400, encoding="latin-1")
    with pytest.warns(DroppedRowsWarning, match=r"\|A\| > 80 umol m-2 s-1: 1 \(lines 12\)"):
        leaf = read_leaf_file(path)
    assert leaf.report.remarks == 2 and leaf.report.header_rows == 2 and leaf.report.rows_read == 4
    t = leaf.table
    assert t["A"].tolist() == [14.3, 9.1, -0.8] and t["Ci"].tolist() == [258.0, 180.0, 45.0]
    assert t["Ca"].tolist() == [399.2, 300.1, 50.3] and t["Patm"].tolist() == [97.3] * 3
    assert t["RH"].tolist() == [61.2, 61.0, 60.9] and t["VPD"].tolist() == [1.8, 1.7, 1.8]
    assert t["curve"].unique().tolist() == ["li6400"]
    assert any("no curve id column" in n for n in leaf.notes)


def test_li6800_text_export(tmp_path: Path) -> None:
    path = tmp_path / "li6800.txt"
    path.write_text(LI6800, encoding="utf-8")
    leaf = read_leaf_file(path)
    assert leaf.report.header_rows == 2 and leaf.report.remarks == 1 and leaf.report.n_dropped == 0
    t = leaf.table
    assert t["A"].tolist() == [12.78, 12.22, 8.55] and t["gbw"].tolist() == [2.53] * 3
    assert t["Patm"].tolist() == [84.91] * 3 and t["source_line"].tolist() == [9, 10, 12]


def test_unit_conversions_and_column_overrides(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id;A_corr;Photo;Ci;Tleaf;PPFD;Patm;O2\nx;10;99;200;25;1500;97300;2\nx;12;99;300;25;1500;97300;2\n")
    leaf = read_leaf_file(path, ReadOptions(layout="table", columns={"A": "A_corr"}, curve_columns=("id",)))
    assert leaf.table["A"].tolist() == [10.0, 12.0]  # not the Photo column
    assert leaf.table["Patm"].tolist() == [97.3, 97.3] and leaf.table["O2"].tolist() == [20.0, 20.0]
    assert any("read as Pa" in n for n in leaf.notes) and any("read as %" in n for n in leaf.notes)
    with pytest.raises(DataImportError, match=r"line 1: no net assimilation column \(nope\)"):
        read_leaf_file(path, ReadOptions(layout="table", columns={"A": "nope"}))
    with pytest.raises(DataImportError, match="curve column 'Leaf' not found"):
        read_leaf_file(path, ReadOptions(layout="table", curve_columns=("Leaf",)))
    with pytest.raises(ValueError, match="COLUMN:STEP"):
        ReadOptions(split_on=("Tleaf",))


def test_files_without_a_header_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    path.write_text("x,y,z\n1,2,3\n")
    with pytest.raises(DataImportError, match="no header row found"):
        read_leaf_file(path)
    with pytest.raises(FileNotFoundError):
        read_leaf_file(tmp_path / "missing.csv")


@pytest.fixture
def delta_cli() -> click.Group:
    """The root CLI with delta-photosynth's commands added (as the plugin hook does)."""
    plugin.delta_commands(cli=cli)
    return cli


@pytest.mark.shared_data
def test_import_commands(delta_cli: click.Group, leaf_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "many.zarr"
    result = runner.invoke(delta_cli, ["data", "import", "leaf-csv", str(leaf_dir / "plantecophys/manyacidat.csv"),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 28 curves x 14 rows (390 measured), 0 rows dropped" in result.output
    assert open_canonical(out).sizes["curve"] == 28
    again = runner.invoke(delta_cli, ["data", "import", "leaf-csv", str(leaf_dir / "plantecophys/manyacidat.csv"),
                                      "--out", str(out)])
    assert again.exit_code == 1 and "exists; pass --overwrite" in again.output
    sorghum = tmp_path / "c4.zarr"
    result = runner.invoke(delta_cli, ["data", "import", "licor", str(leaf_dir / "photogea/c4_aci_sorghum.csv"),
                                       "--curve-column", "instrument", "--curve-column", "species", "--curve-column",
                                       "plot", "--split-on", "time:3600", "--out", str(sorghum)])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "Ci < 0: 1 (lines 264)" in result.output
    assert "22 curves x 16 rows (327 measured), 1 rows dropped" in result.output
    ds = open_canonical(sorghum)
    assert ds.attrs["rows_dropped"] == 1 and set(ds["species"].values.tolist()) == {"sorghum", "maize"}
    bad = runner.invoke(delta_cli, ["data", "import", "licor", str(leaf_dir / "photogea/c4_aci_sorghum.csv"),
                                    "--split-on", "time", "--out", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "COLUMN:STEP" in bad.output


@pytest.mark.shared_data
def test_real_command_line_does_not_import_torch(leaf_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.zarr"
    code = ("import sys\nfrom delta_core.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    code = e.code\nprint('TORCH_IMPORTED=%s' % ('torch' in sys.modules), file=sys.stderr)\nsys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, "data", "import", "licor",
                           str(leaf_dir / "plantecophys/acidata1.csv"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert "1 curves x 10 rows (10 measured)" in proc.stdout
    assert "TORCH_IMPORTED=False" in proc.stderr
