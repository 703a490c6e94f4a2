"""Shipped, dated and sourced catalogs (CSV) and the loader that applies scenario overrides.

Every table carries ``as_of`` and ``source`` columns; money columns are in the row's
``currency``. Tables are keyed by their first column (``name``, ``tier``, ``precision``...).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

KEYS: dict[str, str] = {
    "hardware": "name",
    "accelerators": "accelerator",
    "storage": "tier",
    "precision": "precision",
    "compression": "compression",
    "labor": "role",
    "exchange_rates": "from_currency",
    "llm_architectures": "model",
    "partitions": "name",
}

PRICING_COLUMNS: dict[str, str] = {
    "on_demand": "price_on_demand_per_hour",
    "reserved_1yr": "price_reserved_1yr_per_hour",
    "reserved_3yr": "price_reserved_3yr_per_hour",
    "spot": "price_spot_per_hour",
}
# plans paid every hour of their term, used or not (a commitment per instance)
COMMITTED_PLANS: tuple[str, ...] = ("reserved_1yr", "reserved_3yr")


# File compression shrinks weights by how many bits each value has: measured factors per
# width class (``compression.csv`` columns ``size_factor_<width>``).
WIDTHS: tuple[str, ...] = ("32bit", "16bit", "8bit", "4bit")


def width_class(bytes_per_param: float) -> str:
    """The width class of weights stored at ``bytes_per_param`` (nearest at or below)."""
    bits = 8 * bytes_per_param
    return next((w for w in WIDTHS if bits >= int(w[:-3]) * 0.75), WIDTHS[-1])


def _read(kind: str) -> pd.DataFrame:
    path = resources.files("deploycost.catalog") / f"{kind}.csv"
    with path.open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype={"as_of": str, "source": str, "note": str})
    frame["note"] = frame["note"].fillna("")
    return frame.set_index(KEYS[kind], drop=False)


@dataclass(frozen=True)
class Catalog:
    """All catalog tables, each a DataFrame indexed by its key column."""

    hardware: pd.DataFrame
    accelerators: pd.DataFrame
    storage: pd.DataFrame
    precision: pd.DataFrame
    compression: pd.DataFrame
    labor: pd.DataFrame
    exchange_rates: pd.DataFrame
    llm_architectures: pd.DataFrame
    partitions: pd.DataFrame

    def size_factors(self, precisions: list[str], compressions: list[str]):
        """(C, Z) compressed over original size of weights at each precision under each
        file compression (by the precision's width class)."""
        comp = self.compression.loc[compressions]
        return np.array(
            [
                comp[f"size_factor_{width_class(b)}"].to_numpy(float)
                for b in self.precision.bytes_per_param.loc[precisions]
            ]
        ).reshape(len(precisions), len(compressions))

    def compression_estimated(self, precision: str, compression: str) -> bool:
        """The size factor of ``compression`` at ``precision``'s width is an estimate."""
        width = width_class(float(self.precision.at[precision, "bytes_per_param"]))
        marked = self.compression.at[compression, "estimated_widths"]
        return isinstance(marked, str) and width in marked.split()

    def table(self, kind: str) -> pd.DataFrame:
        if kind not in KEYS:
            raise KeyError(f"unknown catalog table {kind!r}; valid: {', '.join(KEYS)}")
        return getattr(self, kind)

    def with_rows(self, kind: str, rows: list[dict]) -> Catalog:
        """Return a catalog where ``rows`` override (by key) or extend table ``kind``.

        A row naming an existing key changes only the columns it gives; a new key adds a
        row whose missing columns are empty. Rows without a ``source`` are marked as
        coming from the scenario file.
        """
        if not rows:
            return self
        key = KEYS[kind]
        frame = self.table(kind).copy()
        added: dict[str, dict] = {}
        for row in rows:
            name = row[key]
            values = {k: v for k, v in row.items() if v is not None}
            values.setdefault("source", "scenario file")
            if name in frame.index:
                for column, value in values.items():
                    if column not in frame.columns:
                        frame[column] = pd.NA
                    frame[column] = frame[column].astype(object)
                    frame.at[name, column] = value
            else:
                added[name] = added.get(name, {}) | values
        if added:  # one concatenation: linear in the rows a scenario adds
            new = pd.DataFrame(list(added.values())).set_index(key, drop=False)
            frame = pd.concat([frame.astype(object), new.astype(object)])
        frame = frame.infer_objects()
        return replace(self, **{kind: frame})

    def with_partitions(self, parents: Collection[str] | None = None) -> Catalog:
        """The hardware table with a row per accelerator partition (``partitions.csv``) of
        a parent row it holds, derived from that parent (replacing earlier derived rows;
        with ``parents``, only the rows derived from those: the others' parents did not
        change). Rows keep one order: whole instance types, then partitions as listed.

        A partition row stands for one node of its parent instance type split into
        ``slices_per_node`` equal slices (one MIG profile on every GPU), each serving as an
        instance of its own: per slice one device of ``memory_gb``, ``compute_fraction``
        (its SMs over the whole GPU's) of the peak, ``bandwidth_fraction`` of the memory
        bandwidth, the node's vCPUs and RAM divided among the slices. It is bought by the
        node, at the parent's prices (the fleet optimiser prices it under the parent's
        price names; the capacity of one node is that of its slices together)."""
        hw = self.hardware
        if "partition_of" not in hw.columns:
            hw = hw.assign(
                partition_of=None,
                partition_profile=None,
                slices_per_node=np.nan,
                compute_fraction=np.nan,
                bandwidth_fraction=np.nan,
            )
        derived = hw.partition_of.notna().to_numpy()
        whole = hw[~derived]
        parts = self.partitions[self.partitions.parent.isin(whole.index)]
        redo = parts if parents is None else parts[parts.parent.isin(list(parents))]
        stale = derived & (parents is None or hw.partition_of.isin(list(parents)).to_numpy())
        if parents is not None and redo.empty and not stale.any():  # rows added, in place
            order = np.argsort(derived, kind="stable")
            if (order == np.arange(len(order))).all():
                return self
            return replace(self, hardware=hw.iloc[order])
        rows = [_partition_row(r, whole.loc[r.parent]) for r in redo.itertuples(index=False)]
        kept = hw[derived & ~stale]
        frames = [kept.astype(object)] if len(kept) else []
        if rows:
            frames.append(pd.DataFrame(rows).set_index("name", drop=False).astype(object))
        if frames:
            every = pd.concat(frames)
            listed = [name for name in parts.index if name in every.index]
            hw = pd.concat([whole.astype(object), every.loc[listed]]).infer_objects()
        else:
            hw = whole
        return replace(self, hardware=hw)


def _partition_row(r, parent: pd.Series) -> dict:
    """The hardware row of partition ``r`` (a ``partitions.csv`` row) of ``parent``."""
    slices = int(r.slices_per_gpu) * int(parent.accel_count)
    return {
        **parent.to_dict(),
        "name": r.name,
        "accel_count": 1,
        "accel_mem_gb": float(r.memory_gb),
        "vcpus": max(1, int(parent.vcpus) // slices),
        "memory_gib": round(float(parent.memory_gib) / slices, 4),
        "source": f"{r.source} | node ({r.parent}): {parent.source}",
        "note": f"MIG {r.profile} on every GPU: {slices} slices per node; "
        f"prices per node; {r.note}",
        "partition_of": r.parent,
        "partition_profile": r.profile,
        "slices_per_node": slices,
        "compute_fraction": float(r.sm_count) / float(r.gpu_sm_count),
        "bandwidth_fraction": float(r.bandwidth_fraction),
    }


@cache
def _shipped() -> Catalog:
    return Catalog(**{kind: _read(kind) for kind in KEYS}).with_partitions()


def load_catalog() -> Catalog:
    """The catalog shipped with the package (tables are shared: treat them as read-only)."""
    return _shipped()
