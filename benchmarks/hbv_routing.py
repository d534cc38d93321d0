"""Benchmark of the compiled unit-hydrograph routing against the grouped-conv1d reference.

Times ``delta_hydro.hbv.routing.route`` (torch grouped ``conv1d``) and
``delta_hydro.hbv.kernels.routing.compiled_route`` (``route_cpu.cpp``) on the routing of
a δHBV training step: ``n`` series of ``T`` days for ``E`` basins with ``L``-day unit
hydrographs (default 4 × 730 × 531, L = 15, float32, one torch thread), in two passes:

* ``forward``: under ``torch.no_grad()``;
* ``fwd+bwd``: forward with autograd, then backward of ``y[0].mean()`` to both the
  series and the weights.

Each time is the median of ``--repeats`` runs after one warm-up run; ``speed-up`` is
reference time / compiled time. Before timing, the script checks that both give the
same routed series and gradients (float32 rounding).

Usage::

    .venv/bin/python benchmarks/hbv_routing.py
    .venv/bin/python benchmarks/hbv_routing.py --threads 0          # all of torch's threads
    .venv/bin/python benchmarks/hbv_routing.py --dtype float64 --repeats 21
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch

from delta_hydro.hbv.kernels import build_directory, is_available
from delta_hydro.hbv.kernels.routing import compiled_route
from delta_hydro.hbv.routing import gamma_unit_hydrograph, route
from hbv_reference import median_time  # the script's folder is on sys.path

Route = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_inputs(n: int, n_time: int, n_entity: int, n_lag: int, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """Runoff-like series (mm/day) and gamma unit hydrographs with random parameters."""
    gen = torch.Generator().manual_seed(0)
    series = (torch.rand(n, n_time, n_entity, generator=gen) * 10.0).to(dtype)
    a = torch.rand(n_entity, generator=gen) * 3.0
    b = torch.rand(n_entity, generator=gen) * 7.0
    weights = gamma_unit_hydrograph(a, b, n_lag).to(dtype)
    return series, weights


def run_forward(fn: Route, series: torch.Tensor, weights: torch.Tensor) -> None:
    with torch.no_grad():
        fn(series, weights)


def run_forward_backward(fn: Route, series: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
    y = fn(series, weights)
    return (y.detach(), *torch.autograd.grad(y[0].mean(), (series, weights)))


def check_agreement(series: torch.Tensor, weights: torch.Tensor) -> str:
    """Largest difference of output and gradients, relative to the reference's largest value."""
    ref = run_forward_backward(route, series, weights)
    got = run_forward_backward(compiled_route, series, weights)
    worst = max(float((g - r).abs().max() / r.abs().max()) for g, r in zip(got, ref, strict=True))
    return f"largest relative difference {worst:.1e} (output, grad series, grad weights)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4, help="series per basin (default 4)")
    parser.add_argument("--days", type=int, default=730, help="time steps T (default 730)")
    parser.add_argument("--basins", type=int, default=531, help="entities E (default 531)")
    parser.add_argument("--lags", type=int, default=15, help="unit-hydrograph length L (default 15)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per figure (median)")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if not is_available():
        raise SystemExit("the compiled library did not load (see the warning above); nothing to compare")
    print(f"compiled routing ready in {time.perf_counter() - t0:.1f} s ({build_directory()})")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"torch {torch.__version__}, {args.dtype}, {torch.get_num_threads()} thread(s); "
        f"n {args.n} x T {args.days} x E {args.basins}, L {args.lags}; median of {args.repeats} runs; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    dtype = getattr(torch, args.dtype)
    series, weights = make_inputs(args.n, args.days, args.basins, args.lags, dtype)
    leaves = (series.clone().requires_grad_(True), weights.clone().requires_grad_(True))
    print(f"agreement: {check_agreement(*leaves)}")

    header = f"{'pass':>8} {'conv1d ms':>10} {'compiled ms':>12} {'speed-up':>9}"
    print(header)
    print("-" * len(header))
    passes = {"forward": (run_forward, (series, weights)), "fwd+bwd": (run_forward_backward, leaves)}
    for name, (run, inputs) in passes.items():
        times = {
            fn: median_time(lambda fn=fn, run=run, inputs=inputs: run(fn, *inputs), args.repeats)
            for fn in (route, compiled_route)
        }
        ref, new = times[route], times[compiled_route]
        print(f"{name:>8} {ref * 1e3:10.2f} {new * 1e3:12.2f} {ref / new:8.1f}x", flush=True)


if __name__ == "__main__":
    main()
