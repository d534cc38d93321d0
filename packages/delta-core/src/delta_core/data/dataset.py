"""``core.canonical``: a :class:`~delta_core.interfaces.dataset.Dataset` over a canonical store.

Reading is lazy by default: a batch reads only the Zarr chunks that hold its entities
and window, so memory is bounded by the batch, not by the dataset. With
``in_memory: true`` the selected variables are loaded once (faster for small sets).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from delta_core.data.canonical import TIME, entity_dim, open_canonical
from delta_core.data.chunk_reader import ChunkedArray, UnsupportedArray
from delta_core.data.config import CanonicalDatasetConfig
from delta_core.data.normalize import NormalizationError, Normalizer, VariableStats, forward_transform
from delta_core.data.periods import PeriodError, TimeRange, missing_spans
from delta_core.data.sampling import entity_chunks
from delta_core.interfaces.dataset import Dataset, Sample
from delta_core.interfaces.specs import Variable

DYNAMIC_GROUPS = ("x_phy", "x_nn", "target")
STATIC_GROUPS = ("c_phy", "c_nn")
NORMALISED = ("x_nn", "c_nn")


class DatasetError(ValueError):
    """A dataset configuration that does not fit the store; names the file and variable."""


class CanonicalDataset(Dataset):
    """Entities × days from a canonical Zarr/NetCDF store, served as samples.

    Parameters
    ----------
    config
        Which variables feed which sample key (see :class:`CanonicalDatasetConfig`).
    data
        An already opened dataset to use instead of ``config.path`` (tests, in-memory).
    """

    def __init__(self, config: CanonicalDatasetConfig, data: xr.Dataset | None = None) -> None:
        self.config = config
        self.source = config.path
        groups = {g: tuple(getattr(config, g)) for g in (*DYNAMIC_GROUPS, *STATIC_GROUPS)}
        every = sorted({v for names in groups.values() for v in names})
        from_store = data is None
        if data is None:
            data = open_canonical(config.path, required=every)
        self._groups = groups
        self._edim = entity_dim(data)
        self._check_variables(data, groups)
        all_ids = [str(i) for i in data[self._edim].values.tolist()]
        if config.entities is not None:
            position = {e: i for i, e in enumerate(all_ids)}
            unknown = [e for e in config.entities if e not in position]
            if unknown:
                raise DatasetError(
                    f"{self.source}: unknown {self._edim} ids {unknown[:5]}"
                    f"{' ...' if len(unknown) > 5 else ''}; the store has {len(all_ids)}, e.g. {all_ids[:5]}"
                )
            self._positions = np.array([position[e] for e in config.entities], dtype=np.int64)
        else:
            self._positions = np.arange(len(all_ids), dtype=np.int64)
        self._ids = [all_ids[i] for i in self._positions]
        self._times = data[TIME].values.astype("datetime64[ns]")
        self._data = data
        self._variables = {
            g: tuple(Variable(v, str(data[v].attrs.get("units", "")), str(data[v].attrs.get("long_name", "")))
                     for v in names)
            for g, names in groups.items()
        }
        self.normalizer: Normalizer | None = None
        self._fast = _fast_arrays(Path(config.path), every) if from_store else {}
        self._memory: dict[str, np.ndarray] | None = None
        if config.in_memory:
            self._memory = {v: np.asarray(data[v].isel({self._edim: self._positions}).values) for v in every}

    # -- declarations ------------------------------------------------------------------
    @property
    def entity_ids(self) -> Sequence[str]:
        """Entity ids in use, in sample order."""
        return self._ids

    @property
    def times(self) -> np.ndarray:
        """Daily time axis, ``datetime64[ns]``."""
        return self._times

    @property
    def variables(self) -> dict[str, tuple[Variable, ...]]:
        """Variables behind each sample key, with units from the store."""
        return self._variables

    @property
    def entity_dim(self) -> str:
        """Name of the entity dimension in the store (``basin`` for hydrology)."""
        return self._edim

    # -- reading -----------------------------------------------------------------------
    def _check_variables(self, data: xr.Dataset, groups: dict[str, tuple[str, ...]]) -> None:
        problems = []
        for group, names in groups.items():
            want = (self._edim, TIME) if group in DYNAMIC_GROUPS else (self._edim,)
            for name in names:
                var = data[name]
                if tuple(map(str, var.dims)) != want:
                    problems.append(f"{group} variable {name!r} has dims {tuple(var.dims)}, expected {want}")
                elif var.dtype.kind not in "fiu":
                    problems.append(f"{group} variable {name!r} is {var.dtype}, expected numbers")
        if problems:
            raise DatasetError(f"{self.source}: " + "; ".join(problems))

    def read_series(self, names: Iterable[str], entities: np.ndarray, start: int, length: int) -> np.ndarray:
        """Raw values ``[entity, time, var]`` (float32) for entity positions ``entities``."""
        names = list(names)
        out = np.empty((len(entities), length, len(names)), dtype=np.float32)
        if self._memory is not None:
            for k, name in enumerate(names):
                out[..., k] = self._memory[name][entities, start : start + length]
            return out
        stored = self._positions[entities]
        for k, name in enumerate(names):
            if name in self._fast:
                out[..., k] = self._fast[name].rows(stored, start, start + length)
            else:
                out[..., k] = self._data[name].variable[stored, start : start + length].values
        return out

    def read_static(self, names: Iterable[str], entities: np.ndarray) -> np.ndarray:
        """Raw values ``[entity, var]`` (float32)."""
        names = list(names)
        out = np.empty((len(entities), len(names)), dtype=np.float32)
        for k, name in enumerate(names):
            if self._memory is not None:
                out[:, k] = self._memory[name][entities]
            elif name in self._fast:
                out[:, k] = self._fast[name].rows(self._positions[entities])
            else:
                out[:, k] = self._data[name].variable[self._positions[entities]].values
        return out

    # -- preparation ---------------------------------------------------------------------
    def fit_normalizer(self, period: TimeRange, chunk_size: int = 256) -> Normalizer:
        """Statistics of ``x_nn``/``c_nn`` over these entities and ``period`` only.

        Reads in entity chunks, so memory stays bounded for large stores.
        """
        transforms = self.config.transforms
        names_dyn, names_sta = self._groups["x_nn"], self._groups["c_nn"]
        acc = {name: np.zeros(3) for name in (*names_dyn, *names_sta)}  # count, sum, sum of squares
        for chunk in entity_chunks(len(self._ids), chunk_size):
            parts = []
            if names_dyn:
                series = self.read_series(names_dyn, chunk, period.start, period.length)
                parts += [(n, series[..., k]) for k, n in enumerate(names_dyn)]
            if names_sta:
                static = self.read_static(names_sta, chunk)
                parts += [(n, static[:, k]) for k, n in enumerate(names_sta)]
            for name, values in parts:
                v = forward_transform(values.astype(np.float64), transforms.get(name, "none"), name)
                v = v[np.isfinite(v)]
                acc[name] += (v.size, v.sum(), np.square(v).sum())
        stats = {}
        for name, (n, s, ss) in acc.items():
            if n == 0:
                raise NormalizationError(f"{self.source}: variable {name!r} has no finite value in the training data")
            mean = s / n
            std = float(np.sqrt(max(ss / n - mean * mean, 0.0)))
            if not std > 1e-12 * max(1.0, abs(mean)):
                raise NormalizationError(
                    f"{self.source}: variable {name!r} is constant ({mean:g}) over the training data; "
                    "it carries no information for the network: remove it from the inputs"
                )
            stats[name] = VariableStats(transforms.get(name, "none"), float(mean), std)
        self.normalizer = Normalizer(stats)
        return self.normalizer

    def set_normalizer(self, normalizer: Normalizer) -> None:
        """Use previously saved statistics (resume, test, simulate)."""
        self.normalizer = normalizer

    def check_complete(self, period: TimeRange, warmup: int, name: str, chunk_size: int = 256) -> None:
        """Fail if an input needed in ``period`` (with warm-up) is missing for an entity.

        PhyModel inputs may never be NaN; network inputs only where a ``fill`` rule
        exists. Targets may be NaN (masked in losses).

        Raises
        ------
        PeriodError
            Naming the period, the entity, the variable and the missing dates.
        """
        start = period.start - warmup
        days = self._times.astype("datetime64[D]")[start : period.stop]
        fill = self.config.fill
        checks = [(g, n) for g in ("x_phy", "x_nn") for n in self._groups[g] if not (g == "x_nn" and n in fill)]
        static = [(g, n) for g in STATIC_GROUPS for n in self._groups[g] if not (g == "c_nn" and n in fill)]
        problems: list[str] = []
        for chunk in entity_chunks(len(self._ids), chunk_size):
            for group, var in checks:
                values = self.read_series([var], chunk, start, period.stop - start)[..., 0]
                for row in np.nonzero(~np.isfinite(values).all(axis=1))[0]:
                    spans = missing_spans(np.isfinite(values[row]), days)
                    entity = self._ids[chunk[row]]
                    problems.append(f"{self._edim} {entity!r}: {group} variable {var!r} missing on {spans}")
            for group, var in static:
                values = self.read_static([var], chunk)[:, 0]
                for row in np.nonzero(~np.isfinite(values))[0]:
                    problems.append(f"{self._edim} {self._ids[chunk[row]]!r}: {group} attribute {var!r} is missing")
            if len(problems) > 20:
                break
        if problems:
            shown = problems[:10]
            more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
            raise PeriodError(
                f"{self.source}: period {name!r} ({days[0]} .. {days[-1]}, incl. {warmup} warm-up days) "
                "cannot be served:\n  " + "\n  ".join(shown) + more
                + "\n(add a `fill` rule for network inputs, or choose other entities or dates)"
            )

    def target_std(self, period: TimeRange, chunk_size: int = 256) -> np.ndarray:
        """Per-entity standard deviation of each target over ``period`` ``[entity, n_target]`` (NaN ignored)."""
        names = self._groups["target"]
        out = np.full((len(self._ids), len(names)), np.nan, dtype=np.float32)
        for chunk in entity_chunks(len(self._ids), chunk_size):
            values = self.read_series(names, chunk, period.start, period.length)
            with warnings.catch_warnings():  # all-NaN entities give NaN, on purpose
                warnings.simplefilter("ignore", RuntimeWarning)
                out[chunk] = np.nanstd(values, axis=1)
        return out

    # -- samples -------------------------------------------------------------------------
    def sample(self, entities: Sequence[int], start: int, length: int) -> Sample:
        """Sample for entity positions ``entities`` over ``times[start:start + length]``.

        See :mod:`delta_core.interfaces.dataset` for keys and layouts; network inputs are
        normalised with :attr:`normalizer` (fit or load it first).
        """
        idx = np.asarray(entities, dtype=np.int64)
        if start < 0 or start + length > len(self._times):
            raise DatasetError(
                f"{self.source}: window [{start}, {start + length}) is outside the time axis of {len(self._times)} days"
            )
        out: Sample = {
            "entity_index": torch.from_numpy(idx.copy()),
            "time_index": torch.arange(start, start + length),
        }
        wanted = list(dict.fromkeys(v for g in DYNAMIC_GROUPS for v in self._groups[g]))
        series = self.read_series(wanted, idx, start, length) if wanted else None
        for group in DYNAMIC_GROUPS:
            names = self._groups[group]
            if names and series is not None:
                values = series[..., [wanted.index(n) for n in names]]
                if group == "x_nn":
                    values = self._normalise(names, values)
                out[group] = torch.from_numpy(np.ascontiguousarray(values.transpose(1, 0, 2)))
        for group in STATIC_GROUPS:
            names = self._groups[group]
            if names:
                values = self.read_static(names, idx)
                if group == "c_nn":
                    values = self._normalise(names, values)
                out[group] = torch.from_numpy(values)
        return out

    def _normalise(self, names: Sequence[str], values: np.ndarray) -> np.ndarray:
        if self.normalizer is None:
            raise DatasetError(f"{self.source}: network inputs need normalisation statistics; fit or load them first")
        out = np.empty_like(values)
        for k, name in enumerate(names):
            z = self.normalizer.apply(name, values[..., k])
            if name in self.config.fill:
                z = np.where(np.isfinite(z), z, np.float32(self.config.fill[name]))
            out[..., k] = z
        return out


def _fast_arrays(path: Path, names: Iterable[str]) -> dict[str, ChunkedArray]:
    """Direct chunk readers for the variables of a Zarr v2 store; empty when not applicable."""
    if not path.is_dir():
        return {}
    arrays = {}
    for name in names:
        try:
            arrays[name] = ChunkedArray(path, name)
        except UnsupportedArray:
            return {}  # mixed paths are not worth it: use xarray for all
    return arrays


def open_dataset(path: str | Path, **groups: Sequence[str]) -> CanonicalDataset:
    """Convenience: a :class:`CanonicalDataset` over ``path`` with the given variable groups."""
    return CanonicalDataset(CanonicalDatasetConfig(path=str(path), **{k: tuple(v) for k, v in groups.items()}))
