"""``delta data import camels-us``: the command (click only at module level; the importer loads on use)."""

from __future__ import annotations

import importlib
from pathlib import Path

import click


def read_basin_list(value: str) -> list[str]:
    """Basin ids from ``--basins``: a file of ids (whitespace/comma separated, ``#`` comments) or ``id,id,...``.

    Raises
    ------
    click.BadParameter
        A file name that does not exist, or an empty list.
    """
    path = Path(value)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        ids = [tok for line in text.splitlines() for tok in line.split("#", 1)[0].replace(",", " ").split()]
        if not ids:
            raise click.BadParameter(f"{path}: the basin list file holds no ids", param_hint="--basins")
        return ids
    if path.suffix in {".txt", ".csv", ".lst"} or "/" in value or "\\" in value:
        raise click.BadParameter(f"{path}: basin list file not found", param_hint="--basins")
    ids = [tok.strip() for tok in value.split(",") if tok.strip()]
    if not ids:
        raise click.BadParameter("no basin ids given", param_hint="--basins")
    return ids


@click.command("camels-us")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output Zarr store (X.zarr).")
@click.option("--forcing", type=click.Choice(["daymet", "nldas", "maurer"]), default="daymet", show_default=True,
              help="Forcing product (basin_mean_forcing/<product>).")
@click.option("--basins", metavar="FILE|ID,ID,...",
              help="Basins to import: a file of gauge ids, or comma-separated ids (default: all with forcing).")
@click.option("--pet", type=click.Choice(["auto", "hargreaves", "priestley-taylor"]), default="auto",
              show_default=True,
              help="PET method for basins with a forcing file (auto: Hargreaves unless tmin equals tmax).")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def camels_us_command(src: Path, out: Path, forcing: str, basins: str | None, pet: str, overwrite: bool) -> None:
    """Import CAMELS-US from SRC (the folder holding basin_mean_forcing/, usgs_streamflow/,
    model_output/ and camels_attributes_v2.0/) into a canonical Zarr store.

    Variables: P, T, tmin, tmax, PET, srad, vp, dayl, swe, Q (mm/day), Q_sacsma (SAC-SMA
    benchmark), basin latitude/elevation/area, the CAMELS attributes, and per basin where
    each came from (forcing_source, pet_method, q_source, area_source).
    """
    from delta_core.cli.data_cmd import written_message
    from delta_core.data.canonical import DataFormatError, write_canonical
    from delta_core.data.importers import DataImportError

    # Resolved by name, like registry components: the importer uses delta_hydro.pet, whose
    # torch import happens only for tensor inputs (never here; a test runs this command and
    # checks that torch stays unimported), but a static import would tie this CLI module
    # to torch in the import-linter contract.
    import_camels_us = importlib.import_module("delta_hydro.camels.importer").import_camels_us

    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} exists; pass --overwrite to replace it")
    ids = read_basin_list(basins) if basins is not None else None
    try:
        ds = import_camels_us(src, forcing=forcing, basins=ids, pet=pet)
        write_canonical(ds, out, overwrite=overwrite)
    except (FileNotFoundError, FileExistsError, DataImportError, DataFormatError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(written_message(out, ds))
