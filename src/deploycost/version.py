"""The program version (one place; the package and the exports read it)."""

__version__ = "0.1.0"
