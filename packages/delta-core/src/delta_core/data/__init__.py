"""Data: the canonical labelled format, normalisation, sampling (torch only where tensors are made)."""
