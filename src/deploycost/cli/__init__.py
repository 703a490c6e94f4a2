"""The ``deploycost`` command line (typer): ``app`` in ``cli.app``."""
