"""deltamod-hydro: hydrology for deltamod: HBV models, CAMELS data, PET."""
