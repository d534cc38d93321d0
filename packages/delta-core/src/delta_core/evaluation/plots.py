"""PNG figures of an evaluation (``delta test RUN --plots``).

- ``hydrograph_<period>_<entity>.png``: observed and simulated series of one entity
  over the period, with its NSE and KGE in the title (missing observations leave gaps);
- ``cdf_<period>_<metric>.png``: empirical cumulative distribution of one metric
  across entities (entities where it is undefined are left out and counted).

Figures are drawn with matplotlib's Agg canvas directly (no ``pyplot``): nothing
global is changed, no display is needed, and matplotlib is imported only when a
figure is drawn, never by importing this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BOUNDED_ABOVE_BY_ONE = ("NSE", "KGE")
"""Skill scores whose CDF is shown on ``[-1, 1]`` (a long negative tail would hide the rest)."""


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def safe_name(text: str) -> str:
    """``text`` reduced to characters safe in a file name (others become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def hydrograph(
    path: Path, times: np.ndarray, observed: np.ndarray, simulated: np.ndarray, *, title: str, units: str = "",
    label: str = "streamflow",
) -> Path:
    """Write one entity's observed vs simulated series to ``path`` (PNG).

    Parameters
    ----------
    times
        ``[time]`` ``datetime64`` days.
    observed, simulated
        ``[time]`` values in ``units``; NaN in ``observed`` leaves a gap.
    title
        Figure title (entity id and scores).
    """
    fig = _figure(10, 3.6)
    ax = fig.add_subplot()
    t = np.asarray(times).astype("datetime64[D]")
    ax.plot(t, observed, color="black", linewidth=0.9, label="observed")
    ax.plot(t, simulated, color="tab:blue", linewidth=0.9, alpha=0.85, label="simulated")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(f"{label} ({units})" if units else label)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.savefig(path, format="png")
    return path


def metric_cdf(path: Path, name: str, values: np.ndarray) -> Path:
    """Write the empirical CDF of ``values`` (one per entity) to ``path`` (PNG).

    Non-finite values (metric undefined for an entity) are left out; the title says
    how many entities are shown. NSE and KGE are shown on ``[-1, 1]``, the number of
    entities below -1 is noted.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.sort(v[np.isfinite(v)])
    fig = _figure(5, 4)
    ax = fig.add_subplot()
    if finite.size:
        y = np.arange(1, finite.size + 1) / finite.size
        ax.step(np.concatenate([[finite[0]], finite]), np.concatenate([[0.0], y]), where="post", color="tab:blue")
        median = float(np.median(finite))
        ax.axvline(median, color="grey", linestyle="--", linewidth=0.8, label=f"median {median:.3f}")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "undefined for every entity", ha="center", va="center", transform=ax.transAxes)
    title = f"{name}: {finite.size} of {v.size} entities"
    if name in BOUNDED_ABOVE_BY_ONE and finite.size and finite[0] < -1:
        below = int((finite < -1).sum())
        ax.set_xlim(-1, 1)
        title += f" ({below} below -1)"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(name)
    ax.set_ylabel("fraction of entities")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    fig.savefig(path, format="png")
    return path


def write_plots(
    out_dir: Path,
    period: str,
    times: np.ndarray,
    entity_ids: Sequence[str],
    observed: np.ndarray,
    simulated: np.ndarray,
    table: Mapping[str, np.ndarray],
    *,
    units: str = "",
    label: str = "streamflow",
) -> list[Path]:
    """Every hydrograph and metric CDF of an evaluation, into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for the PNG files (created if needed).
    period
        Period name used in the file names.
    times
        ``[time]`` days of the period.
    entity_ids
        Entity ids in column order.
    observed, simulated
        ``[time, entity]`` series.
    table
        Metric values by name, each ``[entity]``.
    units, label
        Units and name of the compared variable (axis label).

    Returns
    -------
    list of Path
        The files written: hydrographs in entity order, then one CDF per metric.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    scores = [m for m in ("NSE", "KGE") if m in table]
    used: set[str] = set()
    for i, entity in enumerate(entity_ids):
        name = safe_name(str(entity))
        while name in used:  # two ids that differ only in unsafe characters
            name += "_"
        used.add(name)
        title = f"{entity}: " + ", ".join(f"{m} {table[m][i]:.3f}" for m in scores) if scores else str(entity)
        written.append(hydrograph(out_dir / f"hydrograph_{safe_name(period)}_{name}.png", times, observed[:, i],
                                  simulated[:, i], title=title, units=units, label=label))
    for metric, values in table.items():
        written.append(metric_cdf(out_dir / f"cdf_{safe_name(period)}_{safe_name(metric)}.png", metric, values))
    return written
