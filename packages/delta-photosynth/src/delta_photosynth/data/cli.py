"""``delta data import licor`` and ``delta data import leaf-csv`` (no torch here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option("--out", required=True, type=click.Path(path_type=Path), help="Output Zarr store (X.zarr)."),
        click.option("--curve-column", "curve_columns", multiple=True, metavar="COLUMN",
                     help="Column identifying a curve (repeatable: values are joined with '_'); "
                          "default: the first of Curve, CurveID, curve, curve_id, ..."),
        click.option("--split-on", "split_on", multiple=True, metavar="COLUMN:STEP",
                     help="Start a new curve where COLUMN changes by more than STEP between consecutive rows "
                          "(repeatable), e.g. Tleaf:1 or Qin:10."),
        click.option("--column", "columns", multiple=True, metavar="NAME=COLUMN",
                     help="Read canonical variable NAME (A, gsw, Ci, Ca, Q, Tleaf, Patm, O2, VPD, RH, gbw) "
                          "from COLUMN instead of its aliases (repeatable)."),
        click.option("--attr", "attributes", multiple=True, metavar="COLUMN",
                     help="Keep COLUMN as a per-curve string attribute (repeatable; default: known group "
                          "columns such as treatment, species, plot that are constant within curves)."),
        click.option("--delimiter", metavar="CHAR", help="Field delimiter (default: detected; 'tab' for tabs)."),
        click.option("--overwrite", is_flag=True, help="Replace OUT if it exists."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(layout: str, files: tuple[Path, ...], out: Path, curve_columns: tuple[str, ...], split_on: tuple[str, ...],
         columns: tuple[str, ...], attributes: tuple[str, ...], delimiter: str | None, overwrite: bool) -> None:
    from delta_core.data.canonical import DataFormatError, write_canonical
    from delta_core.data.importers import DataImportError
    from delta_photosynth.data.canonical import files_to_dataset
    from delta_photosynth.data.readers import options_from_cli, read_leaf_files, summary_lines

    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} exists; pass --overwrite to replace it")
    try:
        options = options_from_cli(layout, columns, curve_columns, split_on, attributes, delimiter)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        read = read_leaf_files(files, options, warn=False)
        for f in read:
            if f.report.n_dropped:
                click.echo(f"warning: {f.report.message()}", err=True)
        ds = files_to_dataset(read)
        write_canonical(ds, out, overwrite=overwrite)
    except (FileNotFoundError, FileExistsError, DataImportError, DataFormatError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in summary_lines(read):
        click.echo(line)
    n_valid = int(ds["row_valid"].values.sum())
    click.echo(f"wrote {out}: {ds.sizes['curve']} curves x {ds.sizes['time']} rows ({n_valid} measured), "
               f"{int(ds.attrs['rows_dropped'])} rows dropped, variables "
               f"{', '.join(n for n in ds.data_vars if ds[n].dims == ('curve', 'time'))}")


@click.command("licor")
@_common_options
def licor_command(files: tuple[Path, ...], out: Path, curve_columns: tuple[str, ...], split_on: tuple[str, ...],
                  columns: tuple[str, ...], attributes: tuple[str, ...], delimiter: str | None,
                  overwrite: bool) -> None:
    """Import LI-COR LI-6400 / LI-6800 exports (text or CSV, with their header blocks and unit rows;
    PhotoGEA files with three header rows too) into a canonical store with one entity per curve.

    Rows are stored on the time axis as a synthetic daily coordinate (row k = 2000-01-01 + k days).
    Physically impossible rows (|A| > 80, Ci < 0, non-finite A/Ci/Q/Tleaf, ...) are dropped with a
    warning giving their count and lines. Example:

    \b
      delta data import licor A_Ci_T_data.csv --curve-column ID --split-on Tleaf:1 --out aci.zarr
    """
    _run("auto", files, out, curve_columns, split_on, columns, attributes, delimiter, overwrite)


@click.command("leaf-csv")
@_common_options
def leaf_csv_command(files: tuple[Path, ...], out: Path, curve_columns: tuple[str, ...], split_on: tuple[str, ...],
                     columns: tuple[str, ...], attributes: tuple[str, ...], delimiter: str | None,
                     overwrite: bool) -> None:
    """Import long CSV tables (first line = column names, one row per measurement; aliases such as
    Photo/A, Cond/gsw, PARi/Qin, Tleaf, Ci, CO2S/Ca, Patm and a curve id column Curve/CurveID)
    into a canonical store with one entity per curve. Example:

    \b
      delta data import leaf-csv manyacidat.csv --out manyacidat.zarr
    """
    _run("table", files, out, curve_columns, split_on, columns, attributes, delimiter, overwrite)
