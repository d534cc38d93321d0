"""Benchmark of the compiled HBV backend (``cpp``) against the reference backend.

Times HBV (by default variant 1.1p, nmul 16, BETA/K0/BETAET dynamic, float32; the setup of
``benchmarks/hbv_reference.py``, same synthetic inputs) with both backends at
100 basins × 365 days and 531 basins × 730 days, with one torch thread and with all
of them, at two levels:

* ``model``: the ``HBV`` PhyModel (input checks, the time loop, routing, output
  checks), as a training step calls it;
* ``loop``: the backend's time loop alone (``HBV`` hands it the same arguments), which
  is what the backend replaces.

and two passes:

* ``forward``: inference under ``torch.no_grad()``;
* ``fwd+bwd``: forward with autograd, then backward of ``mean(streamflow)`` (model) or
  ``mean(Q)`` (loop, unrouted) to every parameter.

Each time is the median of several runs after one warm-up run; ``speed-up`` is
reference time / cpp time; throughput is basins × days / seconds. Before timing, the
script checks that both backends give the same streamflow and gradients.

Peak memory (on by default; ``--no-memory`` skips it) is measured per level, backend,
size and pass in a fresh child process: the growth of the resident set (``VmHWM``
after resetting it through ``/proc/self/clear_refs``) during one run, above what the
inputs and the loaded model already hold (Linux/glibc; the child runs with a fixed
malloc mmap threshold so that freed memory does not stay resident unseen). The compiled kernel keeps its
large buffers for reuse between calls; the child empties that cache before the
measured run, so the figure is everything the run needs. Setting up the compiled
backend (a compile on first use, cached afterwards) is done before any timing.

Usage::

    .venv/bin/python benchmarks/hbv_kernel.py             # both sizes, 1 and all threads
    .venv/bin/python benchmarks/hbv_kernel.py --quick     # 100 × 365, 1 thread, no memory
    .venv/bin/python benchmarks/hbv_kernel.py --no-memory
    .venv/bin/python benchmarks/hbv_kernel.py --variant 1.0 --dynamic ''   # static δHBV 1.0

Machines shared with other jobs give noisy figures; the header prints the load
average so that a disturbed run can be recognised.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from hbv_reference import NMUL, make_inputs, median_time

# The model set-up; --variant/--dynamic change it (passed to the memory child processes
# through these environment variables).
VARIANT = os.environ.get("DELTA_BENCH_VARIANT", "1.1p")
DYNAMIC: tuple[str, ...] = tuple(
    name for name in os.environ.get("DELTA_BENCH_DYNAMIC", "BETA,K0,BETAET").split(",") if name
)
SIZES = ((100, 365), (531, 730))
BACKENDS = ("reference", "cpp")
PASSES = ("forward", "fwd+bwd")


def build_model(backend: str) -> HBV:
    """HBV ``VARIANT`` (1.1p by default), nmul 16, ``DYNAMIC`` parameters dynamic, on ``backend``."""
    return HBV(HBVConfig(variant=VARIANT, nmul=NMUL, dynamic=DYNAMIC, backend=backend))


def run_pass(model: HBV, forcing: torch.Tensor, params: dict[str, torch.Tensor], which: str) -> None:
    """One forward (no autograd) or one forward + backward of ``mean(streamflow)``."""
    if which == "forward":
        with torch.no_grad():
            model(forcing, params)
    else:
        leaves = [v for v in params.values() if v.requires_grad]
        loss = model(forcing, params).fluxes["streamflow"].mean()
        torch.autograd.grad(loss, leaves)


def run_loop_pass(model: HBV, forcing: torch.Tensor, params: dict[str, torch.Tensor], which: str) -> None:
    """The backend's time loop alone: forward, or forward + backward of ``mean(Q)``.

    Static parameters ``[B, nmul]`` and dynamic ones ``[T, B, nmul]`` go to the loop as
    ``HBV.forward`` passes them (1.1p derives nothing), from the initial storages.
    """
    physical = {k: v for k, v in params.items() if not k.startswith("route_")}
    static = {k: v for k, v in physical.items() if k not in model.dynamic_params}
    dynamic = {k: v for k, v in physical.items() if k in model.dynamic_params}
    states = model.initial_states(forcing.shape[1], dtype=forcing.dtype)
    loop = model._time_loop
    if which == "forward":
        with torch.no_grad():
            loop(forcing, static, dynamic, states, record=True)
    else:
        leaves = [v for v in physical.values() if v.requires_grad]
        q = loop(forcing, static, dynamic, states, record=True).fluxes["Q"]
        torch.autograd.grad(q.mean(), leaves)


LEVELS: dict[str, Callable[[HBV, torch.Tensor, dict[str, torch.Tensor], str], None]] = {
    "model": run_pass,
    "loop": run_loop_pass,
}


def check_agreement(n_basin: int, n_time: int) -> str:
    """Streamflow and gradients of both backends agree (float32 rounding); returns a summary.

    The gradients of the routing parameters are compared with a looser bound: in float32
    they are ill-conditioned whatever the implementation (the softmax of the unit
    hydrograph subtracts nearly equal weight gradients), and both backends differ from
    the float64 gradient by about 1e-3 of its largest value.
    """
    ref, cpp = build_model("reference"), build_model("cpp")
    forcing, params = make_inputs(ref, n_basin, n_time)
    results = []
    for model in (ref, cpp):
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        q = model(forcing, leaves).fluxes["streamflow"]
        grads = torch.autograd.grad(q.mean(), list(leaves.values()))
        results.append((q.detach(), dict(zip(leaves, grads, strict=True))))
    (q_ref, g_ref), (q_cpp, g_cpp) = results
    torch.testing.assert_close(q_cpp, q_ref, rtol=1e-4, atol=1e-5)
    worst = {"physics": 0.0, "routing": 0.0}
    for name, a in g_ref.items():
        scale = float(a.abs().max()) + 1e-30
        group = "routing" if name.startswith("route_") else "physics"
        worst[group] = max(worst[group], float((a - g_cpp[name]).abs().max()) / scale)
    for group, bound in (("physics", 1e-4), ("routing", 5e-3)):
        if worst[group] > bound:
            raise AssertionError(
                f"{group} gradients differ: max |cpp - reference| / max |reference| = {worst[group]:.2e} > {bound:g}"
            )
    q_err = float(((q_cpp - q_ref).abs() / (q_ref.abs() + 1e-5)).max())
    return (f"streamflow max rel diff {q_err:.1e}, gradients max diff / scale: physical parameters "
            f"{worst['physics']:.1e}, routing parameters {worst['routing']:.1e}")


def _rss_mib() -> float:
    with Path("/proc/self/statm").open() as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mib() -> float:
    with Path("/proc/self/status").open() as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_child(level: str, backend: str, n_basin: int, n_time: int, which: str, threads: int) -> None:
    """(Child process) print the peak resident-set growth (MiB) of one pass as JSON.

    A small run first loads everything lazily loaded (the compiled library, torch's
    kernels) so that the measured run counts only what the pass itself needs.
    """
    torch.set_num_threads(threads)
    model = build_model(backend)
    run = LEVELS[level]
    for size in ((3, 5), (n_basin, n_time)):
        forcing, params = make_inputs(model, *size)
        if which != "forward":
            params = {k: v.requires_grad_(True) for k, v in params.items()}
        if size != (n_basin, n_time):
            run(model, forcing, params, which)
            if backend == "cpp":
                from delta_hydro.hbv.kernels import empty_cache

                empty_cache()
    base = _rss_mib()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    run(model, forcing, params, which)
    print(json.dumps({"peak_mib": _hwm_mib() - base}))


def peak_memory(level: str, backend: str, n_basin: int, n_time: int, which: str, threads: int) -> float | None:
    """Peak memory (MiB) of one pass, measured in a fresh process; None where unsupported."""
    if not Path("/proc/self/clear_refs").exists():
        return None
    cmd = [sys.executable, __file__, "--memory-child", level, backend, str(n_basin), str(n_time), which,
           str(threads)]
    # A fixed mmap threshold makes glibc return every freed block above 64 KiB to the
    # system at once; with its default (adaptive) threshold, freed blocks of up to 32 MiB
    # stay resident and are reused unseen, hiding most of a pass's allocations.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"])


def main() -> None:
    global VARIANT, DYNAMIC
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 × 365 only, 1 thread, no memory")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure (median)")
    parser.add_argument("--ref-repeats", type=int, default=3, help="timed runs of the reference at 531 × 730")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--variant", default=VARIANT, help="HBV variant (default %(default)s)")
    parser.add_argument("--dynamic", default=",".join(DYNAMIC),
                        help="comma-separated dynamic parameters, '' for none (default %(default)s)")
    parser.add_argument("--memory-child", nargs=6, metavar=("LEVEL", "BACKEND", "B", "T", "PASS", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        level, backend, n_basin, n_time, which, threads = args.memory_child
        memory_child(level, backend, int(n_basin), int(n_time), which, int(threads))
        return

    VARIANT, DYNAMIC = args.variant, tuple(name for name in args.dynamic.split(",") if name)
    os.environ["DELTA_BENCH_VARIANT"], os.environ["DELTA_BENCH_DYNAMIC"] = VARIANT, ",".join(DYNAMIC)
    all_threads = torch.get_num_threads()
    thread_counts = (1,) if args.quick else tuple(sorted({1, all_threads}))
    sizes = SIZES[:1] if args.quick else SIZES
    measure_memory = not (args.quick or args.no_memory)

    from delta_hydro.hbv.kernels import build_directory, is_available

    t0 = time.perf_counter()
    if not is_available():
        raise SystemExit("the compiled backend did not load (see the warning above); nothing to compare")
    print(f"cpp kernel ready in {time.perf_counter() - t0:.1f} s ({build_directory()})")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"torch {torch.__version__}, float32, HBV {VARIANT}, nmul {NMUL}, dynamic {', '.join(DYNAMIC) or 'none'}; "
          f"median of {args.repeats} runs ({args.ref_repeats} for the reference at 531 x 730); "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for n_basin, n_time in sizes:
        print(f"agreement at {n_basin} x {n_time}: {check_agreement(n_basin, n_time)}")

    header = (f"{'level':>5} {'basins x days':>14} {'thr':>3} {'pass':>8} {'reference s':>12} {'cpp s':>9} "
              f"{'speed-up':>9} {'ref basin-steps/s':>18} {'cpp basin-steps/s':>18}")
    if measure_memory:
        header += f" {'ref peak MiB':>13} {'cpp peak MiB':>13}"
    print(header)
    print("-" * len(header))
    models = {backend: build_model(backend) for backend in BACKENDS}
    for level, run in LEVELS.items():
        for n_basin, n_time in sizes:
            forcing, params = make_inputs(models["reference"], n_basin, n_time)
            leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
            for threads in thread_counts:
                torch.set_num_threads(threads)
                for which in PASSES:
                    inputs = params if which == "forward" else leaves
                    times = {}
                    for backend in BACKENDS:
                        big = n_basin * n_time > 100_000
                        repeats = args.ref_repeats if (backend == "reference" and big) else args.repeats
                        times[backend] = median_time(
                            lambda b=backend, f=forcing, i=inputs, w=which, r=run: r(models[b], f, i, w), repeats
                        )
                    steps = n_basin * n_time
                    row = (f"{level:>5} {f'{n_basin} x {n_time}':>14} {threads:>3} {which:>8} "
                           f"{times['reference']:12.4f} {times['cpp']:9.4f} "
                           f"{times['reference'] / times['cpp']:8.1f}x "
                           f"{steps / times['reference']:18,.0f} {steps / times['cpp']:18,.0f}")
                    if measure_memory:
                        mem = {b: peak_memory(level, b, n_basin, n_time, which, threads) for b in BACKENDS}
                        row += "".join(f" {m:13.0f}" if m is not None else f" {'n/a':>13}" for m in mem.values())
                    print(row, flush=True)
    torch.set_num_threads(all_threads)


if __name__ == "__main__":
    main()
