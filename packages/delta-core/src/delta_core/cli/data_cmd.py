"""``delta data``: check and describe canonical datasets; plugins add importers and generators.

Plugins extend the subgroups ``delta data import`` and ``delta data synth`` through
the ``delta_commands`` hook (``cli.commands["data"].commands["import"]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.group("data")
def data_group() -> None:
    """Check, describe, import and generate datasets in the canonical format."""


@data_group.group("import")
def import_group() -> None:
    """Convert datasets from their native layout into a canonical Zarr store."""


@data_group.group("synth")
def synth_group() -> None:
    """Generate synthetic datasets with known truth."""


def _open(path: Path):  # type: ignore[no-untyped-def]
    from delta_core.data.canonical import DataFormatError, open_canonical

    try:
        return open_canonical(path, check=False)
    except (FileNotFoundError, DataFormatError) as exc:
        raise click.ClickException(str(exc)) from None


@data_group.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--require", multiple=True, metavar="VAR", help="A variable that must be present (repeatable).")
def check_command(path: Path, require: tuple[str, ...]) -> None:
    """Validate PATH against the canonical format and report every problem at once."""
    from delta_core.data.canonical import validate

    report = validate(_open(path), required=require)
    for name, frac in sorted(report.nan_fraction.items()):
        if frac > 0:
            click.echo(f"  {name}: {100 * frac:.2f} % missing")
    if report.problems:
        click.echo(f"{path}: {len(report.problems)} problems", err=True)
        for problem in report.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"{path}: valid")


@data_group.command("info")
@click.argument("path", type=click.Path(path_type=Path))
def info_command(path: Path) -> None:
    """Summarise PATH: entities, period, variables with units and share of NaN."""
    from delta_core.data.canonical import summary

    click.echo(summary(_open(path), str(path)))


@import_group.command("generic")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--mapping", "mapping_path", type=click.Path(path_type=Path),
              help="YAML mapping of columns to variables (see `delta_core.data.importers.generic`).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output Zarr store (X.zarr).")
@click.option("--entity-dim", metavar="NAME", help="Name of the entity dimension (default: the mapping's, or entity).")
@click.option("--pattern", help="File-name pattern with {id}, e.g. '{id}_daily.csv' (default '{id}.csv').")
@click.option("--format", "file_format", type=click.Choice(["csv", "netcdf"]), help="Format of the entity files.")
@click.option("--delimiter", help="CSV delimiter (one character, or 'whitespace').")
@click.option("--date-column", metavar="COLUMN", help="Column (CSV) or variable (NetCDF) holding the dates.")
@click.option("--date-format", metavar="FMT", help="strptime format of the dates, e.g. %d.%m.%Y (default ISO 8601).")
@click.option("--var", "variables", multiple=True, metavar="NAME=COLUMN:UNITS[:LONG_NAME]",
              help="A time-series variable (repeatable; adds to or replaces the mapping's).")
@click.option("--missing", multiple=True, metavar="VALUE", help="A value read as missing, e.g. -999 (repeatable).")
@click.option("--attributes", "attributes_file", metavar="FILE", help="CSV table of static attributes.")
@click.option("--id-column", metavar="COLUMN", help="Entity id column of the attributes table.")
@click.option("--attr", "attributes", multiple=True, metavar="NAME=COLUMN[:UNITS[:LONG_NAME]]",
              help="A static attribute (repeatable); without units it is read as a string.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def import_generic_command(src: Path, mapping_path: Path | None, out: Path, entity_dim: str | None,
                           pattern: str | None, file_format: str | None, delimiter: str | None,
                           date_column: str | None, date_format: str | None, variables: tuple[str, ...],
                           missing: tuple[str, ...], attributes_file: str | None, id_column: str | None,
                           attributes: tuple[str, ...], overwrite: bool) -> None:
    """Import SRC, a folder of per-entity CSV or NetCDF files plus an attributes table.

    Columns become variables as the YAML --mapping says, or as the --var/--attr options
    say (options override the mapping). Example:

    \b
      delta data import generic sites/ --pattern '{id}.csv' --var 'P=prcp:mm/day:precipitation' --out sites.zarr
    """
    from delta_core.data.canonical import DataFormatError, write_canonical
    from delta_core.data.importers import DataImportError
    from delta_core.data.importers.generic import apply_options, import_generic, load_mapping, parse_mapping

    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} exists; pass --overwrite to replace it")
    if mapping_path is None and not variables:
        raise click.UsageError("give --mapping FILE or at least one --var NAME=COLUMN:UNITS")
    try:
        data = load_mapping(mapping_path) if mapping_path is not None else {}
        data = apply_options(data, entity_dim=entity_dim, pattern=pattern, file_format=file_format,
                             delimiter=delimiter, date_column=date_column, date_format=date_format,
                             variables=variables, missing=missing, attributes_file=attributes_file,
                             id_column=id_column, attributes=attributes)
        mapping = parse_mapping(data, source=str(mapping_path) if mapping_path else "options")
        ds = import_generic(src, mapping)
        write_canonical(ds, out, overwrite=overwrite)
    except (FileNotFoundError, FileExistsError, DataImportError, DataFormatError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(written_message(out, ds))


def written_message(out: Path, ds: Any) -> str:
    """One line describing a dataset just written to ``out`` (used by importers' commands)."""
    edim = str(ds.attrs.get("entity_dim", "entity"))
    times = ds["time"].values
    return (f"wrote {out}: {ds.sizes[edim]} {edim} x {times.size} days "
            f"({str(times[0])[:10]} .. {str(times[-1])[:10]}), {len(ds.data_vars)} variables")
