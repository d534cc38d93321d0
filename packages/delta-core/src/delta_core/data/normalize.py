"""Normalisation statistics for network inputs, fitted on training data only.

For each variable ``v`` with transform ``f`` (``none``, ``log1p``, ``sqrt``) the
normalised value is ``(f(v) - mean) / std`` where ``mean`` and ``std`` are computed
over the training entities and the training period only (NaN ignored), and reused
unchanged at validation and test time: the statistics are saved with each run.
Skewed, non-negative variables such as precipitation and streamflow usually get
``log1p`` or ``sqrt`` (Feng et al. 2020, WRR 56:e2019WR026793 use a log-sqrt form).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import attrs
import numpy as np

Transform = Literal["none", "log1p", "sqrt"]
TRANSFORMS: tuple[str, ...] = ("none", "log1p", "sqrt")


class NormalizationError(ValueError):
    """Statistics that cannot be computed or applied; names the variable."""


def forward_transform(values: np.ndarray, transform: str, name: str = "") -> np.ndarray:
    """Apply ``transform`` to ``values``; negative input to log1p/sqrt is an error."""
    if transform == "none":
        return values
    if transform not in TRANSFORMS:
        raise NormalizationError(f"variable {name!r}: unknown transform {transform!r}; choose from {TRANSFORMS}")
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() < 0:
        raise NormalizationError(
            f"variable {name!r}: transform {transform!r} needs values >= 0, found {finite.min():g}"
        )
    return np.log1p(values) if transform == "log1p" else np.sqrt(values)


@attrs.frozen
class VariableStats:
    """Statistics of one variable after its transform."""

    transform: str
    mean: float
    std: float


@attrs.frozen
class Normalizer:
    """Per-variable statistics; apply with :meth:`apply`, persist with :meth:`save`.

    Attributes
    ----------
    stats
        Statistics by variable name.
    """

    stats: dict[str, VariableStats]

    @classmethod
    def fit(
        cls, arrays: Mapping[str, np.ndarray], transforms: Mapping[str, str] | None = None
    ) -> Normalizer:
        """Compute statistics from training-data arrays (any shape, NaN ignored).

        Raises
        ------
        NormalizationError
            If a variable has no finite value or zero spread (nothing to learn from).
        """
        transforms = transforms or {}
        stats = {}
        for name, values in arrays.items():
            t = transforms.get(name, "none")
            v = forward_transform(np.asarray(values, dtype=np.float64), t, name)
            finite = v[np.isfinite(v)]
            if finite.size == 0:
                raise NormalizationError(f"variable {name!r} has no finite value in the training data")
            std = float(finite.std())
            if not std > 0:
                raise NormalizationError(
                    f"variable {name!r} is constant ({float(finite[0]):g}) in the training data; "
                    "it carries no information for the network: remove it from the inputs"
                )
            stats[name] = VariableStats(t, float(finite.mean()), std)
        return cls(stats)

    def apply(self, name: str, values: np.ndarray) -> np.ndarray:
        """Normalise ``values`` of variable ``name`` (float32 result)."""
        if name not in self.stats:
            raise NormalizationError(f"no statistics for variable {name!r}; known: {', '.join(self.stats)}")
        s = self.stats[name]
        out = (forward_transform(values.astype(np.float64), s.transform, name) - s.mean) / s.std
        return out.astype(np.float32)

    def to_dict(self) -> dict[str, dict[str, float | str]]:
        """Plain data for JSON."""
        return {k: attrs.asdict(v) for k, v in self.stats.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, float | str]]) -> Normalizer:
        """Inverse of :meth:`to_dict`."""
        return cls({k: VariableStats(str(v["transform"]), float(v["mean"]), float(v["std"])) for k, v in data.items()})

    def save(self, path: str | Path) -> None:
        """Write JSON atomically (temporary file, then rename)."""
        p = Path(path)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | Path) -> Normalizer:
        """Read statistics written by :meth:`save`."""
        p = Path(path)
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except FileNotFoundError:
            raise NormalizationError(f"{p}: normalisation statistics not found") from None
        except (KeyError, ValueError, TypeError) as exc:
            raise NormalizationError(f"{p}: not a normalisation file: {exc}") from None
