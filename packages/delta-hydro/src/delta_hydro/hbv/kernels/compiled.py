"""The ``cpp`` backend: the fused HBV time loop as a :class:`torch.autograd.Function`.

The forward pass runs every step of the window in compiled code
(``torch.ops.delta_hbv.forward``) over a contiguous ``[basin * nmul]`` layout and keeps
what the backward pass needs: per step and component, the five storages at the start
of the step and the step's two powers with their bases' logs (a ``[T, 7 or 9,
basin * nmul]`` trajectory). The backward pass (``torch.ops.delta_hbv.backward``) walks
the window backwards, recomputes each step's remaining intermediates from these and
applies the step's discrete adjoint (``hbv_step.h``). The reference loop's autograd
graph holds dozens of tensors per step and thousands of nodes; here it is one node.

Gradients flow to the forcing, to every parameter (static ``[B, nmul]`` or dynamic
``[T, B, nmul]``), and to the initial storages, from every recorded flux and from the
final storages; they equal the reference loop's up to rounding, including PyTorch's
choice of subgradient at each min/max/clamp kink. Double backward is not supported
(the backward is not itself differentiable; ``once_differentiable`` says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.autograd.function import FunctionCtx, once_differentiable

from delta_hydro.hbv import reference, routing
from delta_hydro.hbv.kernels.loader import LOADER, ExtensionLoader
from delta_hydro.hbv.kernels.routing import compiled_route
from delta_hydro.hbv.reference import FLUX_NAMES, STATE_NAMES, LoopResult

PARAM_ORDER: tuple[str, ...] = (
    "BETA", "FC", "K0", "K1", "K2", "LP", "PERC", "UZL", "TT", "CFMAX", "CFR", "CWH", "BETAET", "C", "LF",
)
"""Parameter slots of the compiled operators (``hbv_step.h``'s ``Param`` enum)."""

REQUIRED: frozenset[str] = frozenset(PARAM_ORDER[:12])
OPTIONAL: tuple[str, ...] = PARAM_ORDER[12:]
DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)


class _FusedLoop(torch.autograd.Function):
    """Autograd wrapper of the two operators; inputs already in the kernel's layout."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx, forcing: torch.Tensor, states: torch.Tensor, nmul: int, *params: torch.Tensor | None
    ) -> tuple[torch.Tensor, ...]:
        fluxes, final, trajectory = torch.ops.delta_hbv.forward(
            forcing, _op_params(params, forcing), states, nmul, True, True
        )
        ctx.save_for_backward(forcing, trajectory, *params)
        ctx.nmul = nmul  # type: ignore[attr-defined]
        ctx.set_materialize_grads(False)
        # One output per flux (views of one buffer), so that fluxes that do not reach the
        # loss get no gradient at all instead of a zero-filled [K, T, E] stack.
        return (*fluxes.unbind(0), final)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        forcing, trajectory, *params = ctx.saved_tensors
        needs = ctx.needs_input_grad
        # needs: forcing, states, nmul, then the 15 parameters.
        flags = [int(needs[0]), *(int(n) for n in needs[3:]), int(needs[1])]
        empty = forcing.new_empty(0)
        *grad_fluxes, grad_final = grads
        g_forcing, g_params, g_states = torch.ops.delta_hbv.backward(
            forcing,
            _op_params(params, forcing),
            trajectory,
            [empty if g is None else g for g in grad_fluxes],
            empty if grad_final is None else grad_final.contiguous(),
            ctx.nmul,
            flags,
        )
        out_params = [
            g if (p is not None and need) else None for g, p, need in zip(g_params, params, needs[3:], strict=True)
        ]
        return (g_forcing if needs[0] else None, g_states if needs[1] else None, None, *out_params)


def _op_params(params: Sequence[torch.Tensor | None], like: torch.Tensor) -> list[torch.Tensor]:
    """Absent optional parameters as empty tensors, the operators' convention."""
    empty = like.new_empty(0)
    return [empty if p is None else p for p in params]


class CompiledLoop:
    """The ``cpp`` backend's time loop (see :mod:`delta_hydro.hbv.backends` for the contract).

    Parameters
    ----------
    loader
        Loads the compiled library (:data:`delta_hydro.hbv.kernels.loader.LOADER`).
        When it cannot, every call runs :func:`delta_hydro.hbv.reference.time_loop`
        instead, after one :class:`~delta_hydro.hbv.kernels.loader.HBVKernelWarning`.
    """

    def __init__(self, loader: ExtensionLoader = LOADER) -> None:
        self.loader = loader

    def __reduce__(self) -> str:
        # Copies and pickles (of a model holding this loop) refer to the process-wide
        # backend object instead of duplicating its loader (which holds a lock).
        return "time_loop"

    def is_available(self) -> bool:
        """Whether the compiled kernel loads (compiles it on first call)."""
        return self.loader.load()

    def supports(self, forcing: torch.Tensor) -> bool:
        """Inputs the compiled kernel runs: float32/float64 CPU tensors."""
        return forcing.device.type == "cpu" and forcing.dtype in DTYPES

    def route(self, series: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Unit-hydrograph routing in compiled code (:func:`.routing.compiled_route`).

        Same arguments and result as :func:`delta_hydro.hbv.routing.route`: ``series``
        ``[time, entity]`` or ``[n, time, entity]`` (mm/day), ``weights`` ``[L, entity]``.
        Where this backend's library did not load, the torch routing runs, as the time
        loop falls back to the reference one.
        """
        if not self.loader.load():
            return routing.route(series, weights)
        return compiled_route(series, weights)

    def __call__(
        self,
        forcing: torch.Tensor,
        static: Mapping[str, torch.Tensor],
        dynamic: Mapping[str, torch.Tensor],
        states: Mapping[str, torch.Tensor],
        *,
        record: bool = True,
    ) -> LoopResult:
        """Run the loop; same arguments and result as :func:`delta_hydro.hbv.reference.time_loop`."""
        if not self.loader.load():
            return reference.time_loop(forcing, static, dynamic, states, record=record)
        if not self.supports(forcing):
            raise ValueError(
                f"HBV backend 'cpp' runs float32/float64 CPU tensors, got {forcing.dtype} on {forcing.device}; "
                "use backend 'auto' (picks a backend per input) or 'reference'"
            )
        names = set(static) | set(dynamic)
        missing = REQUIRED - names
        if missing:
            raise ValueError(f"HBV time loop: missing parameters {sorted(missing)}")
        unknown = names - set(PARAM_ORDER)
        if unknown:
            raise ValueError(f"HBV time loop: unknown parameters {sorted(unknown)}")
        n_time, n_entity = forcing.shape[0], forcing.shape[1]
        nmul = states["SM"].shape[-1]
        if n_entity == 0 or nmul == 0:
            return reference.time_loop(forcing, static, dynamic, states, record=record)
        n = n_entity * nmul

        params: list[torch.Tensor | None] = []
        for name in PARAM_ORDER:
            if name in dynamic:
                value = torch.broadcast_to(dynamic[name], (n_time, n_entity, nmul)).reshape(n_time, n)
            elif name in static:
                value = torch.broadcast_to(static[name], (n_entity, nmul)).reshape(n)
            else:
                params.append(None)
                continue
            if value.dtype != forcing.dtype:
                raise ValueError(f"HBV time loop: parameter {name!r} is {value.dtype}, forcing {forcing.dtype}")
            params.append(value.contiguous())
        init = torch.stack([torch.broadcast_to(states[name], (n_entity, nmul)).reshape(n) for name in STATE_NAMES])
        forcing_c = forcing.contiguous()

        needs_grad = torch.is_grad_enabled() and (
            forcing.requires_grad or init.requires_grad or any(p is not None and p.requires_grad for p in params)
        )
        if needs_grad:
            *flux_list, final = _FusedLoop.apply(forcing_c, init, nmul, *params)
        else:
            with torch.no_grad():
                fluxes, final, _ = torch.ops.delta_hbv.forward(
                    forcing_c, _op_params(params, forcing_c), init, nmul, record, False
                )
            flux_list = list(fluxes.unbind(0))

        final_states = {name: final[k].view(n_entity, nmul) for k, name in enumerate(STATE_NAMES)}
        if not record:
            return LoopResult(fluxes={}, states=final_states)
        flux_names = FLUX_NAMES + (("capillary",) if "C" in names else ()) + (("leakage",) if "LF" in names else ())
        return LoopResult(fluxes=dict(zip(flux_names, flux_list, strict=True)), states=final_states)


time_loop = CompiledLoop()
"""The ``cpp`` backend (``delta_hydro.hbv.kernels:time_loop``)."""


def empty_cache() -> None:
    """Free the large buffers the compiled kernel keeps for reuse between calls.

    The kernel reuses its trajectory, output and gradient buffers (allocating them anew
    at every training step would cost more than the time loop); it never keeps more
    than the most it has had in use at once. Call this to give that memory back, e.g.
    after training. No-op when the kernel is not loaded.
    """
    if LOADER.loaded:
        torch.ops.delta_hbv.empty_cache()


def pool_stats() -> dict[str, int]:
    """The kernel's reusable buffers (zeros if not loaded).

    ``in_use``, ``cached`` and ``peak`` are bytes (peak: most in use at once since the
    last :func:`empty_cache`); ``allocations`` counts buffers allocated fresh rather
    than reused, since the library was loaded.
    """
    if not LOADER.loaded:
        return {"in_use": 0, "cached": 0, "peak": 0, "allocations": 0}
    in_use, cached, peak, allocations = torch.ops.delta_hbv.pool_stats()
    return {"in_use": int(in_use), "cached": int(cached), "peak": int(peak), "allocations": int(allocations)}
