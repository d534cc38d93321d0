"""The core experiment schema (torch-free).

An experiment file looks like this; every component section is ``{name, params}``
(or just the name), where ``name`` is resolved in the plugin registry and ``params``
is structured by that component's own config class::

    name: dhbv-camels
    seed: 42
    device: cpu
    data:
      name: hydro.camels_us
      params: {path: camels.zarr}
    model:
      name: core.param_learning       # the coupling (default)
      params: {warmup: 365}
      phy: {name: hydro.hbv, params: {variant: "1.1p", nmul: 16}}
      nn: {name: nn.lstm, params: {hidden_size: 256}}
    train: {name: core.trainer, params: {epochs: 50}}
    loss: core.nse_batch
    periods:
      train: [1980-10-01, 1995-09-30]
      test: [1995-10-01, 2010-09-30]
    output_dir: runs
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

import attrs

from delta_core.config.validators import non_negative


@attrs.frozen
class ComponentConfig:
    """A component section: a registered ``name`` and its structured ``params``.

    ``params`` is an instance of the component's config class (or ``None`` for
    components without options) after loading; :attr:`KIND` says which registry
    kind ``name`` is looked up in.
    """

    KIND: ClassVar[str] = ""
    DEFAULT: ClassVar[str | None] = None  # name used when a section gives only params
    name: str
    params: Any = None


@attrs.frozen
class PhyComponent(ComponentConfig):
    """A PhyModel section."""

    KIND: ClassVar[str] = "phy"


@attrs.frozen
class NNComponent(ComponentConfig):
    """A network section."""

    KIND: ClassVar[str] = "nn"


@attrs.frozen
class DModelComponent(ComponentConfig):
    """A coupling section."""

    KIND: ClassVar[str] = "dmodel"


@attrs.frozen
class DatasetComponent(ComponentConfig):
    """A dataset section."""

    KIND: ClassVar[str] = "dataset"


@attrs.frozen
class TrainerComponent(ComponentConfig):
    """A trainer section (``name`` defaults to the core's ``core.trainer``)."""

    KIND: ClassVar[str] = "trainer"
    DEFAULT: ClassVar[str | None] = "core.trainer"


@attrs.frozen
class LossComponent(ComponentConfig):
    """A loss section."""

    KIND: ClassVar[str] = "loss"


@attrs.frozen
class MetricComponent(ComponentConfig):
    """A metric section."""

    KIND: ClassVar[str] = "metric"


@attrs.frozen
class ModelConfig:
    """The differentiable model: a coupling, its PhyModel(s) and network(s).

    In YAML the coupling's ``name`` (default ``core.param_learning``) and ``params``
    sit beside ``phy`` and ``nn``, each of which is one component section or a list.
    """

    coupling: DModelComponent
    phy: tuple[PhyComponent, ...]
    nn: tuple[NNComponent, ...]


DEFAULT_COUPLING = "core.param_learning"


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _DATE_RE.match(value):
        raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"invalid date {value!r}: {exc}") from None


@attrs.frozen
class Period:
    """A closed date interval ``[start, end]`` (ISO dates, inclusive)."""

    start: str = attrs.field(validator=_iso_date)
    end: str = attrs.field(validator=_iso_date)

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")


@attrs.frozen
class Periods:
    """Training, validation and test periods; each ``[start, end]`` or absent."""

    train: Period | None = None
    valid: Period | None = None
    test: Period | None = None


_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")


def _device(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _DEVICE_RE.match(value):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {value!r}")


@attrs.frozen
class ExperimentConfig:
    """A complete experiment; see the module docstring for the YAML layout."""

    data: DatasetComponent
    model: ModelConfig
    name: str = "experiment"
    seed: int = attrs.field(default=0, validator=non_negative)
    device: str = attrs.field(default="cpu", validator=_device)
    train: TrainerComponent | None = None
    loss: LossComponent | None = None
    metrics: tuple[MetricComponent, ...] = ()
    periods: Periods = attrs.field(factory=Periods)
    output_dir: str = "runs"
