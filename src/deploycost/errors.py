"""Errors that carry every problem found, each naming field, rule and value."""

from __future__ import annotations


class DeployCostError(Exception):
    """Base class: a problem the user can fix; the CLI prints it and exits non-zero."""


class ScenarioError(DeployCostError):
    """One or more invalid fields in a scenario or deployment file.

    ``problems`` holds one line per invalid field, e.g.
    ``models[ranker].latency_slo_ms must be > 0, got -5``.
    """

    def __init__(self, problems: list[str], source: str = "scenario") -> None:
        self.problems = list(problems)
        self.source = source
        count = len(self.problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))
