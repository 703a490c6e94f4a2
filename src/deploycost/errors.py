"""Errors that carry every problem found, each naming field, rule and value."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, carriage returns) shown as
    escapes, so that a name from a file cannot rewrite the user's terminal."""
    return "".join(
        ch if ch.isprintable() or ch in "\n\t" else ch.encode("unicode_escape").decode("ascii")
        for ch in str(text)
    )


class DeployCostError(Exception):
    """Base class: a problem the user can fix; the CLI prints it and exits non-zero."""


class ScenarioError(DeployCostError):
    """One or more invalid fields in a scenario or deployment file.

    ``problems`` holds one line per invalid field, e.g.
    ``models[ranker].latency_slo_ms must be > 0, got -5``.
    """

    def __init__(self, problems: list[str], source: str = "scenario") -> None:
        self.problems = [printable(p) for p in problems]
        self.source = printable(source)
        count = len(self.problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))
