"""``delta simulate``: every output, final state and learned parameter of a trained run, as Zarr."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from delta_core.cli.common import registry


def _date(value: dt.datetime | None) -> str | None:
    return None if value is None else value.date().isoformat()


@click.command("simulate")
@click.argument("run", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Zarr store to write (e.g. sim.zarr).")
@click.option("--data", type=click.Path(path_type=Path, exists=True),
              help="Canonical store to simulate, read with the run's variables and normalisation "
                   "(every entity of it). Default: the run's own dataset.")
@click.option("--period", help="train, valid or test of the run's config, or all. "
                               "Default: all (every day after the warm-up).")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day of a custom period.")
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day of a custom period.")
@click.option("--checkpoint", default="best", show_default=True, help="best, last, or an epoch number.")
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1),
              help="Entities per forward pass and write (default: the run's train.params.eval_chunk).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out store.")
def simulate_command(
    run: Path, out: Path, data: Path | None, period: str | None, start: dt.datetime | None,
    end: dt.datetime | None, checkpoint: str, chunk_size: int | None, device: str, overwrite: bool,
) -> None:
    """Run the trained model of RUN over a whole period and write a Zarr store.

    The store holds every output of the PhyModel ([entity, time] series and
    [entity] values), the final states and the learned parameters in physical
    units, each with CF units and long_name attributes. The root group is a
    canonical dataset (`delta data check` accepts it; parameters and states are
    averaged over components there); the group `components` holds static
    parameters and final states per component [entity, component] and dynamic
    parameters [entity, time, component]. Entities are simulated in chunks of
    --chunk, so memory is bounded by one chunk; the store is renamed into place
    only when complete. Example:

    \b
      delta simulate runs/dhbv-synthetic-20250101-120000 --data camels.zarr --period test --out sim.zarr
    """
    from delta_core.evaluation.write import USER_ERRORS, simulate_run  # deferred: imports torch

    if period is not None and (start is not None or end is not None):
        raise click.UsageError("give either --period or --start/--end, not both")
    try:
        summary = simulate_run(
            run, registry(), out, data=data, period=period, start=_date(start), end=_date(end),
            checkpoint=checkpoint, chunk_size=chunk_size, device=device, overwrite=overwrite, progress=True,
        )
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())
