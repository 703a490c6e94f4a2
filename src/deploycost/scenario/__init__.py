"""Scenario files: the pydantic schema and its one-pass checks (``schema``), loading YAML,
catalog resolution, the Markdown reference (``reference``) and random scenarios for tests
and benchmarks (``synthetic``)."""
