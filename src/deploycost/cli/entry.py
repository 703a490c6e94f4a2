"""The console entry point: ``deploycost --version`` answers before the command line (and
pandas, SciPy and the solvers it imports) loads; every other call goes to ``cli.app``."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from deploycost.version import __version__

        sys.stdout.write(f"deploycost {__version__}\n")
        return
    from deploycost.cli.app import main as run

    run()
