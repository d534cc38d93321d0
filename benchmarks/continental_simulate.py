"""Benchmark: continental-scale inference with bounded memory, and a killed-then-resumed run.

1. Trains a small δHBV run (the ``hydro.hbv`` preset at reduced size) once.
2. Writes synthetic forcing + attribute stores of N basins × 2 years (1 warm-up year +
   1 simulated year), generated chunk by chunk so building them is memory-bounded too.
3. ``delta simulate RUN --data STORE --out OUT --chunk C`` for N = 10,000 and 100,000 in
   separate processes: wall time, basins per second and peak RSS (VmHWM). Peak RSS must
   not grow with N beyond the chunk size (ratio printed).
4. Kills a simulation half-way (SIGKILL once half of its chunks are marked done),
   restarts it, and checks the output is identical to an uninterrupted run.

    python benchmarks/continental_simulate.py [--sizes 10000 100000 --chunk 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DELTA = str(Path(sys.executable).with_name("delta"))
ATTRS = ("aridity", "elevation", "area", "soil_index", "forest_frac", "T_mean", "latitude", "frac_snow",
         "P_mean", "PET_mean")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_store(path: Path, n: int, chunk: int, seed: int = 1) -> None:
    """Forcing P, T, PET and the preset's attributes for ``n`` basins, written chunk by chunk."""
    import pandas as pd
    import xarray as xr
    import zarr

    from delta_hydro.synthetic.attributes import draw_attributes
    from delta_hydro.synthetic.weather import generate_weather

    times = pd.date_range("1999-01-01", "2000-12-31", freq="D")
    ids = np.array([f"c{i:07d}" for i in range(n)])
    units = {"P": "mm/day", "T": "degC", "PET": "mm/day"}
    coords = {"basin": ("basin", ids, {"long_name": "basin id"}),
              "time": ("time", times.values.astype("datetime64[ns]"), {"long_name": "time"})}
    xr.Dataset(coords=coords, attrs={"entity_dim": "basin", "delta_format": "deltamod-canonical/1"}).to_zarr(
        path, mode="w", zarr_format=2, consolidated=False)
    root = zarr.open_group(str(path), mode="r+")
    arrays = {}
    for name in ("P", "T", "PET"):
        arrays[name] = root.create(name, shape=(n, times.size), chunks=(min(chunk, n), 730), dtype="float32",
                                   fill_value=np.nan)
        arrays[name].attrs.update({"_ARRAY_DIMENSIONS": ["basin", "time"], "units": units[name], "long_name": name})
    for name in ATTRS:
        arrays[name] = root.create(name, shape=(n,), chunks=(min(chunk, n),), dtype="float32", fill_value=np.nan)
        arrays[name].attrs.update({"_ARRAY_DIMENSIONS": ["basin"], "units": "1", "long_name": name})
    rng = np.random.default_rng(seed)
    doy = times.day_of_year.values.astype(np.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        attrs = draw_attributes(stop - start, rng)
        weather = generate_weather(attrs, doy, rng)
        p, t = weather["P"], weather["T"]
        derived = {"frac_snow": np.where(t < 0, p, 0).sum(0) / np.maximum(p.sum(0), 1e-9), "P_mean": p.mean(0),
                   "PET_mean": weather["PET"].mean(0)}
        for name in ("P", "T", "PET"):
            arrays[name][start:stop] = weather[name].T.astype(np.float32)
        for name in ATTRS:
            arrays[name][start:stop] = (attrs.get(name) if name in attrs else derived[name]).astype(np.float32)
    zarr.consolidate_metadata(str(path))


def child_simulate(run: Path, data: Path, out: Path, chunk: int) -> None:
    """Run in a fresh process: simulate and print wall time and peak RSS as JSON."""
    from delta_core.evaluation.write import simulate_run
    from delta_core.plugins.manager import get_registry

    t0 = time.perf_counter()
    summary = simulate_run(run, get_registry(), out, data=data, start="2000-01-01", end="2000-12-31",
                           checkpoint="last", chunk_size=chunk, overwrite=False)
    print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(),
                      "entities": summary.n_entities}))


def run_child(run: Path, data: Path, out: Path, chunk: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(run), str(data), str(out), str(chunk)]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "deltamod-continental")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run, data, out, chunk = args.child
        child_simulate(Path(run), Path(data), Path(out), int(chunk))
        return
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    run = work / "run"
    if not (run / "checkpoints/last.pt").exists():
        subprocess.run([DELTA, "train", "--plugin", "hydro.hbv", "--run-dir", str(run),
                        "--set", "data.params.generator.basins=20", "--set", "data.params.generator.years=6",
                        "--set", "train.params.epochs=2", "--set", "train.params.validate_every=0",
                        "--set", "periods.train=[1991-01-01, 1994-12-31]", "--set", "periods.valid=null",
                        "--set", "periods.test=null"],
                       check=True, env={**os.environ, "DELTA_CACHE_DIR": str(work / "cache")},
                       stdout=subprocess.DEVNULL)
    results = {}
    for n in args.sizes:
        store = work / f"forcing_{n}.zarr"
        if not store.exists():
            t0 = time.perf_counter()
            build_store(store, n, args.chunk)
            print(f"built {store} ({n} basins x 2 years) in {time.perf_counter() - t0:.1f} s")
        out = work / f"sim_{n}.zarr"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        results[n] = run_child(run, store, out, args.chunk)
    print(f"delta simulate, 1 simulated year after 1 warm-up year, HBV 1.1p nmul 4 + MLP, chunk {args.chunk}")
    print(f"{'basins':>10}{'seconds':>10}{'basins/s':>12}{'peak RSS MB':>14}")
    for n, r in results.items():
        print(f"{n:>10}{r['seconds']:>10.1f}{n / r['seconds']:>12.0f}{r['peak_rss_mb']:>14.0f}")
    sizes = sorted(results)
    if len(sizes) > 1:
        lo, hi = results[sizes[0]], results[sizes[-1]]
        print(f"ratio {sizes[-1]} / {sizes[0]} basins: peak RSS {hi['peak_rss_mb'] / lo['peak_rss_mb']:.2f}x "
              f"for {sizes[-1] / sizes[0]:.0f}x the basins")

    # kill half-way, restart, compare with the uninterrupted output
    import xarray as xr

    n = sizes[0]
    store, reference = work / f"forcing_{n}.zarr", work / f"sim_{n}.zarr"
    out = work / f"sim_{n}_killed.zarr"
    partial = out.with_name(f".{out.name}.partial")
    for path in (out, partial):
        if path.exists():
            import shutil

            shutil.rmtree(path)
    n_chunks = -(-n // args.chunk)
    cmd = [sys.executable, __file__, "--child", str(run), str(store), str(out), str(args.chunk)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_dir = partial / ".chunks_done"
    while proc.poll() is None:
        if done_dir.is_dir() and len(list(done_dir.iterdir())) >= n_chunks // 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    written = len(list(done_dir.iterdir())) if done_dir.is_dir() else 0
    resumed = run_child(run, store, out, args.chunk)
    a, b = xr.open_zarr(out).load(), xr.open_zarr(reference).load()
    # values, coordinates and variable attributes; the global `history` stamp differs by design
    same = a.equals(b) and all(a[v].attrs == b[v].attrs for v in a.variables) and (
        {k: v for k, v in a.attrs.items() if k != "history"} == {k: v for k, v in b.attrs.items() if k != "history"})
    print(f"killed after {written}/{n_chunks} chunks, restarted: {resumed['seconds']:.1f} s for the rest; "
          f"output identical to the uninterrupted run (except the history timestamp): {same}")


if __name__ == "__main__":
    main()
