"""``delta data synth photosynth``: write synthetic leaf curves to a Zarr store."""

from __future__ import annotations

import importlib
from pathlib import Path

import click


@click.command("photosynth")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Target .zarr directory.")
@click.option("--curves", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of leaves (entities), each an A/Ci + light + temperature sequence.")
@click.option("--noise", type=click.FloatRange(0, 0.5), default=0.025, show_default=True,
              help="Relative standard deviation of the error of A.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
def synth_photosynth(out: Path, curves: int, noise: float, seed: int, overwrite: bool) -> None:
    """Generate leaf curves from known FvCB parameters (true_Vcmax25, true_Jmax25, true_Rd25,
    true_TPU25 stored per curve) with instrument-like noise; deterministic under --seed."""
    import time

    from delta_core.data.canonical import write_canonical
    from delta_photosynth.synthetic.config import SyntheticLeafConfig

    # Resolved by name: the generator imports torch, which the CLI modules must not import statically.
    generate = importlib.import_module("delta_photosynth.synthetic.generator").generate
    t0 = time.perf_counter()
    config = SyntheticLeafConfig(curves=curves, noise=noise, seed=seed)
    try:
        ds = generate(config)
        write_canonical(ds, out, overwrite=overwrite)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    seconds = time.perf_counter() - t0
    click.echo(f"{out}: {curves} synthetic leaves x {ds.sizes['time']} rows written in {seconds:.1f} s")
