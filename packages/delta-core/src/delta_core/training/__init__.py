"""Training: the standard trainer, losses, run directories and checkpoints."""
