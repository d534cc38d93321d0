"""Compiled HBV time loops with hand-written adjoints (issue 6).

Backends of :mod:`delta_hydro.hbv.backends` that run the whole HBV time loop of
:mod:`delta_hydro.hbv.reference` in compiled code, with the same results forward and
backward (to rounding), selected by ``HBVConfig(backend=...)``:

``"cpp"``
    :data:`time_loop`: a C++ extension (``hbv_cpu.cpp``), float32 and float64 CPU
    tensors, threaded over basins with ``at::parallel_for`` (follows
    ``torch.set_num_threads``). Compiled on first use into deltamod's cache
    (:mod:`.loader`); if it cannot be built or loaded, one
    :class:`HBVKernelWarning` is issued and the reference loop runs instead.
``"auto"``
    the fastest backend that loads and supports the inputs (``cpp`` for CPU tensors,
    else ``reference``); see :func:`delta_hydro.hbv.backends.load_backend`.

Design (see ``hbv_step.h`` for the equations, ``hbv_cpu.cpp`` for the loops):

* **One step, two directions, one header.** ``hbv_step.h`` holds the forward step
  (the reference's operations, in the reference's evaluation order) and its discrete
  adjoint (Griewank & Walther 2008, *Evaluating Derivatives*, 2nd ed., SIAM), with
  PyTorch's subgradients at every kink (``clamp`` passes the gradient at the bound,
  ``minimum`` splits it at a tie, ``pow`` as torch). Model: Bergström (1992);
  Seibert & Vis (2012, HESS 16:3315); Feng et al. (2022, WRR 58:e2022WR032404);
  Song et al. (2024, HESS; 2025, WRR doi:10.1029/2024WR038928).
* **Store the storages and the powers, recompute the rest.** The forward pass saves
  per step and component the five storages and the two powers ``(SM/FC)^BETA``,
  ``(SM/(LP FC))^BETAET`` with their bases' logs (36 bytes in float32 with BETAET);
  the backward pass recomputes the remaining intermediates, which are cheap
  arithmetic. The powers are the expensive part of a step, so they are stored rather
  than recomputed; the states are stored rather than checkpointed, because
  recomputing them would mean a second forward pass. Trajectory rows are written
  with non-temporal stores and read back with software prefetch.
* **Vectorized, branch-free steps.** The step is written with selects instead of
  branches and its powers and logs with straight-line arithmetic (``hbv_math.h``),
  so that the compiler vectorizes the loop over a block's components (16 float32
  lanes with AVX-512). Compiled with ``-march=native`` for the machine it runs on
  (the build directory is keyed by the CPU's instruction-set flags).
* **Layout and threads.** Parameters are passed as ``[basin * nmul]`` (static) or
  ``[T, basin * nmul]`` (dynamic) contiguous vectors, forcing as ``[T, basin, 3]``;
  each thread (``at::parallel_for`` over basins, following
  ``torch.set_num_threads``) runs blocks of whole basins (about 256 components)
  through the whole window, so that the flux means and forcing gradients of a basin
  need no atomics and results do not depend on the thread count.
* **Buffers are reused.** The trajectory, outputs and gradients (hundreds of MB at
  531 basins × 730 days) come from a pool that keeps them between calls instead of
  having the system fault in and zero fresh pages at every training step; it never
  holds more than the most the operators have had in use at once.
  :func:`empty_cache` gives the memory back; :func:`pool_stats` reports it.
* **Routing** in compiled code too (``route_cpu.cpp``, :func:`compiled_route`): the
  causal unit-hydrograph convolution on the ``[n, time, entity]`` layout, vectorized
  over entities, with a backward pass that computes only the gradients needed; the
  ``cpp`` backend offers it as ``route`` and the model uses it (a grouped conv1d's
  backward cost ~15 ms at 531 basins × 730 days, more than a tenth of the step).
* **Only fluxes with a gradient are propagated.** Autograd passes zeros for recorded
  fluxes that do not reach the loss; the backward pass finds the rows that carry a
  gradient (usually streamflow alone) and broadcasts only those to the components.

Precision: float64 agrees with the reference to about 1e-14 relative; float32 uses
float arithmetic for the powers (within about 1 ulp near 1, see ``hbv_math.h``), so
float32 outputs differ from the reference's by float32 round-off (about 1e-6
relative), as two float32 implementations do.

A GPU version plugs in behind the same Python interface: a ``hbv_cuda.cu`` that
includes ``hbv_step.h`` and ``hbv_math.h`` (their functions are ``__host__ __device__``
under nvcc, and the powers use the device's ``pow``/``log``), runs one CUDA thread per
component (the time loop inside the thread, storages and adjoints in registers, the
trajectory written and read coalesced as ``[T, R, N]``), allocates with ``at::empty``
(torch's caching allocator already reuses device memory, so no pool), and registers
the same two operator schemas for the CUDA dispatch key
(``TORCH_LIBRARY_IMPL(delta_hbv, CUDA, m)``). The loader would add it to the sources
when ``torch.cuda.is_available()`` and a CUDA toolkit is found, and
:meth:`CompiledLoop.supports` would accept CUDA tensors; the autograd Function only
calls ``torch.ops.delta_hbv.*``, which dispatch on the tensors' device, so nothing
else changes. (A Triton or numba-cuda kernel would instead be another backend,
registered with ``register_backend(..., auto=True)`` so that ``auto`` tries it first
and its ``supports`` takes the CUDA inputs.)

Build ahead of first use (what the set-up script does)::

    python -c "from delta_hydro.hbv.kernels import build; build()"
"""

from __future__ import annotations

from delta_hydro.hbv.kernels.compiled import CompiledLoop, empty_cache, pool_stats, time_loop
from delta_hydro.hbv.kernels.loader import HBVKernelWarning, build, build_directory, is_available
from delta_hydro.hbv.kernels.routing import compiled_route

__all__ = [
    "CompiledLoop",
    "HBVKernelWarning",
    "build",
    "build_directory",
    "compiled_route",
    "empty_cache",
    "is_available",
    "pool_stats",
    "time_loop",
]
