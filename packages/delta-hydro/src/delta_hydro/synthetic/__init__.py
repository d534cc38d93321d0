"""A synthetic hydrology dataset with known truth: weather, basins, HBV parameters, flow."""
