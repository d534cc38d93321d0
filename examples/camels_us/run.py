"""δHBV on real CAMELS-US basins, compared with the CAMELS SAC-SMA benchmark.

Steps (each one a ``delta`` command, printed before it runs):

1. ``delta data import camels-us`` of the basins listed in ``dhbv_camels.yaml``
   (``data.params.entities``) from the shared CAMELS-US folder into a Zarr store
   (skipped when the store exists);
2. ``delta train dhbv_camels.yaml`` (train water years 1982-1995, WY1981 as warm-up);
3. ``delta test RUN`` on the test period, water years 1996-2010;
4. a table of per-basin test NSE of δHBV beside the NSE of the SAC-SMA benchmark
   simulation stored with the data (``Q_sacsma``, CAMELS seed 05), both against the
   same observed ``Q`` on the same days, with the medians and which one is higher.
   It is also written to ``RUN/test/nse_vs_sacsma.csv``.

Usage (from anywhere; paths default to this repository)::

    .venv/bin/python examples/camels_us/run.py
    .venv/bin/python examples/camels_us/run.py --camels /path/to/camels_us
    .venv/bin/python examples/camels_us/run.py --set train.params.epochs=2   # a quick try
    .venv/bin/python examples/camels_us/run.py --compare-only runs/camels-us-...  # table of a finished run

The CAMELS-US folder is looked for at ``<repo>/../shared/data/camels_us`` unless
``--camels`` is given; the script stops with a clear message when it is absent.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONFIG = HERE / "dhbv_camels.yaml"
DEFAULT_CAMELS = REPO.parent / "shared" / "data" / "camels_us"
DEFAULT_STORE = HERE / "data" / "camels_us.zarr"
CAMELS_PARTS = ("model_output", "camels_attributes_v2.0")


class ExampleError(RuntimeError):
    """A problem the user can fix (missing data, failed command); printed without a traceback."""


def delta(*args: str) -> None:
    """Run the ``delta`` command line of this interpreter's environment; stop on failure."""
    cmd = [sys.executable, "-m", "delta_core.cli", *args]
    print("$ delta " + " ".join(shlex.quote(a) for a in args), flush=True)
    rc = subprocess.call(cmd, cwd=REPO)
    if rc != 0:
        raise ExampleError(f"`delta {args[0]}` failed (exit status {rc}); see its message above")


def experiment_config() -> dict:
    import yaml

    with CONFIG.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def find_camels(path: Path | None) -> Path:
    """The CAMELS-US root, checked to hold what the import needs."""
    root = (path or DEFAULT_CAMELS).expanduser()
    how = "--camels" if path is not None else "the default location <repo>/../shared/data/camels_us"
    if not root.is_dir():
        raise ExampleError(
            f"CAMELS-US data not found at {root} ({how}). Pass --camels PATH, the CAMELS-US root holding "
            "basin_mean_forcing/, usgs_streamflow/, model_output/ and camels_attributes_v2.0/.")
    missing = [p for p in CAMELS_PARTS if not (root / p).is_dir()]
    if missing:
        raise ExampleError(f"{root} is not a complete CAMELS-US folder: {', '.join(missing)} missing ({how})")
    return root


def import_store(camels: Path, store: Path, basins: list[str]) -> None:
    if store.exists():
        print(f"using the existing store {store} (delete it to import again)", flush=True)
        return
    store.parent.mkdir(parents=True, exist_ok=True)
    delta("data", "import", "camels-us", str(camels), "--out", str(store), "--forcing", "daymet",
          "--basins", ",".join(basins))


def nse(sim: np.ndarray, obs: np.ndarray) -> float:
    """Nash-Sutcliffe efficiency over the days where both are finite."""
    ok = np.isfinite(sim) & np.isfinite(obs)
    if ok.sum() < 2:
        return math.nan
    s, o = sim[ok].astype(np.float64), obs[ok].astype(np.float64)
    return float(1.0 - np.sum((s - o) ** 2) / np.sum((o - o.mean()) ** 2))


def compare(run: Path) -> str:
    """Per-basin δHBV test NSE (from ``delta test``) beside SAC-SMA NSE on the same days.

    The store and the test period are those of the run's own ``config.yaml``.
    """
    import xarray as xr
    import yaml

    saved = run / "config.yaml"
    if not saved.is_file():
        raise ExampleError(f"{saved} not found: {run} is not a run directory")
    with saved.open(encoding="utf-8") as f:
        config = yaml.safe_load(f)
    store = Path(config["data"]["params"]["path"])
    store = store if store.is_absolute() else REPO / store
    test = config["periods"].get("test")
    if not test:
        raise ExampleError(f"{saved}: the run has no test period")
    period = (str(test[0]), str(test[1]))

    metrics = run / "test" / "metrics_test.csv"
    if not metrics.is_file():
        raise ExampleError(f"{metrics} not found: run `delta test {run}` first")
    with metrics.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    id_col = next(iter(rows[0]))
    dhbv = {r[id_col]: float(r["NSE"]) for r in rows}

    ds = xr.open_zarr(store).sel(time=slice(*period))
    days = ds.sizes["time"]
    lines, table = [], []
    lines.append(f"test period {period[0]} .. {period[1]} ({days} days); NSE against observed Q, each basin on "
                 "the days its Q is observed")
    lines.append(f"{'basin':<10}{'name':<26}{'days':>6}{'dHBV':>9}{'SAC-SMA':>9}  higher")
    names = ds["gauge_name"].values if "gauge_name" in ds else [""] * ds.sizes["basin"]
    pairs = []
    for i, basin in enumerate(str(b) for b in ds["basin"].values):
        if basin not in dhbv:
            continue
        q = ds["Q"].isel(basin=i).values
        observed = np.isfinite(q)
        sac = nse(ds["Q_sacsma"].isel(basin=i).values, q) if "Q_sacsma" in ds else math.nan
        if "Q_sacsma" in ds and np.isfinite(sac):
            gaps = int(np.sum(observed & ~np.isfinite(ds["Q_sacsma"].isel(basin=i).values)))
            if gaps:
                raise ExampleError(f"basin {basin}: Q_sacsma missing on {gaps} observed days; NSEs not comparable")
        ours = dhbv[basin]
        higher = "-" if not np.isfinite(sac) else ("dHBV" if ours > sac else "SAC-SMA")
        name = str(names[i])[:24]
        lines.append(f"{basin:<10}{name:<26}{int(observed.sum()):>6}{ours:>9.3f}"
                     f"{(f'{sac:.3f}' if np.isfinite(sac) else 'n/a'):>9}  {higher}")
        table.append((basin, int(observed.sum()), ours, sac, higher))
        if np.isfinite(sac):
            pairs.append((ours, sac))
    if pairs:
        ours_med = float(np.median([p[0] for p in pairs]))
        sac_med = float(np.median([p[1] for p in pairs]))
        winner = "dHBV" if ours_med > sac_med else "SAC-SMA"
        lines.append(f"{'median of the ' + str(len(pairs)) + ' basins with a SAC-SMA benchmark':<42}"
                     f"{ours_med:>9.3f}{sac_med:>9.3f}  {winner}")
        lines.append(f"dHBV is higher in {sum(o > s for o, s in pairs)} of {len(pairs)} basins")
    all_med = float(np.median([t[2] for t in table]))
    lines.append(f"dHBV median NSE over all {len(table)} basins: {all_med:.3f}")
    with (run / "test" / "nse_vs_sacsma.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["basin", "days", "NSE_dHBV", "NSE_SACSMA", "higher"])
        for basin, n, ours, sac, higher in table:
            w.writerow([basin, n, f"{ours:.6g}", "" if not np.isfinite(sac) else f"{sac:.6g}", higher])
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--camels", type=Path, help=f"CAMELS-US root (default: {DEFAULT_CAMELS})")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"Zarr store (default: {DEFAULT_STORE})")
    parser.add_argument("--run-dir", type=Path, help="run directory (default: <repo>/runs/camels-us-<UTC time>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra `delta train --set` override (repeatable)")
    parser.add_argument("--compare-only", type=Path, metavar="RUN",
                        help="only print the comparison table of a finished, tested run")
    args = parser.parse_args()

    config = experiment_config()
    store = args.store.resolve()
    try:
        if args.compare_only is not None:
            print(compare(args.compare_only.resolve()))
            return 0
        camels = find_camels(args.camels)
        t0 = time.perf_counter()
        import_store(camels, store, [str(b) for b in config["data"]["params"]["entities"]])
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        run = (args.run_dir or REPO / "runs" / f"camels-us-{stamp}").resolve()
        t1 = time.perf_counter()
        train_args = ["train", str(CONFIG), "--set", f"data.params.path={store}", "--run-dir", str(run)]
        for o in args.overrides:
            train_args += ["--set", o]
        delta(*train_args)
        t2 = time.perf_counter()
        delta("test", str(run), "--period", "test", "--checkpoint", "last")
        t3 = time.perf_counter()
        print()
        print(compare(run))
        print(f"\nwall time: import {t1 - t0:.0f} s, train {t2 - t1:.0f} s (with its own test report), "
              f"test {t3 - t2:.0f} s, total {t3 - t0:.0f} s; run directory {run}")
    except ExampleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
