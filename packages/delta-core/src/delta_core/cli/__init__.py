"""The ``delta`` command line (torch is imported only inside commands that need it)."""
