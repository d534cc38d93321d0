"""CAMELS-US → canonical dataset (entity dimension ``basin``).

Reads the official CAMELS-US layout under ``src``::

    basin_mean_forcing/<product>/<huc>/<id>_lump_<...>_forcing_leap.txt   product: daymet | nldas | maurer
    usgs_streamflow/<huc>/<id>_streamflow_qc.txt
    model_output/flow_timeseries/<product>/<huc>/<id>_05_model_output.txt  (SAC-SMA benchmark, seed 05)
    camels_attributes_v2.0/camels_{clim,geol,hydro,name,soil,topo,vege}.txt

Basins
------
The basins of an import are those with a forcing file of the chosen product or a
benchmark model output file driven by it (``--basins`` selects among them).

- A basin **with a forcing file** takes its forcing from it; PET is computed (see
  ``pet_method``); Q is the USGS streamflow converted with the area of the forcing
  file header, or ``OBS_RUN`` of its model output file when it has no streamflow file.
- A basin **with only a model output file** takes P (``PRCP``), T (``TAIR``) and PET
  (``PET``, Priestley-Taylor as computed by CAMELS) from it; Q is its USGS streamflow
  when present (converted with ``area_gages2`` of camels_topo: there is no forcing
  header), else ``OBS_RUN``. The USGS file is preferred because ``OBS_RUN`` holds 0
  instead of a missing value where the USGS record is missing, and in some files over
  whole years (07373000: from 2011 on, while USGS reports flow).

Where each basin's data came from is stored in the string variables
``forcing_source``, ``pet_method``, ``q_source`` and ``area_source``: nothing is mixed
silently.

Time span
---------
One daily axis from the earliest to the latest date of any file read (the union of the
records); a basin's variables are NaN outside its own records and on days its files
lack. Importing all basins of the shared test folder with Daymet gives 1980-01-01 ..
2014-12-31.

Variables
---------
====================  ===============  ==============================================================
name                  units            long_name / source
====================  ===============  ==============================================================
P                     mm/day           precipitation; forcing ``prcp`` or model output ``PRCP``
T                     degC             daily mean air temperature, (tmin + tmax) / 2; or ``TAIR``
tmin, tmax            degC             daily minimum / maximum air temperature (forcing files only)
PET                   mm/day           potential evapotranspiration, method in ``pet_method``:
                                       ``hargreaves`` (Hargreaves & Samani 1985 from tmin, tmax,
                                       latitude, day of year), ``priestley_taylor`` (FAO-56 net
                                       radiation from srad, dayl, vp, tmin, tmax; used when a product's
                                       tmin equals tmax, as NLDAS and Maurer in CAMELS v1.2) or
                                       ``camels_model_output`` (Priestley-Taylor PET of the file)
srad                  W m-2            incoming shortwave radiation, daylight average (forcing files)
vp                    Pa               water vapour pressure (forcing files)
dayl                  s                day length (forcing files)
swe                   mm               snow water equivalent column of the forcing files, as given
                                       (0 throughout in many CAMELS files: see its ``comment``)
Q                     mm/day           observed streamflow, Q_cfs · 0.3048³ · 86400 / area_m² · 1000;
                                       NaN for -999 and flag M; source in ``q_source``
Q_sacsma              mm/day           SAC-SMA + Snow-17 benchmark simulation ``MOD_RUN`` (seed 05);
                                       only when a model output file exists
latitude              degrees_north    basin latitude, forcing file header line 1 (NaN without one)
elevation             m                basin mean elevation, forcing header line 2 (NaN without one)
area                  km2              basin area used for Q: forcing header line 3, else area_gages2
forcing_source        (text)           daymet | nldas | maurer | model_output
pet_method            (text)           hargreaves | priestley_taylor | camels_model_output
q_source              (text)           usgs_streamflow | model_output | none
area_source           (text)           forcing_header | camels_topo.area_gages2
<attribute>           see attributes   every column of camels_attributes_v2.0 (p_mean, aridity, ...):
                                       numeric as float64 with units, categorical as text
====================  ===============  ==============================================================

Time series are float32 (``dtype``), static numbers float64. References: Newman et al.
(2015), doi:10.5194/hess-19-209-2015; Addor et al. (2017), doi:10.5194/hess-21-5293-2017.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import xarray as xr

from delta_core.data.importers import DataImportError
from delta_core.data.importers.common import as_str_array, daily_axis, place_on_axis, progress, short_list
from delta_hydro.camels.attributes import ATTRIBUTES, STRING_ATTRIBUTES
from delta_hydro.camels.readers import (
    AttributeTable,
    ForcingFile,
    read_attributes,
    read_forcing,
    read_model_output,
    read_streamflow,
)

PRODUCTS = ("daymet", "nldas", "maurer")
PET_METHODS = ("auto", "hargreaves", "priestley-taylor")
CFS_TO_M3S = 0.3048**3
ATTRIBUTES_DIR = "camels_attributes_v2.0"

_FORCING_NAME = re.compile(r"(?P<id>\d{8,15})_lump_[A-Za-z0-9]+_forcing(_leap)?\.txt")
_STREAMFLOW_NAME = re.compile(r"(?P<id>\d{8,15})_streamflow_qc\.txt")

SERIES: dict[str, tuple[str, str]] = {
    "P": ("mm/day", "precipitation"),
    "T": ("degC", "daily mean air temperature, (tmin + tmax) / 2"),
    "tmin": ("degC", "daily minimum air temperature"),
    "tmax": ("degC", "daily maximum air temperature"),
    "PET": ("mm/day", "potential evapotranspiration"),
    "srad": ("W m-2", "incoming shortwave radiation, average over the daylight period"),
    "vp": ("Pa", "water vapour pressure"),
    "dayl": ("s", "day length"),
    "swe": ("mm", "snow water equivalent (column of the forcing file)"),
    "Q": ("mm/day", "observed streamflow"),
    "Q_sacsma": ("mm/day", "SAC-SMA + Snow-17 benchmark simulation of streamflow (CAMELS model output)"),
}
"""Time-series variables: name → (units, long_name)."""

FORCING_ONLY = ("tmin", "tmax", "srad", "vp", "dayl", "swe")


@attrs.frozen
class Inventory:
    """The CAMELS-US files found under ``src`` for one forcing product."""

    src: Path
    forcing: str
    forcing_files: dict[str, Path]
    streamflow_files: dict[str, Path]
    model_output_files: dict[str, Path]

    @property
    def basins(self) -> list[str]:
        """Basins with a forcing file or a model output file, sorted."""
        return sorted(set(self.forcing_files) | set(self.model_output_files))


def _index(folder: Path, pattern: re.Pattern[str], what: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*/*.txt")):
        match = pattern.fullmatch(path.name)
        if match is None:
            continue
        basin = match.group("id")
        if basin in found:
            raise DataImportError(f"basin {basin} has two {what} files: {found[basin]} and {path}")
        found[basin] = path
    return found


def inventory(src: str | Path, forcing: str = "daymet", *, sacsma_seed: str = "05") -> Inventory:
    """List the forcing, streamflow and model output files of ``src`` for ``forcing``."""
    root = Path(src)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: CAMELS-US folder not found" if not root.exists()
                                else f"{root}: not a folder (expected the CAMELS-US root)")
    if forcing not in PRODUCTS:
        raise DataImportError(f"unknown forcing product {forcing!r}; choose one of {', '.join(PRODUCTS)}")
    forcing_dir = root / "basin_mean_forcing" / forcing
    output_dir = root / "model_output" / "flow_timeseries" / forcing
    if not forcing_dir.is_dir() and not output_dir.is_dir():
        parent = root / "basin_mean_forcing"
        if parent.is_dir():
            have = sorted(p.name for p in parent.iterdir() if p.is_dir())
            where = f"forcing products present: {', '.join(have) or 'none'}"
        else:
            where = ("no basin_mean_forcing/ folder: SRC must be the CAMELS-US root holding basin_mean_forcing/, "
                     "usgs_streamflow/ and camels_attributes_v2.0/")
        raise FileNotFoundError(f"{forcing_dir}: forcing folder not found, nor {output_dir} ({where})")
    forcing_files = _index(forcing_dir, _FORCING_NAME, f"{forcing} forcing") if forcing_dir.is_dir() else {}
    output_name = re.compile(rf"(?P<id>\d{{8,15}})_{re.escape(sacsma_seed)}_model_output\.txt")
    output_files = _index(output_dir, output_name, "model output") if output_dir.is_dir() else {}
    flow_dir = root / "usgs_streamflow"
    if not flow_dir.is_dir():
        if forcing_files:
            raise FileNotFoundError(f"{flow_dir}: streamflow folder not found (observed Q of the forcing basins)")
        flow_files: dict[str, Path] = {}
    else:
        flow_files = _index(flow_dir, _STREAMFLOW_NAME, "streamflow")
    if not forcing_files and not output_files:
        raise DataImportError(
            f"{forcing_dir}: no forcing files (<id>_lump_..._forcing_leap.txt in HUC subfolders) and no model output "
            f"files in {output_dir}")
    return Inventory(root, forcing, forcing_files, flow_files, output_files)


def resolve_basins(inv: Inventory, basins: Sequence[str] | str | None, attributes: AttributeTable) -> list[str]:
    """The basins to import: all of ``inv``, or ``basins`` checked against it."""
    available = inv.basins
    if basins is None:
        return available
    if isinstance(basins, str):
        basins = [basins]
    chosen: list[str] = []
    for b in basins:
        if not isinstance(b, str):
            raise DataImportError(f"basin ids must be text (leading zeros matter), got {b!r} ({type(b).__name__})")
        b = b.strip()
        if b and b not in chosen:
            chosen.append(b)
    if not chosen:
        raise DataImportError("the basin list is empty")
    unknown = [b for b in chosen if b not in available]
    if unknown:
        hints = []
        for b in unknown:
            padded = b.zfill(8)
            if padded != b and padded in available:
                hints.append(f"{b} -> {padded}? (ids keep their leading zeros)")
            elif b in attributes.ids:
                hints.append(f"{b} is a CAMELS basin but has no {inv.forcing} forcing or model output file here")
        hint = f" [{'; '.join(hints)}]" if hints else ""
        raise DataImportError(
            f"unknown basin id(s) {short_list(unknown)}{hint}: not among the {len(available)} basins with "
            f"{inv.forcing} forcing or model output in {inv.src}; available: {short_list(available, 6)}")
    return sorted(chosen)


def day_of_year(dates: np.ndarray) -> np.ndarray:
    """1..366 for ``datetime64[D]`` dates."""
    return (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1


def _has_diurnal_range(f: ForcingFile) -> bool:
    tmin, tmax = f.values["tmin"], f.values["tmax"]
    ok = np.isfinite(tmin) & np.isfinite(tmax)
    return bool(ok.any()) and float(np.mean(tmax[ok] > tmin[ok])) >= 0.5


def forcing_pet(f: ForcingFile, method: str) -> tuple[np.ndarray, str]:
    """PET (mm/day) for a forcing file and the method used (``hargreaves`` or ``priestley_taylor``).

    ``method`` is ``auto`` (Hargreaves unless tmin equals tmax on most days), ``hargreaves``
    or ``priestley-taylor``.
    """
    from delta_hydro.camels.priestley_taylor import priestley_taylor_pet
    from delta_hydro.pet import hargreaves_pet

    ranged = _has_diurnal_range(f)
    if method == "hargreaves" and not ranged:
        equal = int(np.sum(f.values["tmax"] == f.values["tmin"]))
        raise DataImportError(
            f"{f.path}: tmax equals tmin on {equal} of {f.dates.size} days, so Hargreaves PET would be 0; "
            "use --pet priestley-taylor (or auto)")
    doy = day_of_year(f.dates)
    v = f.values
    pet = np.full(f.dates.size, np.nan)
    if method == "priestley-taylor" or (method == "auto" and not ranged):
        ok = np.isfinite(v["tmin"]) & np.isfinite(v["tmax"]) & np.isfinite(v["srad"]) & np.isfinite(v["dayl"]) \
            & np.isfinite(v["vp"])
        pet[ok] = priestley_taylor_pet(v["tmin"][ok], v["tmax"][ok], v["srad"][ok], v["dayl"][ok], v["vp"][ok],
                                       f.latitude, f.elevation, doy[ok])
        return pet, "priestley_taylor"
    ok = np.isfinite(v["tmin"]) & np.isfinite(v["tmax"])
    tmin, tmax = v["tmin"][ok], v["tmax"][ok]
    inverted = int(np.sum(tmax < tmin))
    if inverted:
        warnings.warn(f"{f.path}: tmax < tmin on {inverted} days; Hargreaves PET takes the range as 0 there",
                      stacklevel=3)
    pet[ok] = hargreaves_pet(tmin, np.maximum(tmax, tmin), f.latitude, doy[ok])
    return pet, "hargreaves"


@attrs.define
class _Basin:
    """What one basin contributes: pieces of series on their own dates, and static values."""

    pieces: list[tuple[np.ndarray, dict[str, np.ndarray]]] = attrs.field(factory=list)
    static: dict[str, float | str] = attrs.field(factory=dict)
    swe_all_zero: bool = False


def _read_basin(basin: str, inv: Inventory, attributes: AttributeTable, pet: str, dtype: type) -> _Basin:
    out = _Basin()
    f = read_forcing(inv.forcing_files[basin]) if basin in inv.forcing_files else None
    mo = read_model_output(inv.model_output_files[basin]) if basin in inv.model_output_files else None
    flow = read_streamflow(inv.streamflow_files[basin], basin) if basin in inv.streamflow_files else None

    def piece(dates: np.ndarray, **values: np.ndarray) -> None:
        out.pieces.append((dates, {k: np.asarray(v, dtype=dtype) for k, v in values.items()}))

    if f is not None:
        v = f.values
        pet_values, method = forcing_pet(f, pet)
        piece(f.dates, P=v["prcp"], T=0.5 * (v["tmin"] + v["tmax"]), tmin=v["tmin"], tmax=v["tmax"], PET=pet_values,
              srad=v["srad"], vp=v["vp"], dayl=v["dayl"], swe=v["swe"])
        out.swe_all_zero = bool(np.nanmax(np.abs(v["swe"]), initial=0.0) == 0.0)
        out.static.update(latitude=f.latitude, elevation=f.elevation, area=f.area_m2 / 1e6,
                          forcing_source=inv.forcing, pet_method=method, area_source="forcing_header")
        area_m2 = f.area_m2
    else:
        assert mo is not None
        piece(mo.dates, P=mo.values["PRCP"], T=mo.values["TAIR"], PET=mo.values["PET"])
        area_km2 = float(attributes.columns["area_gages2"][attributes.rows([basin])[0]])
        out.static.update(latitude=np.nan, elevation=np.nan, area=area_km2, forcing_source="model_output",
                          pet_method="camels_model_output", area_source="camels_topo.area_gages2")
        area_m2 = area_km2 * 1e6
    if flow is not None:
        if not np.isfinite(area_m2) or area_m2 <= 0:
            raise DataImportError(f"basin {basin}: no valid area to convert {flow.path} to mm/day")
        piece(flow.dates, Q=flow.q_cfs * CFS_TO_M3S * 86400.0 / area_m2 * 1000.0)
        out.static["q_source"] = "usgs_streamflow"
    elif mo is not None:
        piece(mo.dates, Q=mo.values["OBS_RUN"])
        out.static["q_source"] = "model_output"
    else:
        out.static["q_source"] = "none"
    if mo is not None:
        piece(mo.dates, Q_sacsma=mo.values["MOD_RUN"])
    return out


def import_camels_us(
    src: str | Path,
    *,
    forcing: str = "daymet",
    basins: Sequence[str] | str | None = None,
    pet: str = "auto",
    sacsma_seed: str = "05",
    dtype: type = np.float32,
    show_progress: bool | None = None,
) -> xr.Dataset:
    """Import CAMELS-US into a canonical dataset with entity dimension ``basin``.

    Parameters
    ----------
    src
        The CAMELS-US root (holding ``basin_mean_forcing/``, ``usgs_streamflow/``,
        ``model_output/`` and ``camels_attributes_v2.0/``).
    forcing
        Forcing product: ``daymet``, ``nldas`` or ``maurer``.
    basins
        Gauge ids (text, 8 digits with leading zeros) to import; default: every basin
        with a forcing file of ``forcing`` or a model output file driven by it.
    pet
        PET for basins with a forcing file: ``auto`` (Hargreaves, or Priestley-Taylor where
        tmin equals tmax), ``hargreaves`` or ``priestley-taylor``.
    sacsma_seed
        Calibration seed of the benchmark model output files (``<id>_<seed>_model_output.txt``).
    dtype
        Floating type of the time series.
    show_progress
        Progress bar on stderr; ``None``: only when stderr is a terminal.

    Returns
    -------
    xarray.Dataset
        In memory, valid under :func:`delta_core.data.canonical.validate`; variables as in
        the module docstring.

    Raises
    ------
    FileNotFoundError
        A missing folder or file, named.
    DataImportError
        Wrong header, unknown basin id, non-numeric value, duplicated date, ... naming the
        file, line, basin or variable.
    """
    from delta_core.data.canonical import validate

    if pet not in PET_METHODS:
        raise DataImportError(f"unknown PET method {pet!r}; choose one of {', '.join(PET_METHODS)}")
    inv = inventory(src, forcing, sacsma_seed=sacsma_seed)
    attributes = read_attributes(inv.src / ATTRIBUTES_DIR, string_columns=STRING_ATTRIBUTES)
    chosen = resolve_basins(inv, basins, attributes)
    rows = attributes.rows(chosen)

    read = [_read_basin(b, inv, attributes, pet, dtype)
            for b in progress(chosen, total=len(chosen), desc="CAMELS-US", unit="basin", enabled=show_progress)]
    axis = daily_axis(dates for basin in read for dates, _ in basin.pieces)
    present = {name for basin in read for _, values in basin.pieces for name in values}
    names = [n for n in SERIES if n in present]
    series = {n: np.full((len(chosen), axis.size), np.nan, dtype=dtype) for n in names}
    for i, basin in enumerate(read):
        for dates, values in basin.pieces:
            for name, column in values.items():
                place_on_axis(axis, dates, column, series[name][i])
        basin.pieces.clear()

    data_vars: dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, str]]] = {}
    for name in names:
        units, long_name = SERIES[name]
        data_vars[name] = (("basin", "time"), series[name], {"units": units, "long_name": long_name})
    _describe_series(data_vars, forcing, read, chosen)

    static_meta = {
        "latitude": ("degrees_north", "basin latitude (forcing file header, line 1)"),
        "elevation": ("m", "basin mean elevation (forcing file header, line 2)"),
        "area": ("km2", "basin area used to convert streamflow to mm/day (see area_source)"),
        "forcing_source": (None, "where P, T and PET come from: the forcing product, or model_output"),
        "pet_method": (None, "how PET was obtained: hargreaves, priestley_taylor or camels_model_output"),
        "q_source": (None, "where Q comes from: usgs_streamflow, model_output (OBS_RUN) or none"),
        "area_source": (None, "where area comes from: forcing_header or camels_topo.area_gages2"),
    }
    for name, (units, long_name) in static_meta.items():
        values = [basin.static[name] for basin in read]
        meta = {"long_name": long_name}
        if units is None:
            data_vars[name] = (("basin",), as_str_array(values), meta)
        else:
            data_vars[name] = (("basin",), np.asarray(values, dtype=np.float64), {"units": units, **meta})

    for name, column in attributes.columns.items():
        if name in data_vars:
            raise DataImportError(f"{attributes.files[name]}: attribute {name!r} clashes with a variable of the import")
        units, long_name = ATTRIBUTES.get(name, ("unknown" if column.dtype.kind == "f" else None, name))
        meta = {"long_name": long_name, "source": f"{ATTRIBUTES_DIR}/{attributes.files[name].name}"}
        values = column[rows]
        if column.dtype.kind == "f":
            data_vars[name] = (("basin",), values.astype(np.float64), {"units": units or "unknown", **meta})
        else:
            data_vars[name] = (("basin",), as_str_array(values.tolist()), meta)

    ds = xr.Dataset(
        data_vars,
        coords={"basin": as_str_array(chosen), "time": axis.astype("datetime64[ns]")},
        attrs={
            "title": f"CAMELS-US, {forcing} forcing",
            "source": str(inv.src.resolve()),
            "forcing_product": forcing,
            "entity_dim": "basin",
            "time_span": "union of the records of all files read; NaN outside a basin's records",
            "references": "Newman et al. (2015) doi:10.5194/hess-19-209-2015; "
                          "Addor et al. (2017) doi:10.5194/hess-21-5293-2017",
            "history": "created by delta_hydro.camels.import_camels_us (delta data import camels-us)",
        },
    )
    ds["basin"].attrs["long_name"] = "USGS gauge id (8 digits, leading zeros kept)"
    ds["time"].attrs["long_name"] = "day"
    report = validate(ds)
    if not report.ok:  # pragma: no cover - a bug of this importer, not of the input
        raise DataImportError("the imported CAMELS dataset is not canonical: " + "; ".join(report.problems))
    return ds


def _describe_series(data_vars: dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, str]]], forcing: str,
                     read: list[_Basin], basins: list[str]) -> None:
    """Add ``source``/``method``/``comment`` attributes to the time series."""
    sources = {
        "P": f"{forcing} forcing prcp(mm/day); PRCP of the model output where forcing_source is model_output",
        "T": f"mean of {forcing} forcing tmin(C) and tmax(C); TAIR of the model output where forcing_source is "
             "model_output",
        "PET": "per basin, see pet_method",
        "Q": "USGS streamflow Q_cfs * 0.3048^3 * 86400 / area_m2 * 1000 (NaN for -999 and flag M), or OBS_RUN of "
             "the model output; per basin, see q_source",
        "Q_sacsma": "MOD_RUN of model_output/flow_timeseries (SAC-SMA + Snow-17 calibrated by CAMELS)",
    }
    for name, text in sources.items():
        if name in data_vars:
            data_vars[name][2]["source"] = text
    if "PET" in data_vars:
        data_vars["PET"][2]["method"] = (
            "hargreaves: Hargreaves & Samani (1985) from tmin, tmax, latitude and day of year; priestley_taylor: "
            "Priestley & Taylor (1972), FAO-56 net radiation from srad, dayl, vp, tmin, tmax, elevation (for "
            "products whose tmin equals tmax); camels_model_output: the Priestley-Taylor PET of the CAMELS model "
            "output")
    for name in FORCING_ONLY:
        if name in data_vars:
            data_vars[name][2]["source"] = f"{forcing} forcing files (NaN where forcing_source is model_output)"
    if "swe" in data_vars:
        with_forcing = [b for b, basin in zip(basins, read, strict=True)
                        if basin.static["forcing_source"] != "model_output"]
        zero = [b for b, basin in zip(basins, read, strict=True) if basin.swe_all_zero]
        if zero:
            data_vars["swe"][2]["comment"] = (
                f"the swe column is 0 on every day for {len(zero)} of {len(with_forcing)} basins with a forcing file "
                f"({short_list(zero, 5)}): not a snow observation there")
