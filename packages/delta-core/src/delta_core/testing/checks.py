"""Contract checks for :class:`~delta_core.interfaces.phy.PhyModel` implementations.

Every check raises :class:`AssertionError` whose message names the model class, the
variable or parameter concerned and what was expected, so a plugin's test can simply
call it::

    from delta_core.testing import check_phy_model

    def test_contract():
        check_phy_model(MyModel(), forcing, budget=my_budget)

Conventions shared by all checks:

* ``forcing`` is ``[time, entity, n_forcing]`` in the units of
  :attr:`PhyModel.forcings`; its dtype and device are used for everything else.
  Checks that need realistic behaviour (mass balance, parameters that must influence
  the outputs) are only as good as the forcing: give a year or so of plausible data.
* Parameters are chosen on the unit scale ``u`` in ``[0, 1]`` and mapped to
  ``lo + u * (hi - lo)``; "mid-range" means ``u = 0.5``. Parameters named in
  :attr:`PhyModel.dynamic_params` are passed as time series ``[time, ...]``, as the
  standard coupling passes them.
* Gradients are taken of the *objective* ``sum(mean(output) for output in outputs)``
  over every returned output that requires grad, with :func:`torch.autograd.grad`, so
  no ``.grad`` attribute of the model or of the caller's tensors is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import NoReturn

import torch

from delta_core.coupling.config import ParameterLearningConfig
from delta_core.coupling.parameter_learning import CouplingError, InputSizes, ParameterLearning
from delta_core.interfaces.nn import NNSpec
from delta_core.interfaces.phy import PhyModel, PhyOutput
from delta_core.interfaces.specs import Parameter, Variable
from delta_core.testing.params import make_params, make_unit_params, scale_unit
from delta_core.testing.tiny_nn import TinyNN

Budget = Callable[
    [torch.Tensor, Mapping[str, torch.Tensor], Mapping[str, torch.Tensor], PhyOutput], torch.Tensor
]
"""``budget(forcing, params, initial_states, output) -> residual [entity]``.

Called with the forcing ``[time, entity, n_forcing]``, the physical parameters by
name, the initial states by name ``[entity, n_components]`` and the
:class:`~delta_core.interfaces.phy.PhyOutput` of a run without warm-up (outputs cover
every time step). It returns, per entity, ``inputs - outputs - change in storage``
in one consistent unit (e.g. mm over the window); zero means the budget closes.
"""

_DIMS = ("time_entity", "entity")


# -- small helpers ----------------------------------------------------------------------


def _label(phy: PhyModel) -> str:
    return type(phy).__name__


def _raise(phy: PhyModel, problems: Sequence[str], context: str = "", note: str = "") -> NoReturn:
    suffix = f" ({context})" if context else ""
    tail = f"\n{note}" if note else ""
    if len(problems) == 1:
        raise AssertionError(f"{_label(phy)}: {problems[0]}{suffix}{tail}")
    lines = "\n".join(f"  - {p}" for p in problems)
    raise AssertionError(f"{_label(phy)}: {len(problems)} problems{suffix}:\n{lines}{tail}")


def _nonfinite(what: str, value: torch.Tensor, axes: Sequence[str]) -> str | None:
    bad = ~torch.isfinite(value)
    if not bad.any():
        return None
    first = [int(i) for i in torch.nonzero(bad)[0]]
    where = ", ".join(f"{axis} index {i}" for axis, i in zip(axes, first, strict=False))
    return f"{what} has {int(bad.sum())} non-finite values (first at {where})"


def _check_call(
    phy: PhyModel, forcing: torch.Tensor, attributes: torch.Tensor | None, warmup: int = 0
) -> tuple[int, int]:
    """Check the arguments the test author passed; return ``(n_time, n_entity)``."""
    if not isinstance(phy, PhyModel):
        raise AssertionError(f"expected a PhyModel instance, got {type(phy).__name__}")
    forcing_names = [v.name for v in phy.forcings]
    if not isinstance(forcing, torch.Tensor) or forcing.ndim != 3 or forcing.shape[-1] != len(forcing_names):
        shape = tuple(forcing.shape) if isinstance(forcing, torch.Tensor) else type(forcing).__name__
        _raise(phy, [f"the check needs forcing [time, entity, {len(forcing_names)}] "
                     f"({', '.join(forcing_names)}), got {shape}"])
    if not forcing.is_floating_point():
        _raise(phy, [f"the check needs floating-point forcing, got {forcing.dtype}"])
    n_time, n_entity, _ = forcing.shape
    if not 0 <= warmup < n_time:
        _raise(phy, [f"warmup={warmup} must be in [0, {n_time}) for forcing with {n_time} time steps"])
    if phy.attributes:
        n_attr = len(phy.attributes)
        names = ", ".join(v.name for v in phy.attributes)
        if attributes is None:
            _raise(phy, [f"the model declares attributes ({names}); pass attributes=[entity, {n_attr}]"])
        if tuple(attributes.shape) != (n_entity, n_attr):
            _raise(phy, [f"the check needs attributes [{n_entity}, {n_attr}] ({names}), "
                         f"got {tuple(attributes.shape)}"])
    return n_time, n_entity


def _run(
    phy: PhyModel,
    forcing: torch.Tensor,
    params: Mapping[str, torch.Tensor],
    *,
    attributes: torch.Tensor | None,
    warmup: int,
    context: str,
    states: Mapping[str, torch.Tensor] | None = None,
) -> PhyOutput:
    try:
        out = phy(forcing, params, attributes=attributes, states=states, warmup=warmup)
    except Exception as exc:
        raise AssertionError(
            f"{_label(phy)}: forward raised {type(exc).__name__}: {exc} ({context})"
        ) from exc
    if not isinstance(out, PhyOutput):
        _raise(phy, [f"forward must return a PhyOutput, got {type(out).__name__}"], context)
    return out


def _output_problems(
    phy: PhyModel, out: PhyOutput, n_time: int, n_entity: int, like: torch.Tensor
) -> list[str]:
    """Names, shapes, dtypes and finiteness of ``out`` against the declarations."""
    problems: list[str] = []
    n_comp = phy.n_components
    for what, declared, returned, attr in (
        ("output", phy.output_vars, out.fluxes, "fluxes"),
        ("state", phy.state_vars, out.states, "states"),
    ):
        names = [v.name for v in declared]
        missing = [n for n in names if n not in returned]
        for name in missing:
            problems.append(
                f"{what} {name!r} is declared but missing from PhyOutput.{attr} "
                f"(returned: {', '.join(returned) or 'nothing'})"
            )
        undeclared = sorted(set(returned) - set(names))
        if undeclared:
            problems.append(
                f"PhyOutput.{attr} holds undeclared {what}s {undeclared}; declared: {', '.join(names)}"
            )
        for var in declared:
            if var.name not in returned:
                continue
            value = returned[var.name]
            if not isinstance(value, torch.Tensor):
                problems.append(f"{what} {var.name!r} must be a tensor, got {type(value).__name__}")
                continue
            if what == "state":
                expected: tuple[int, ...] = (n_entity, n_comp)
                layout, axes = "[entity, n_components]", ("entity", "component")
            elif var.dims == "entity":
                expected, layout, axes = (n_entity,), "[entity]", ("entity",)
            else:
                expected, layout, axes = (n_time, n_entity), "[time - warmup, entity]", ("time", "entity")
            if tuple(value.shape) != expected:
                problems.append(
                    f"{what} {var.name!r} has shape {tuple(value.shape)}, expected {expected} = {layout}"
                )
                continue
            if value.dtype != like.dtype or value.device != like.device:
                problems.append(
                    f"{what} {var.name!r} is {value.dtype} on {value.device}, expected the forcing's "
                    f"{like.dtype} on {like.device}"
                )
            msg = _nonfinite(f"{what} {var.name!r}", value, axes)
            if msg:
                problems.append(msg)
    return problems


def _objective(out: PhyOutput) -> torch.Tensor | None:
    terms = [v.mean() for v in out.fluxes.values() if isinstance(v, torch.Tensor) and v.requires_grad]
    if not terms:
        return None
    return torch.stack(terms).sum()


def _slice_time(phy: PhyModel, params: Mapping[str, torch.Tensor], sl: slice) -> dict[str, torch.Tensor]:
    dynamic = set(phy.dynamic_params)
    return {k: (v[sl] if k in dynamic else v) for k, v in params.items()}


def _max_mismatch(
    a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float
) -> tuple[float, tuple[int, ...]] | None:
    diff = (a - b).abs()
    excess = diff - (atol + rtol * b.abs())
    excess = torch.where(torch.isfinite(a) == torch.isfinite(b), excess.nan_to_num(nan=0.0), torch.inf)
    if not (excess > 0).any():
        return None
    idx = tuple(int(i) for i in torch.nonzero(excess == excess.max())[0])
    return float(diff[idx]), idx


# -- the checks --------------------------------------------------------------------------


def check_declarations(phy: PhyModel) -> None:
    """Check what ``phy`` declares about itself, without running it.

    Checks that every declaration is a :class:`~delta_core.interfaces.specs.Variable`
    or :class:`~delta_core.interfaces.specs.Parameter`; names are non-empty, without
    surrounding whitespace and unique within their group (forcings, attributes,
    parameters, states, outputs); units are non-empty (``"1"`` for dimensionless);
    ``dims`` is ``"time_entity"`` or ``"entity"`` and forcings are time series;
    parameter bounds are finite with ``lo < hi`` and any default lies within them;
    at least one output is declared; ``n_components`` is a positive integer;
    :attr:`~PhyModel.dynamic_params` names declared parameters that allow it, once
    each; and the declarations are the same when read twice (they are properties).

    Raises
    ------
    AssertionError
        Listing every problem found.
    """
    problems: list[str] = []
    groups: dict[str, tuple[Variable, ...]] = {
        "forcing": phy.forcings,
        "attribute": phy.attributes,
        "state": phy.state_vars,
        "output": phy.output_vars,
    }
    for kind, items in groups.items():
        seen: set[str] = set()
        for i, var in enumerate(tuple(items)):
            if not isinstance(var, Variable):
                problems.append(f"{kind} #{i} must be a Variable, got {type(var).__name__}")
                continue
            problems += _name_problems(kind, i, var.name, seen)
            label = f"{kind} {var.name!r}"
            if not isinstance(var.units, str) or not var.units.strip():
                problems.append(f"{label} declares no units (use '1' for dimensionless)")
            if var.dims not in _DIMS:
                problems.append(f"{label} has dims={var.dims!r}, expected one of {_DIMS}")
            elif kind == "forcing" and var.dims != "time_entity":
                problems.append(f"{label} has dims={var.dims!r}; forcings are time series ('time_entity')")
    if not phy.output_vars:
        problems.append("declares no output variables")

    seen = set()
    specs = tuple(phy.param_specs)
    for i, p in enumerate(specs):
        if not isinstance(p, Parameter):
            problems.append(f"parameter #{i} must be a Parameter, got {type(p).__name__}")
            continue
        problems += _name_problems("parameter", i, p.name, seen)
        label = f"parameter {p.name!r}"
        if not isinstance(p.units, str) or not p.units.strip():
            problems.append(f"{label} declares no units (use '1' for dimensionless)")
        lo, hi = float(p.lo), float(p.hi)
        if not (torch.isfinite(torch.tensor([lo, hi])).all() and lo < hi):
            problems.append(f"{label} has bounds lo={p.lo}, hi={p.hi}; expected finite lo < hi")
        elif p.default is not None and not lo <= p.default <= hi:
            problems.append(f"{label} has default {p.default} outside its bounds [{p.lo}, {p.hi}]")

    n_comp = phy.n_components
    if isinstance(n_comp, bool) or not isinstance(n_comp, int) or n_comp < 1:
        problems.append(f"n_components must be a positive int, got {n_comp!r}")

    declared = {p.name: p for p in specs if isinstance(p, Parameter)}
    dynamic = list(phy.dynamic_params)
    for name in dict.fromkeys(dynamic):
        if name not in declared:
            problems.append(f"dynamic parameter {name!r} is not declared; declared: {', '.join(declared)}")
        elif not declared[name].dynamic_allowed:
            problems.append(f"parameter {name!r} is in dynamic_params but declares dynamic_allowed=False")
    duplicates = sorted({n for n in dynamic if dynamic.count(n) > 1})
    if duplicates:
        problems.append(f"dynamic_params lists {duplicates} more than once")

    first = (*(tuple(items) for items in groups.values()), specs, n_comp, tuple(dynamic))
    again = (tuple(phy.forcings), tuple(phy.attributes), tuple(phy.state_vars), tuple(phy.output_vars),
             tuple(phy.param_specs), phy.n_components, tuple(phy.dynamic_params))
    if first != again:
        problems.append("declarations differ between two reads; they must depend only on the configuration")
    if problems:
        _raise(phy, problems, "declarations")


def _name_problems(kind: str, i: int, name: object, seen: set[str]) -> list[str]:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        return [f"{kind} #{i} has name {name!r}; expected a non-empty string without surrounding spaces"]
    if name in seen:
        return [f"{kind} name {name!r} is declared more than once"]
    seen.add(name)
    return []


def check_outputs(
    phy: PhyModel,
    forcing: torch.Tensor,
    *,
    attributes: torch.Tensor | None = None,
    warmup: int = 0,
    warmup_consistent: bool = True,
) -> PhyOutput:
    """Run ``phy`` with mid-range parameters and check what it returns.

    Checks that every declared output is returned with shape ``[time - warmup, entity]``
    (``[entity]`` for ``dims="entity"``) and every declared state with shape
    ``[entity, n_components]``; that nothing undeclared is returned; that all values are
    finite and have the forcing's dtype and device; that ``forward`` leaves its
    forcing, parameter and attribute tensors unchanged (no in-place edits); that
    :meth:`PhyModel.initial_states` returns every declared state with the right shape;
    and, when ``warmup > 0`` and ``warmup_consistent``, that the outputs equal the last
    ``time - warmup`` steps of a run without warm-up (warm-up only spins up states).

    Parameters
    ----------
    phy
        The model under test.
    forcing
        ``[time, entity, n_forcing]`` in the units of :attr:`PhyModel.forcings`.
    attributes
        ``[entity, n_attribute]``; required when the model declares attributes.
    warmup
        Passed to ``forward``.
    warmup_consistent
        Set ``False`` for a model that deliberately computes warm-up steps differently.

    Returns
    -------
    PhyOutput
        The output of the mid-range run, for further checks by the caller.
    """
    n_time, n_entity = _check_call(phy, forcing, attributes, warmup)
    kw = {"dtype": forcing.dtype, "device": forcing.device}
    params = make_params(phy, n_entity, n_time=n_time, **kw)
    before = (forcing.clone(), {k: v.clone() for k, v in params.items()},
              None if attributes is None else attributes.clone())
    context = f"mid-range parameters, warmup={warmup}"
    out = _run(phy, forcing, params, attributes=attributes, warmup=warmup, context=context)
    problems = _output_problems(phy, out, n_time - warmup, n_entity, forcing)

    if not torch.equal(before[0], forcing):
        problems.append("forward modified its forcing tensor in place")
    for name, value in before[1].items():
        if not torch.equal(value, params[name]):
            problems.append(f"forward modified parameter {name!r} in place")
    if attributes is not None and before[2] is not None and not torch.equal(before[2], attributes):
        problems.append("forward modified its attributes tensor in place")

    init = phy.initial_states(n_entity, **kw)
    for var in phy.state_vars:
        value = init.get(var.name)
        if value is None:
            problems.append(f"initial_states() returns no state {var.name!r}")
        elif tuple(value.shape) != (n_entity, phy.n_components):
            problems.append(
                f"initial_states() returns state {var.name!r} with shape {tuple(value.shape)}, "
                f"expected {(n_entity, phy.n_components)} = [entity, n_components]"
            )
    if problems:
        _raise(phy, problems, context)

    if warmup and warmup_consistent:
        full = _run(phy, forcing, params, attributes=attributes, warmup=0,
                    context="mid-range parameters, warmup=0")
        for var in phy.output_vars:
            if var.dims != "time_entity" or var.name not in full.fluxes:
                continue
            mismatch = _max_mismatch(out.fluxes[var.name], full.fluxes[var.name][warmup:], 1e-4, 1e-6)
            if mismatch:
                diff, (t, e) = mismatch
                problems.append(
                    f"output {var.name!r} with warmup={warmup} differs from time[{warmup}:] of a run without "
                    f"warm-up by {diff:.3g} (at output time index {t}, entity index {e}); warm-up must only "
                    "spin up the states"
                )
        if problems:
            _raise(phy, problems, "mid-range parameters")
    return out


def check_state_continuation(
    phy: PhyModel,
    forcing: torch.Tensor,
    *,
    attributes: torch.Tensor | None = None,
    split: int | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> None:
    """Check that the returned final states continue a run seamlessly.

    Runs the whole window once, then ``time[:split]`` and ``time[split:]`` with the
    states returned by the first part passed to the second, all with mid-range
    parameters and no warm-up. The time-series outputs of the second part and the
    final states must match the uninterrupted run within ``atol + rtol * |value|``.
    A model whose outputs depend on memory it does not declare as a state (for
    example a routing convolution over the window) fails this check.

    Parameters
    ----------
    split
        First time index of the second part; default ``time // 2``.
    """
    n_time, n_entity = _check_call(phy, forcing, attributes)
    if n_time < 2:
        _raise(phy, [f"state continuation needs at least 2 time steps, got {n_time}"])
    split = n_time // 2 if split is None else split
    if not 0 < split < n_time:
        _raise(phy, [f"split={split} must be in (0, {n_time})"])
    params = make_params(phy, n_entity, n_time=n_time, dtype=forcing.dtype, device=forcing.device)
    kw = {"attributes": attributes, "warmup": 0}

    def run(part: str, sl: slice, states: Mapping[str, torch.Tensor] | None = None) -> PhyOutput:
        with torch.no_grad():
            out = _run(phy, forcing[sl], _slice_time(phy, params, sl), context=part, states=states, **kw)
        problems = _output_problems(phy, out, len(range(n_time)[sl]), n_entity, forcing)
        if problems:
            _raise(phy, problems, f"state continuation, {part}")
        return out

    whole = run("whole window", slice(None))
    first = run(f"time[:{split}]", slice(None, split))
    second = run(f"time[{split}:] from the states of time[:{split}]", slice(split, None),
                 {k: v.clone() for k, v in first.states.items()})
    problems = []
    for var in phy.output_vars:
        if var.dims != "time_entity":
            continue
        mismatch = _max_mismatch(second.fluxes[var.name], whole.fluxes[var.name][split:], rtol, atol)
        if mismatch:
            diff, (t, e) = mismatch
            problems.append(
                f"output {var.name!r} of a run continued at time index {split} from the returned states "
                f"differs from the uninterrupted run by {diff:.3g} "
                f"(at time index {split + t}, entity index {e})"
            )
    for var in phy.state_vars:
        mismatch = _max_mismatch(second.states[var.name], whole.states[var.name], rtol, atol)
        if mismatch:
            diff, (e, c) = mismatch
            problems.append(
                f"final state {var.name!r} of the continued run differs from the uninterrupted run "
                f"by {diff:.3g} (entity index {e}, component {c})"
            )
    if problems:
        _raise(phy, problems, "state continuation, mid-range parameters",
               note="A model that keeps memory outside its declared states (e.g. routing over the window) "
                    "cannot pass; call check_phy_model(..., continuation=False) for it.")


def check_parameter_bounds(
    phy: PhyModel,
    forcing: torch.Tensor,
    *,
    attributes: torch.Tensor | None = None,
    warmup: int = 0,
    n_random: int = 3,
    seed: int = 0,
) -> None:
    """Check outputs and gradients at the edges of the parameter space.

    Cases: every parameter at its lower bound; every parameter at its upper bound;
    and ``n_random`` seeded *random corners*, where each element (entity, component
    and, for dynamic parameters, time step) of each parameter independently sits at
    its lower or upper bound. In each case every output and state must be finite, and
    the gradient of the objective (sum of the means of all outputs) with respect to
    every parameter must be finite. A parameter that does not influence the outputs
    (no gradient) passes here; :func:`check_gradients_reach_nn` catches it.

    When something is non-finite, the message names the output and, by re-running
    with one parameter at a time moved to the failing values (the others mid-range),
    the parameters that cause it; for gradients it names the output and parameter.
    """
    n_time, n_entity = _check_call(phy, forcing, attributes, warmup)
    kw = {"n_time": n_time, "dtype": forcing.dtype, "device": forcing.device}
    cases: list[tuple[str, dict[str, torch.Tensor]]] = [
        ("all parameters at their lower bounds", make_unit_params(phy, n_entity, u=0.0, **kw)),
        ("all parameters at their upper bounds", make_unit_params(phy, n_entity, u=1.0, **kw)),
    ]
    gen = torch.Generator().manual_seed(seed)
    for i in range(n_random):
        units = make_unit_params(phy, n_entity, u=gen, **kw)
        cases.append((f"parameters at random bound corners, seed {seed} draw {i}",
                      {k: (v > 0.5).to(v.dtype) for k, v in units.items()}))
    for context, units in cases:
        _check_bound_case(phy, forcing, attributes, warmup, units, context, n_time, n_entity)


def _check_bound_case(
    phy: PhyModel,
    forcing: torch.Tensor,
    attributes: torch.Tensor | None,
    warmup: int,
    units: dict[str, torch.Tensor],
    context: str,
    n_time: int,
    n_entity: int,
) -> None:
    params = {k: v.detach().requires_grad_(True) for k, v in scale_unit(phy, units).items()}
    with torch.enable_grad():
        out = _run(phy, forcing, params, attributes=attributes, warmup=warmup, context=context)
    problems = _output_problems(phy, out, n_time - warmup, n_entity, forcing)
    if problems:
        culprits = _culprits(phy, forcing, attributes, warmup, units, n_time, n_entity)
        if culprits:
            problems.append(
                f"parameters that cause non-finite values when moved alone to these values: {culprits}"
            )
        _raise(phy, problems, context)
    objective = _objective(out)
    if objective is None:
        return  # nothing differentiable: check_gradients_reach_nn reports it
    names = list(params)
    leaves = [params[n] for n in names]
    grads = torch.autograd.grad(objective, leaves, allow_unused=True, retain_graph=True)
    bad = [n for n, g in zip(names, grads, strict=True) if g is not None and not torch.isfinite(g).all()]
    if not bad:
        return
    for out_name, value in out.fluxes.items():
        if not value.requires_grad:
            continue
        per_output = torch.autograd.grad(value.mean(), leaves, allow_unused=True, retain_graph=True)
        for n, g in zip(names, per_output, strict=True):
            if g is not None and not torch.isfinite(g).all():
                problems.append(
                    f"gradient of mean(output {out_name!r}) w.r.t. parameter {n!r} has "
                    f"{int((~torch.isfinite(g)).sum())} non-finite values"
                )
    if not problems:  # non-finite only in the sum (e.g. +inf and -inf from two outputs)
        problems = [f"gradient of the objective w.r.t. parameters {bad} is non-finite"]
    _raise(phy, problems, context)


def _culprits(
    phy: PhyModel,
    forcing: torch.Tensor,
    attributes: torch.Tensor | None,
    warmup: int,
    units: dict[str, torch.Tensor],
    n_time: int,
    n_entity: int,
) -> list[str]:
    mid = make_unit_params(phy, n_entity, u=0.5, n_time=n_time, dtype=forcing.dtype, device=forcing.device)
    found = []
    for name in units:
        trial = {**mid, name: units[name]}
        try:
            with torch.no_grad():
                out = phy(forcing, scale_unit(phy, trial), attributes=attributes, warmup=warmup)
        except Exception:
            found.append(name)
            continue
        values = [*out.fluxes.values(), *out.states.values()]
        if any(isinstance(v, torch.Tensor) and not torch.isfinite(v).all() for v in values):
            found.append(name)
    return found


def check_gradients_reach_nn(
    phy: PhyModel,
    forcing: torch.Tensor,
    *,
    attributes: torch.Tensor | None = None,
    warmup: int = 0,
    n_dynamic_inputs: int = 3,
    n_static_inputs: int = 2,
    hidden: int = 8,
    seed: int = 0,
    insensitive: Collection[str] = (),
    min_nonzero_fraction: float = 0.5,
) -> None:
    """Couple ``phy`` to a :class:`TinyNN` through ``core.param_learning`` and backpropagate.

    Builds :class:`~delta_core.coupling.parameter_learning.ParameterLearning` with a
    seeded :class:`~delta_core.testing.TinyNN` (static outputs for static parameters,
    dynamic outputs for :attr:`PhyModel.dynamic_params`), feeds it a sample with the
    given forcing as ``x_phy`` and seeded standard-normal ``x_nn`` / ``c_nn``, and
    differentiates the objective (sum of the means of all outputs). Checks that the
    outputs are finite; that the parameters the coupling produced lie within their
    bounds; that every learned parameter receives a finite gradient that is non-zero
    somewhere (else the network cannot learn it); that every network weight receives a
    finite gradient; and that at least ``min_nonzero_fraction`` of all network weights
    have a non-zero gradient.

    Parameters
    ----------
    n_dynamic_inputs, n_static_inputs
        Network input sizes. Dynamic parameters need ``n_dynamic_inputs > 0``.
    hidden
        Width of the TinyNN's hidden layers.
    seed
        Seeds the network weights and the network inputs; the global RNG is untouched.
    insensitive
        Parameters allowed a zero gradient because they legitimately have no effect
        for this forcing (e.g. a snow parameter with a snow-free forcing).
    min_nonzero_fraction
        Fraction of network weights (elements) whose gradient must be non-zero.
    """
    n_time, n_entity = _check_call(phy, forcing, attributes, warmup)
    declared = [p.name for p in phy.param_specs]
    unknown = sorted(set(insensitive) - set(declared))
    if unknown:
        raise ValueError(f"{_label(phy)}: insensitive names undeclared parameters {unknown}")
    if not declared:
        _raise(phy, ["declares no parameters, so there is nothing for a network to learn"])
    dtype, device = forcing.dtype, forcing.device

    def factory(spec: NNSpec) -> TinyNN:
        return TinyNN(spec, hidden=hidden).to(dtype=dtype, device=device)

    context = "coupled to TinyNN through core.param_learning"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = ParameterLearning.build(
                phy={"phy": phy},
                nn={"nn": factory},
                inputs=InputSizes(n_dynamic=n_dynamic_inputs, n_static=n_static_inputs),
                config=ParameterLearningConfig(warmup=warmup),
            )
        except CouplingError as exc:
            raise AssertionError(f"{_label(phy)}: cannot be coupled to a network: {exc}") from exc
    gen = torch.Generator().manual_seed(seed)
    sample = {"x_phy": forcing}
    if n_dynamic_inputs:
        x_nn = torch.randn(n_time, n_entity, n_dynamic_inputs, generator=gen, dtype=dtype)
        sample["x_nn"] = x_nn.to(device)
    if n_static_inputs:
        c_nn = torch.randn(n_entity, n_static_inputs, generator=gen, dtype=dtype)
        sample["c_nn"] = c_nn.to(device)
    if attributes is not None:
        sample["c_phy"] = attributes
    with torch.enable_grad():
        try:
            out = model(sample)
        except Exception as exc:
            raise AssertionError(
                f"{_label(phy)}: forward raised {type(exc).__name__}: {exc} ({context})"
            ) from exc

    problems = []
    for name, value in out.fluxes.items():
        msg = _nonfinite(f"output {name!r}", value, ("time", "entity"))
        if msg:
            problems.append(msg)
    specs = {p.name: p for p in phy.param_specs}
    learned = list(model.learned_parameters())
    for name in learned:
        p, value = specs[name], out.parameters[name]
        span = p.hi - p.lo
        if ((value < p.lo - 1e-6 * span) | (value > p.hi + 1e-6 * span)).any():
            problems.append(
                f"parameter {name!r} from the coupling spans "
                f"[{float(value.min()):g}, {float(value.max()):g}], "
                f"outside its bounds [{p.lo:g}, {p.hi:g}]"
            )
    if problems:
        _raise(phy, problems, context)
    objective = _objective(PhyOutput(out.fluxes, out.states))
    if objective is None:
        _raise(phy, ["no output requires grad: the outputs are detached from the parameters"], context)

    weights = list(model.nn.named_parameters())
    inputs = [w for _, w in weights] + [out.parameters[n] for n in learned]
    grads = torch.autograd.grad(objective, inputs, allow_unused=True)
    weight_grads, param_grads = grads[: len(weights)], grads[len(weights):]

    for name, g in zip(learned, param_grads, strict=True):
        if name in insensitive and (g is None or torch.isfinite(g).all()):
            continue
        if g is None or not (g != 0).any():
            problems.append(
                f"parameter {name!r} does not reach any output (its gradient is "
                f"{'absent' if g is None else 'zero everywhere'}), so the network cannot learn it; "
                f"if that is expected for this forcing, pass insensitive=[{name!r}]"
            )
        elif not torch.isfinite(g).all():
            problems.append(f"gradient w.r.t. parameter {name!r} has {int((~torch.isfinite(g)).sum())} "
                            "non-finite values")
    total = nonzero = 0
    for (name, w), g in zip(weights, weight_grads, strict=True):
        total += w.numel()
        if g is None:
            problems.append(f"network weight {name!r} received no gradient")
        elif not torch.isfinite(g).all():
            count = int((~torch.isfinite(g)).sum())
            problems.append(f"network weight {name!r} has {count} non-finite gradient values")
        else:
            nonzero += int((g != 0).sum())
    if total and nonzero / total < min_nonzero_fraction:
        problems.append(
            f"only {nonzero} of {total} network weights ({nonzero / total:.0%}) have a non-zero gradient, "
            f"expected at least {min_nonzero_fraction:.0%}"
        )
    if problems:
        _raise(phy, problems, context)


def check_mass_balance(
    phy: PhyModel,
    forcing: torch.Tensor,
    budget: Budget,
    *,
    attributes: torch.Tensor | None = None,
    states: Mapping[str, torch.Tensor] | None = None,
    atol: float = 1e-4,
    n_random: int = 2,
    seed: int = 0,
) -> None:
    """Check that a conservation budget closes for admissible parameters.

    Runs ``phy`` without warm-up (so the outputs cover every step the states evolve
    over) with parameters mid-range, all at the lower bounds, all at the upper bounds
    and ``n_random`` seeded uniform draws, and asserts ``|budget(...)| <= atol`` for
    every entity. Accumulating a budget over a long window in float32 loses digits:
    use float64 forcing or a larger ``atol``.

    Parameters
    ----------
    budget
        ``budget(forcing, params, initial_states, output) -> residual [entity]``;
        see :data:`Budget`.
    states
        Initial states passed to ``forward`` and to ``budget``; default
        :meth:`PhyModel.initial_states`. Non-zero storages make a stronger test.
    atol
        Largest admissible ``|residual|``, in the budget's units.
    """
    n_time, n_entity = _check_call(phy, forcing, attributes)
    kw = {"n_time": n_time, "dtype": forcing.dtype, "device": forcing.device}
    gen = torch.Generator().manual_seed(seed)
    cases: list[tuple[str, float | torch.Generator]] = [
        ("mid-range parameters", 0.5),
        ("all parameters at their lower bounds", 0.0),
        ("all parameters at their upper bounds", 1.0),
    ] + [(f"random parameters, seed {seed} draw {i}", gen) for i in range(n_random)]
    if states is None:
        states = phy.initial_states(n_entity, dtype=forcing.dtype, device=forcing.device)
    for context, u in cases:
        params = make_params(phy, n_entity, u=u, **kw)
        init = {k: v.clone() for k, v in states.items()}
        with torch.no_grad():
            out = _run(phy, forcing, params, attributes=attributes, warmup=0, context=context,
                       states={k: v.clone() for k, v in init.items()})
            residual = budget(forcing, params, init, out)
        if not isinstance(residual, torch.Tensor) or tuple(residual.shape) != (n_entity,):
            shape = tuple(residual.shape) if isinstance(residual, torch.Tensor) else type(residual).__name__
            _raise(phy, [f"the budget must return a residual per entity, shape ({n_entity},), got {shape}"],
                   context)
        msg = _nonfinite("mass-balance residual", residual, ("entity",))
        if msg:
            _raise(phy, [msg], context)
        over = residual.abs() > atol
        if over.any():
            worst = int(residual.abs().argmax())
            _raise(phy, [
                f"mass balance does not close: |residual| > atol={atol:g} for {int(over.sum())} of "
                f"{n_entity} entities (worst: entity index {worst}, residual {float(residual[worst]):.6g})"
            ], context)


def check_phy_model(
    phy: PhyModel,
    forcing: torch.Tensor,
    *,
    attributes: torch.Tensor | None = None,
    budget: Budget | None = None,
    warmup: int = 0,
    atol: float = 1e-4,
    states: Mapping[str, torch.Tensor] | None = None,
    seed: int = 0,
    insensitive: Collection[str] = (),
    warmup_consistent: bool = True,
    continuation: bool = True,
) -> None:
    """Run every contract check on ``phy``; the first failing check raises.

    In order: :func:`check_declarations`, :func:`check_outputs`,
    :func:`check_state_continuation` (if ``continuation``),
    :func:`check_parameter_bounds`, :func:`check_gradients_reach_nn` and, when
    ``budget`` is given, :func:`check_mass_balance` (with ``atol`` and ``states``).

    Parameters
    ----------
    phy
        The model under test, as configured for the test.
    forcing
        ``[time, entity, n_forcing]``; plausible data of a few entities over about a year
        exercises the model best. Its dtype and device are used throughout.
    attributes
        ``[entity, n_attribute]``, required when the model declares attributes.
    budget
        Optional mass-balance residual function, see :data:`Budget`.
    warmup
        Warm-up steps for the output, bounds and coupling checks.
    seed, insensitive, warmup_consistent, continuation
        Passed to the individual checks.
    """
    check_declarations(phy)
    check_outputs(phy, forcing, attributes=attributes, warmup=warmup, warmup_consistent=warmup_consistent)
    if continuation:
        check_state_continuation(phy, forcing, attributes=attributes)
    check_parameter_bounds(phy, forcing, attributes=attributes, warmup=warmup, seed=seed)
    check_gradients_reach_nn(phy, forcing, attributes=attributes, warmup=warmup, seed=seed,
                             insensitive=insensitive)
    if budget is not None:
        check_mass_balance(phy, forcing, budget, attributes=attributes, states=states, atol=atol, seed=seed)
