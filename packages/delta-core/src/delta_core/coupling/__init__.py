"""Standard couplings between networks and process models."""
