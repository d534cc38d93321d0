"""Evaluation: skill scores, whole-period simulation, metric tables."""
