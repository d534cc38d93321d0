"""Write a trained run's simulation of a whole period to a Zarr store (``delta simulate``).

The model runs entity chunk by entity chunk; each chunk is written into its region of
a store created before the first write, so memory is bounded by one chunk whatever the
number of entities. The store is assembled under ``.<name>.partial`` beside the target
and renamed only when complete: an interrupted simulation never leaves a half-written
store under the final name. A marker file per finished chunk lets a restarted
simulation with the same settings skip every chunk already written (a killed run
loses nothing already saved); ``--overwrite`` starts afresh.

Layout
------
The root group follows the canonical format (:mod:`delta_core.data.canonical`): the
entity dimension is named like the dataset's (``basin`` in hydrology) with string ids,
``time`` is the daily axis of the period (warm-up days excluded), every variable is
float32 with CF ``units`` and ``long_name`` attributes taken from the PhyModel's
declarations:

=====================  =====================  ==============================================
variable               dims                   content
=====================  =====================  ==============================================
``<flux>``             ``(entity, time)``     every output series of the PhyModel
``<flux>``             ``(entity,)``          every per-entity output value (e.g. ``BFI``)
``final_<state>``      ``(entity,)``          state at the end of the period, mean over
                                              components
``<param>``            ``(entity,)``          static parameter in physical units, mean over
                                              components (``valid_min``/``valid_max`` = bounds)
``<param>``            ``(entity, time)``     dynamic parameter, mean over components
=====================  =====================  ==============================================

The canonical format has no component dimension, so the per-component values live in
the sub-group ``components`` (``xarray.open_zarr(path, group="components")``), with an
integer ``component`` coordinate: static parameters and final states
``(entity, component)``, dynamic parameters ``(entity, time, component)``.

A parameter whose name equals an output's is stored as ``param_<name>``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr
import zarr

from delta_core.config.errors import ConfigError
from delta_core.config.load import load_experiment
from delta_core.config.schema import DatasetComponent, ExperimentConfig
from delta_core.data.canonical import DEFAULT_CHUNKS, FORMAT, TIME, DataFormatError, open_canonical, validate
from delta_core.data.config import CanonicalDatasetConfig
from delta_core.data.dataset import CanonicalDataset, DatasetError
from delta_core.data.normalize import NormalizationError
from delta_core.data.periods import PeriodError, TimeRange, time_range
from delta_core.data.sampling import entity_chunks
from delta_core.evaluation.report import load_run
from delta_core.evaluation.simulate import PeriodResult, dynamic_parameter_names, simulate_period
from delta_core.interfaces.dataset import Dataset
from delta_core.interfaces.dmodel import DModel
from delta_core.interfaces.specs import Parameter, Variable
from delta_core.plugins.registry import Registry, RegistryError
from delta_core.training.build import BuildError, warmup_of
from delta_core.training.errors import RunDirError, TrainingError
from delta_core.training.run_dir import RunDir
from delta_core.training.trainer import period_range

COMPONENTS = "components"
"""Name of the sub-group holding per-component values."""

COMPONENT_DIM = "component"
"""Dimension of the PhyModel's parallel components in the ``components`` group."""

ALL = "all"
"""Period name meaning every day of the data after the warm-up."""


class SimulateError(ValueError):
    """A simulation request that cannot be served; the message says why."""


USER_ERRORS: tuple[type[Exception], ...] = (
    SimulateError, BuildError, ConfigError, DataFormatError, DatasetError, NormalizationError, PeriodError,
    RegistryError, RunDirError, TrainingError, FileExistsError, FileNotFoundError,
)
"""Errors caused by the request or the data (not by a bug): the CLI reports their message."""


@attrs.frozen
class SimulationSummary:
    """What :func:`write_simulation` wrote.

    Attributes
    ----------
    path
        The store.
    entity_dim
        Name of the entity dimension.
    n_entities
        Number of entities simulated.
    times
        ``[time]`` days of the period (``datetime64[ns]``).
    root_variables
        Variables of the root group, by name.
    component_variables
        Variables of the ``components`` group, by name (empty without one).
    """

    path: Path
    entity_dim: str
    n_entities: int
    times: np.ndarray
    root_variables: tuple[str, ...]
    component_variables: tuple[str, ...]

    def describe(self) -> str:
        """One line for the command line."""
        first, last = str(self.times[0])[:10], str(self.times[-1])[:10]
        extra = f" (+{len(self.component_variables)} per component)" if self.component_variables else ""
        return (f"wrote {self.path}: {self.n_entities} {self.entity_dim} x {len(self.times)} days "
                f"({first} .. {last}), {len(self.root_variables)} variables{extra}")


@attrs.frozen
class _Slot:
    """One array of the output store and how to cut it from a chunk's :class:`PeriodResult`.

    ``kind`` is ``flux``, ``state`` or ``param``; ``reduce`` averages the component axis;
    ``dims`` are the stored dims with ``entity`` standing for the entity dimension.
    """

    group: str
    name: str
    kind: str
    key: str
    dims: tuple[str, ...]
    reduce: bool
    attrs: dict[str, Any]


# -- the data section of a simulation --------------------------------------------------------------
def simulation_data_section(experiment: ExperimentConfig, registry: Registry, path: str | Path) -> DatasetComponent:
    """The run's dataset section pointed at the canonical store ``path``.

    For ``core.canonical`` data this is the run's section with ``path`` replaced; for a
    component built on :class:`~delta_core.data.dataset.CanonicalDataset` (such as
    ``hydro.synthetic``) it is a ``core.canonical`` section with the run's variable
    groups, transforms and fill rules. Every entity of the new store is used, read
    lazily (memory bounded by the chunk). Targets are dropped when the store lacks them
    (simulating ungauged entities or other periods needs no observations).

    Raises
    ------
    SimulateError
        If the run's dataset is not built on a canonical store.
    """
    section = experiment.data
    params = section.params
    names = [f.name for f in attrs.fields(CanonicalDatasetConfig) if f.name not in ("path", "entities", "in_memory")]
    if isinstance(params, CanonicalDatasetConfig):
        values = {k: getattr(params, k) for k in names}
    else:
        cls = registry.get("dataset", section.name).load()
        if not (isinstance(cls, type) and issubclass(cls, CanonicalDataset)) or not attrs.has(type(params)):
            raise SimulateError(
                f"the run's dataset {section.name!r} is not read from a canonical store, so --data cannot "
                "replace it; omit --data to simulate on the run's own dataset"
            )
        values = {k: getattr(params, k) for k in names if hasattr(params, k)}
    store = open_canonical(path, check=True)
    try:
        targets = tuple(values.get("target", ()))
        if targets and any(t not in store.variables for t in targets):
            values["target"] = ()
    finally:
        store.close()
    return DatasetComponent(name="core.canonical", params=CanonicalDatasetConfig(path=str(path), **values))


def resolve_period(
    dataset: Dataset, experiment: ExperimentConfig, warmup: int, *, period: str | None = None,
    start: str | None = None, end: str | None = None,
) -> tuple[str, TimeRange]:
    """Name and positions of the period to simulate.

    Parameters
    ----------
    period
        A period of the run's configuration (``train``, ``valid``, ``test``) or ``all``.
    start, end
        ISO dates of a custom period (inclusive); a missing one defaults to the first
        day after the warm-up or the last day of the data.

    Without ``period``, ``start`` and ``end``: ``all``, every day of the data after the
    first ``warmup`` days.
    """
    if period is not None and (start is not None or end is not None):
        raise SimulateError("give either a period name or --start/--end, not both")
    if period is not None and period != ALL:
        return period, period_range(dataset, experiment, period)
    days = np.asarray(dataset.times).astype("datetime64[D]")
    if len(days) <= warmup:
        raise PeriodError(f"the data hold {len(days)} days, not more than the {warmup} warm-up days the model needs")
    name = ALL if start is None and end is None else "custom"
    first = start if start is not None else str(days[warmup])
    last = end if end is not None else str(days[-1])
    if np.datetime64(last, "D") < np.datetime64(first, "D"):
        raise SimulateError(f"the period ends ({last}) before it starts ({first})")
    return name, time_range(dataset.times, first, last, name=name, warmup=warmup)


# -- layout ----------------------------------------------------------------------------------------
def _declarations(model: DModel) -> tuple[dict[str, Variable], dict[str, Variable], dict[str, Parameter]]:
    outputs: dict[str, Variable] = {}
    states: dict[str, Variable] = {}
    params: dict[str, Parameter] = {}
    for phy in getattr(model, "phy", {}).values():
        for v in phy.output_vars:
            outputs.setdefault(v.name, v)
        for v in phy.state_vars:
            states.setdefault(v.name, v)
        for p in phy.param_specs:
            params.setdefault(p.name, p)
    return outputs, states, params


def _layout(model: DModel, result: PeriodResult) -> tuple[list[_Slot], int]:
    """Every array of the store and the number of components, from the declarations and a chunk's shapes."""
    outputs, states, params = _declarations(model)
    dynamic = dynamic_parameter_names(model)
    slots: list[_Slot] = []
    for name, value in result.fluxes.items():
        var = outputs.get(name)
        units = var.units if var is not None and var.units else "unknown"
        long_name = var.long_name if var is not None and var.long_name else name
        if value.ndim == 2:
            dims: tuple[str, ...] = ("entity", TIME)
        elif value.ndim == 1:
            dims = ("entity",)
        else:
            raise SimulateError(f"output {name!r} has shape {value.shape}; expected [time, entity] or [entity]")
        slots.append(_Slot("", name, "flux", name, dims, False, {"units": units, "long_name": long_name}))
    end = str(result.times[-1])[:10]
    for name, value in result.states.items():
        var = states.get(name)
        units = var.units if var is not None and var.units else "unknown"
        long_name = f"{var.long_name if var is not None and var.long_name else name}, at the end of {end}"
        out = f"final_{name}"
        if value.ndim == 2:
            slots.append(_Slot("", out, "state", name, ("entity",), True,
                               {"units": units, "long_name": f"{long_name} (mean over components)"}))
            slots.append(_Slot(COMPONENTS, out, "state", name, ("entity", COMPONENT_DIM), False,
                               {"units": units, "long_name": long_name}))
        elif value.ndim == 1:
            slots.append(_Slot("", out, "state", name, ("entity",), False, {"units": units, "long_name": long_name}))
        else:
            raise SimulateError(f"state {name!r} has shape {value.shape}; expected [entity, component] or [entity]")
    taken = {s.name for s in slots}
    for name, value in result.parameters.items():
        spec = params.get(name)
        base = {"units": spec.units if spec is not None and spec.units else "1",
                "long_name": spec.description if spec is not None and spec.description else f"parameter {name}"}
        if spec is not None:
            base.update(valid_min=float(spec.lo), valid_max=float(spec.hi))
        out = f"param_{name}" if name in taken else name
        is_dynamic = name in dynamic or value.ndim == 3
        per_component = value.ndim == (3 if is_dynamic else 2)
        time_dims: tuple[str, ...] = (TIME,) if is_dynamic else ()
        kind = "dynamic" if is_dynamic else "static"
        if per_component:
            slots.append(_Slot("", out, "param", name, ("entity", *time_dims), True,
                               {**base, "long_name": f"{base['long_name']} ({kind}, mean over components)"}))
            slots.append(_Slot(COMPONENTS, out, "param", name, ("entity", *time_dims, COMPONENT_DIM), False,
                               {**base, "long_name": f"{base['long_name']} ({kind})"}))
        else:
            slots.append(_Slot("", out, "param", name, ("entity", *time_dims), False,
                               {**base, "long_name": f"{base['long_name']} ({kind})"}))
    reserved = {"entity", TIME, COMPONENT_DIM}
    clash = sorted({s.name for s in slots} & reserved)
    if clash:
        raise SimulateError(f"variables {clash} would shadow coordinates of the store; rename them in the PhyModel")
    sources = {"flux": result.fluxes, "state": result.states, "param": result.parameters}
    widths = {int(sources[s.kind][s.key].shape[-1]) for s in slots if COMPONENT_DIM in s.dims}
    if len(widths) > 1:
        raise SimulateError(f"per-component values have different numbers of components {sorted(widths)}")
    return slots, widths.pop() if widths else 1


def _values(slot: _Slot, result: PeriodResult) -> np.ndarray:
    """The chunk's values of ``slot`` in stored order (entity first), float32."""
    source = {"flux": result.fluxes, "state": result.states, "param": result.parameters}[slot.kind]
    value = np.asarray(source[slot.key], dtype=np.float32)
    has_time = TIME in slot.dims
    if has_time:  # [time, entity(, comp)] -> [entity, time(, comp)]
        value = np.swapaxes(value, 0, 1)
    if slot.reduce:
        value = value.mean(axis=-1, dtype=np.float64).astype(np.float32)
    return np.ascontiguousarray(value)


# -- writing ---------------------------------------------------------------------------------------
SIGNATURE = ".simulation_signature"


def _signature(ids: list[str], times: np.ndarray, chunk_size: int, warmup: int) -> str:
    """What must be equal for a partial store to be resumed: entities, days, chunking."""
    import hashlib

    h = hashlib.sha256()
    h.update("\n".join(ids).encode())
    h.update(np.asarray(times, dtype="datetime64[ns]").tobytes())
    h.update(f"{chunk_size}:{warmup}".encode())
    return h.hexdigest()


def _read_signature(tmp: Path) -> str | None:
    path = tmp / SIGNATURE
    return path.read_text() if path.is_file() else None

def _create_store(
    tmp: Path, slots: list[_Slot], edim: str, ids: list[str], times: np.ndarray, n_comp: int,
    chunk_size: int, store_attrs: Mapping[str, Any],
) -> zarr.Group:
    """Write coordinates (through xarray, for the canonical encodings) and empty arrays."""
    ids_array = np.asarray(ids, dtype=str)
    coords = {
        edim: (edim, ids_array, {"long_name": f"{edim} id"}),
        TIME: (TIME, np.asarray(times, dtype="datetime64[ns]"), {"long_name": "time"}),
    }
    xr.Dataset(coords=coords, attrs=dict(store_attrs)).to_zarr(tmp, mode="w", zarr_format=2, consolidated=False)
    if any(s.group == COMPONENTS for s in slots):
        comp = {COMPONENT_DIM: (COMPONENT_DIM, np.arange(n_comp, dtype=np.int64),
                                {"long_name": "parallel component of the PhyModel"})}
        xr.Dataset(coords={**coords, **comp}, attrs={"entity_dim": edim}).to_zarr(
            tmp, group=COMPONENTS, mode="w", zarr_format=2, consolidated=False
        )
    root = zarr.open_group(str(tmp), mode="r+")
    sizes = {"entity": len(ids), TIME: len(times), COMPONENT_DIM: n_comp}
    chunk_len = {"entity": chunk_size, TIME: DEFAULT_CHUNKS["time"], COMPONENT_DIM: n_comp}
    for slot in slots:
        group = root[slot.group] if slot.group else root
        shape = tuple(sizes[d] for d in slot.dims)
        chunks = tuple(max(1, min(chunk_len[d], sizes[d])) for d in slot.dims)
        names = [edim if d == "entity" else d for d in slot.dims]
        # ``create`` + ``attrs.update`` (not ``create_array``): the same calls in zarr-python 2 and 3
        array = group.create(slot.name, shape=shape, chunks=chunks, dtype="float32", fill_value=np.nan)
        array.attrs.update({"_ARRAY_DIMENSIONS": names, **slot.attrs})
    return root


def write_simulation(
    model: DModel,
    dataset: Dataset,
    period: TimeRange,
    warmup: int,
    out: str | Path,
    *,
    chunk_size: int = 100,
    device: str = "cpu",
    overwrite: bool = False,
    store_attrs: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> SimulationSummary:
    """Simulate ``period`` for every entity of ``dataset`` and write the store ``out``.

    Parameters
    ----------
    model
        The trained differentiable model.
    dataset
        Entities and inputs; its normalisation statistics must be set.
    period
        Positions of the period on the dataset's time axis.
    warmup
        Spin-up steps taken from before ``period.start``.
    out
        Target directory (conventionally ``.zarr``); see the module docstring for the layout.
    chunk_size
        Entities per forward pass and per region write (also the store's entity chunk).
    device
        Where the model runs.
    overwrite
        Replace an existing store at ``out``.
    store_attrs
        Extra global attributes (provenance).
    progress
        Show a progress bar over chunks (on a terminal only).

    Returns
    -------
    SimulationSummary
    """
    if chunk_size < 1:
        raise SimulateError(f"chunk size must be >= 1, got {chunk_size}")
    target = Path(out)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    edim = str(getattr(dataset, "entity_dim", "entity"))
    ids = [str(i) for i in dataset.entity_ids]
    times = np.asarray(dataset.times)[period.start : period.stop]
    signature = _signature(ids, times, chunk_size, warmup)
    done_dir = tmp / ".chunks_done"
    if tmp.exists() and (overwrite or _read_signature(tmp) != signature):
        shutil.rmtree(tmp)  # other settings (or --overwrite): the partial store cannot be reused
    all_chunks = list(entity_chunks(len(ids), chunk_size))
    if not all_chunks:
        raise SimulateError("the dataset has no entities to simulate")
    done = {int(p.name) for p in done_dir.iterdir()} if done_dir.is_dir() else set()
    todo = [(i, c) for i, c in enumerate(all_chunks) if i not in done]
    chunks: Iterable[tuple[int, np.ndarray]] = todo
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        chunks = tqdm(todo, desc="simulate", unit="chunk", file=sys.stderr, leave=False,
                      total=len(all_chunks), initial=len(done))
    attributes = {"delta_format": FORMAT, "entity_dim": edim, "title": "deltamod simulation",
                  "components_group": COMPONENTS, "warmup_days": int(warmup), **(store_attrs or {})}
    root: zarr.Group | None = zarr.open_group(str(tmp), mode="r+") if done else None
    slots: list[_Slot] = []
    for index, chunk in chunks:
        result = simulate_period(model, dataset, period, warmup, chunk_size=len(chunk), entities=chunk,
                                 device=device)
        if not slots:
            slots, n_comp = _layout(model, result)
            if root is None:
                root = _create_store(tmp, slots, edim, ids, times, n_comp, chunk_size, attributes)
                (tmp / SIGNATURE).write_text(signature)
                done_dir.mkdir()
        assert root is not None
        region = slice(int(chunk[0]), int(chunk[-1]) + 1)
        for slot in slots:
            group = root[slot.group] if slot.group else root
            group[slot.name][region] = _values(slot, result)  # type: ignore[index]
        (done_dir / str(index)).touch()  # only after every array of the chunk is written
    try:
        zarr.consolidate_metadata(str(tmp))
        written = open_canonical(tmp, check=False)
        try:  # the writer's own guarantee: the root group is a canonical dataset
            validate(written, count_nan=False).raise_if_invalid(f"simulation store {target}")
        finally:
            written.close()
        shutil.rmtree(done_dir)
        (tmp / SIGNATURE).unlink()
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        # a store that fails its own validation is not resumable: do not keep it
        if tmp.exists() and not (tmp / SIGNATURE).exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SimulationSummary(
        target, edim, len(ids), times.astype("datetime64[ns]"),
        tuple(s.name for s in slots if not s.group), tuple(s.name for s in slots if s.group),
    )


def simulate_run(
    run_dir: str | Path,
    registry: Registry,
    out: str | Path,
    *,
    data: str | Path | None = None,
    period: str | None = None,
    start: str | None = None,
    end: str | None = None,
    checkpoint: str = "best",
    chunk_size: int | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = False,
) -> SimulationSummary:
    """Run the trained model of ``run_dir`` over a whole period and write ``out``.

    Parameters
    ----------
    run_dir
        A run directory of ``delta train``.
    registry
        The plugin registry (components of the run's configuration).
    out
        Target Zarr store; see the module docstring for the layout.
    data
        Canonical store to simulate (see :func:`simulation_data_section`); default the
        run's own dataset.
    period, start, end
        What to simulate (see :func:`resolve_period`); default every day after the warm-up.
    checkpoint
        ``best``, ``last`` or an epoch number.
    chunk_size
        Entities per forward pass and write; default the trainer's ``eval_chunk`` (else 100).
    device, overwrite, progress
        See :func:`write_simulation`.
    """
    target = Path(out)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    run = RunDir(Path(run_dir))
    section = None
    if data is not None:
        experiment = load_experiment(run.path / "config.yaml", registry)
        section = simulation_data_section(experiment, registry, data)
    loaded = load_run(run.path, registry, checkpoint, data=section)
    experiment, dataset = loaded.experiment, loaded.dataset
    warmup = warmup_of(experiment)
    name, rng = resolve_period(dataset, experiment, warmup, period=period, start=start, end=end)
    dataset.check_complete(rng, warmup, name)
    if chunk_size is None:
        chunk_size = int(getattr(getattr(experiment.train, "params", None), "eval_chunk", 100) or 100)
    model = loaded.model.to(device)
    which = checkpoint if checkpoint != "best" or run.checkpoint_path("best").is_file() else "last"
    provenance = {
        "source_run": str(run.path.resolve()),
        "experiment": experiment.name,
        "checkpoint": f"{which} (epoch {loaded.checkpoint['epoch']})",
        "period": name,
        "data": str(Path(data).resolve()) if data is not None else f"the run's dataset ({experiment.data.name})",
        "phy_model": ", ".join(type(m).__name__ for m in getattr(model, "phy", {}).values()),
        "history": f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} delta simulate",
    }
    return write_simulation(model, dataset, rng, warmup, target, chunk_size=chunk_size, device=device,
                            overwrite=overwrite, store_attrs=provenance, progress=progress)
