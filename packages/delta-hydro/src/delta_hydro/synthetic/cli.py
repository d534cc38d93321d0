"""``delta data synth hydro``: write the synthetic hydrology dataset to a Zarr store."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("hydro")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Target .zarr directory.")
@click.option("--basins", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--years", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--start", default="1990-01-01", show_default=True, help="First day (ISO date).")
@click.option("--variant", type=click.Choice(["1.0", "1.1p", "2.0"]), default="1.1p", show_default=True,
              help="HBV variant that produces the true flow.")
@click.option("--noise", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Std of the log-normal observation error of flow.")
@click.option("--missing", type=click.FloatRange(0, 0.5), default=0.02, show_default=True,
              help="Share of flow observations removed at random.")
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
def synth_hydro(out: Path, basins: int, years: int, seed: int, start: str, variant: str, noise: float,
                missing: float, overwrite: bool) -> None:
    """Generate basins, weather, true HBV parameters and noisy flow (deterministic under --seed)."""
    import time

    from delta_core.data.canonical import write_canonical
    from delta_hydro.synthetic.config import SyntheticConfig
    from delta_hydro.synthetic.generator import generate

    t0 = time.perf_counter()
    config = SyntheticConfig(basins=basins, years=years, seed=seed, start=start, variant=variant, noise=noise,
                             missing=missing)
    try:
        write_canonical(generate(config), out, overwrite=overwrite)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{out}: {basins} basins x {years} years written in {time.perf_counter() - t0:.1f} s")
