"""Units and descriptions of the CAMELS attributes v2.0 (Addor et al. 2017, Table 1-5).

Attributes absent from this table are still imported (numeric as float with units
``"unknown"``); categorical attributes and codes are kept as text.
"""

from __future__ import annotations

STRING_ATTRIBUTES = frozenset({
    "huc_02", "gauge_name", "high_prec_timing", "low_prec_timing", "geol_1st_class", "geol_2nd_class",
    "dom_land_cover",
})
"""Attributes kept as text: the HUC-02 region code (leading zero), names, classes, seasons."""

ATTRIBUTES: dict[str, tuple[str | None, str]] = {
    # camels_clim
    "p_mean": ("mm/day", "mean daily precipitation"),
    "pet_mean": ("mm/day", "mean daily potential evapotranspiration (Priestley-Taylor)"),
    "p_seasonality": ("1", "seasonality and timing of precipitation (positive: peaks in summer)"),
    "frac_snow": ("1", "fraction of precipitation falling as snow (days colder than 0 degC)"),
    "aridity": ("1", "aridity index, ratio of mean PET to mean precipitation"),
    "high_prec_freq": ("day/yr", "frequency of high-precipitation days (>= 5 times mean daily precipitation)"),
    "high_prec_dur": ("day", "average duration of high-precipitation events"),
    "high_prec_timing": (None, "season during which most high-precipitation days occur (djf, mam, jja, son)"),
    "low_prec_freq": ("day/yr", "frequency of dry days (< 1 mm/day)"),
    "low_prec_dur": ("day", "average duration of dry periods"),
    "low_prec_timing": (None, "season during which most dry days occur (djf, mam, jja, son)"),
    # camels_geol
    "geol_1st_class": (None, "most common geologic class in the catchment (GLiM)"),
    "glim_1st_class_frac": ("1", "fraction of the catchment area of the most common geologic class"),
    "geol_2nd_class": (None, "second most common geologic class in the catchment (GLiM); empty if none"),
    "glim_2nd_class_frac": ("1", "fraction of the catchment area of the second most common geologic class"),
    "carbonate_rocks_frac": ("1", "fraction of the catchment area characterised as carbonate sedimentary rocks"),
    "geol_porostiy": ("1", "subsurface porosity (GLHYMPS; name as spelled in CAMELS)"),
    "geol_permeability": ("log10(m2)", "subsurface permeability (GLHYMPS), log10 of m2"),
    # camels_hydro
    "q_mean": ("mm/day", "mean daily discharge"),
    "runoff_ratio": ("1", "runoff ratio, ratio of mean daily discharge to mean daily precipitation"),
    "slope_fdc": ("1", "slope of the flow duration curve between the log-transformed 33rd and 66th percentiles"),
    "baseflow_index": ("1", "baseflow index, ratio of mean daily baseflow to mean daily discharge"),
    "stream_elas": ("1", "streamflow precipitation elasticity"),
    "q5": ("mm/day", "5 % flow quantile (low flow)"),
    "q95": ("mm/day", "95 % flow quantile (high flow)"),
    "high_q_freq": ("day/yr", "frequency of high-flow days (> 9 times the median daily flow)"),
    "high_q_dur": ("day", "average duration of high-flow events"),
    "low_q_freq": ("day/yr", "frequency of low-flow days (< 0.2 times the mean daily flow)"),
    "low_q_dur": ("day", "average duration of low-flow events"),
    "zero_q_freq": ("1", "fraction of days with Q = 0 mm/day"),
    "hfd_mean": ("day", "mean half-flow date (day of the water year, from 1 October)"),
    # camels_name
    "huc_02": (None, "HUC-02 hydrologic region code of the gauge"),
    "gauge_name": (None, "gauge name (USGS)"),
    # camels_soil
    "soil_depth_pelletier": ("m", "depth to bedrock (Pelletier et al. 2016)"),
    "soil_depth_statsgo": ("m", "soil depth (STATSGO, maximum 1.5 m)"),
    "soil_porosity": ("1", "volumetric soil porosity"),
    "soil_conductivity": ("cm/h", "saturated hydraulic conductivity"),
    "max_water_content": ("m", "maximum water content of the soil"),
    "sand_frac": ("percent", "sand fraction of the soil"),
    "silt_frac": ("percent", "silt fraction of the soil"),
    "clay_frac": ("percent", "clay fraction of the soil"),
    "water_frac": ("percent", "fraction of the top 1.5 m marked as water"),
    "organic_frac": ("percent", "fraction of soil_depth_statsgo marked as organic material"),
    "other_frac": ("percent", "fraction of soil_depth_statsgo marked as other (e.g. bedrock)"),
    # camels_topo
    "gauge_lat": ("degrees_north", "gauge latitude"),
    "gauge_lon": ("degrees_east", "gauge longitude"),
    "elev_mean": ("m", "catchment mean elevation"),
    "slope_mean": ("m/km", "catchment mean slope"),
    "area_gages2": ("km2", "catchment area (GAGES-II estimate)"),
    "area_geospa_fabric": ("km2", "catchment area (geospatial fabric estimate)"),
    # camels_vege
    "frac_forest": ("1", "forest fraction"),
    "lai_max": ("1", "maximum monthly mean of the leaf area index (m2 m-2)"),
    "lai_diff": ("1", "difference between the maximum and minimum monthly mean of the leaf area index"),
    "gvf_max": ("1", "maximum monthly mean of the green vegetation fraction"),
    "gvf_diff": ("1", "difference between the maximum and minimum monthly mean of the green vegetation fraction"),
    "dom_land_cover_frac": ("1", "fraction of the catchment area of the dominant land cover"),
    "dom_land_cover": (None, "dominant land cover type (IGBP)"),
    "root_depth_50": ("m", "root depth above which 50 % of the roots are (Zeng 2001)"),
    "root_depth_99": ("m", "root depth above which 99 % of the roots are (Zeng 2001)"),
}
"""Attribute name → (units, long_name); ``None`` units for text attributes."""
