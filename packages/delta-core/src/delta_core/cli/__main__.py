"""``python -m delta_core.cli`` runs the ``delta`` command line (used with torchrun)."""

from delta_core.cli.main import main

main()
