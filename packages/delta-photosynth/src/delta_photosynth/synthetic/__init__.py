"""Synthetic leaf gas-exchange curves with known parameters (the embedded default data)."""
