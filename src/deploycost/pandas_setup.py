"""The pandas settings the command line (and the test suite) runs with.

pandas 3 stores text columns in pyarrow arrays when pyarrow is installed (the ``parquet``
extra installs it). deploycost's tables are small and read cell by cell (option tables,
catalog rows, decoded plans), where pyarrow's per-access cost dominates: small solves are
faster with Python-object strings (``benchmarks/bench_strings.py`` compares both in one
run). Results are the same under either storage (a test solves the
shipped problems under both). A library caller keeps whatever it has set."""

from __future__ import annotations

import pandas as pd


def use_python_strings() -> None:
    """Text columns created from here on are stored as Python objects."""
    pd.set_option("mode.string_storage", "python")
