"""A test plugin (namespace ``toy``) loaded directly, not through an entry point."""

from __future__ import annotations

import attrs

from delta_core.config.validators import in_range, one_of, positive
from delta_core.plugins import hookimpl
from delta_core.plugins.registry import PluginRegistrar


@attrs.frozen
class BucketConfig:
    nmul: int = attrs.field(default=4, validator=positive)
    variant: str = attrs.field(default="a", validator=one_of(("a", "b")))
    dynamic: tuple[str, ...] = ()
    k: float = attrs.field(default=0.5, validator=in_range(0.0, 1.0))


@attrs.frozen
class SourceConfig:
    basins: tuple[str, ...] = ()
    path: str = "data.zarr"


@attrs.frozen
class TrainConfig:
    epochs: int = attrs.field(default=10, validator=positive)
    lr: float = attrs.field(default=1e-3, validator=positive)
    batch_size: int = attrs.field(default=8, validator=positive)


PRESET = {
    "name": "toy-default",
    "data": {"name": "toy.source", "params": {"basins": ["01013500"]}},
    "model": {"phy": {"name": "toy.bucket"}, "nn": "toy.net"},
    "train": {"name": "toy.trainer"},
}


@hookimpl
def delta_register(registry: PluginRegistrar) -> None:
    registry.add_phy("toy.bucket", "tests.core.plugins.toy_impl:Bucket", config="tests.core.plugins.toy:BucketConfig",
                     summary="a toy bucket")
    registry.add_nn("toy.net", "tests.core.plugins.toy_impl:Net", summary="a toy network")
    registry.add_dataset("toy.source", "tests.core.plugins.toy_impl:Source",
                         config="tests.core.plugins.toy:SourceConfig")
    registry.add_trainer("toy.trainer", "tests.core.plugins.toy_impl:RecordingTrainer",
                         config="tests.core.plugins.toy:TrainConfig")
    registry.add_preset("toy.bucket", "tests.core.plugins.toy:PRESET", summary="toy default experiment")
