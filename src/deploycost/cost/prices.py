"""The named price vector: every unit price the cost model multiplies, in the scenario currency.

Each entry keeps its native value, currency, the exchange rate applied, unit and source,
so a report can show every assumption and a sweep can vary any of them.

Names, one separator style: ``instance_hour[g6.xlarge]``, ``storage_gb_month[s3-standard]``,
``retrieval_gb[s3-standard]``, ``day_rate[engineer]``, ``data_acquisition_gb[clicks]``,
``data_cleaning_gb[clicks]``, ``fusion_unit_day[ensemble]``, ``automation_fixed_month[mlops]``;
with a ``fleet`` section, one instance-hour price per purchase plan and instance type that
has one: ``on_demand_hour[g6.xlarge]``, ``reserved_1yr_hour[g6.xlarge]``,
``spot_hour[g6.xlarge]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from deploycost.catalog import PRICING_COLUMNS
from deploycost.scenario.schema import Scenario, usable_instances


@dataclass(frozen=True)
class PriceVector:
    """Unit prices ``values[r]`` named ``names[r]``; ``table`` documents each one."""

    names: tuple[str, ...]
    values: np.ndarray
    table: pd.DataFrame

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def index(self, name: str) -> int:
        return self._positions[name]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def indices(self, names: list[str]) -> np.ndarray:
        positions = self._positions
        return np.array([positions[n] for n in names], dtype=np.intp)

    def with_values(self, values: np.ndarray) -> PriceVector:
        values = np.asarray(values, dtype=float)
        if values.shape != self.values.shape:
            raise ValueError(f"expected {self.values.shape[0]} prices, got {values.shape}")
        table = self.table.copy()
        table["value"] = values
        return PriceVector(self.names, values, table)


class _Money:
    """The scenario currency and the rate of each native currency, looked up once each."""

    def __init__(self, scn: Scenario) -> None:
        self.currency = scn.currency
        self._rate = functools.cache(scn.rate_to_scenario)

    def rate(self, currency: str) -> float:
        return self._rate(currency)


def _row(
    name: str,
    kind: str,
    unit: str,
    native: float,
    currency: str,
    money: _Money,
    as_of: object,
    source: object,
    note: object = "",
) -> dict:
    fx = money.rate(currency)
    return {
        "name": name,
        "kind": kind,
        "unit": f"{money.currency}/{unit}",
        "native_value": float(native),
        "native_currency": currency,
        "fx_rate": fx,
        "value": float(native) * fx,
        "as_of": "" if pd.isna(as_of) else str(as_of),
        "source": "" if pd.isna(source) else str(source),
        "note": "" if pd.isna(note) else str(note),
    }


def instance_names(scn: Scenario) -> list[str]:
    """Instance types the scenario can use (priced, in its regions)."""
    return usable_instances(scn, scn.resolved_catalog)


def tier_names(scn: Scenario) -> list[str]:
    return [str(n) for n in scn.resolved_catalog.storage.index]


def plan_price_name(plan: str, instance: str) -> str:
    """Price of one instance-hour of ``instance`` bought under fleet plan ``plan``."""
    return f"{plan}_hour[{instance}]"


def payers(scn: Scenario, instances) -> list[str]:
    """The row whose fleet prices each of ``instances`` pays: an accelerator partition's
    parent (a node is bought whole, at the parent's price), else the type itself."""
    catalog = scn.resolved_catalog
    parent = catalog.__dict__.get("_parent_of")  # kept with the catalog (asked per row)
    if parent is None:
        column = catalog.hardware.partition_of
        parent = {str(k): v for k, v in column.items() if isinstance(v, str)}
        catalog.__dict__["_parent_of"] = parent
    return [parent.get(str(i), str(i)) for i in instances]


def priced_as(scn: Scenario, instance: str) -> str:
    """``payers`` of one instance type."""
    return payers(scn, [instance])[0]


def build_prices(scn: Scenario) -> PriceVector:
    """Assemble the price vector for a validated scenario: instances (and their fleet plan
    prices), storage tiers, labour, then the scenario's own data, fusion and automation
    prices, each converted to the scenario's currency with its source."""
    money = _Money(scn)
    rows = [
        *_instance_rows(scn, money),
        *_storage_rows(scn, money),
        *_labor_rows(scn, money),
        *_scenario_rows(scn, money),
    ]
    table = pd.DataFrame(rows)
    return PriceVector(tuple(table.name), table.value.to_numpy(dtype=float), table)


def _instance_rows(scn: Scenario, money: _Money) -> list[dict]:
    """One instance-hour price per type under the scenario's pricing (on-demand where it has
    none), and for a fleet one per type and plan it allows."""
    rows: list[dict] = []
    cat = scn.resolved_catalog
    column = PRICING_COLUMNS[scn.catalog.pricing]
    names = instance_names(scn)
    hardware = cat.hardware.loc[names]
    fields = [*dict.fromkeys(PRICING_COLUMNS.values()), "currency", "as_of", "source", "note"]
    row = {f: hardware[f].to_numpy(dtype=object) for f in fields}  # cells read one by one
    for i, name in enumerate(names):
        plan = scn.catalog.pricing if pd.notna(row[column][i]) else "on_demand"
        rows.append(
            _row(
                f"instance_hour[{name}]",
                "compute",
                "instance-hour",
                row[PRICING_COLUMNS[plan]][i],
                row["currency"][i],
                money,
                row["as_of"][i],
                row["source"][i],
                (
                    plan
                    if plan == scn.catalog.pricing
                    else f"on_demand (no {scn.catalog.pricing} price)"
                )
                + f"; {row['note'][i]}",
            )
        )
    # a partition pays its parent's node prices: only whole types carry plan prices
    whole = hardware.partition_of.isna().to_numpy()
    for plan in dict.fromkeys(scn.fleet.plans if scn.fleet else []):
        price = row[PRICING_COLUMNS[plan]]
        for i in np.nonzero(whole & pd.notna(price))[0]:
            rows.append(
                _row(
                    plan_price_name(plan, names[i]),
                    "compute",
                    "instance-hour",
                    price[i],
                    row["currency"][i],
                    money,
                    row["as_of"][i],
                    row["source"][i],
                    f"fleet plan {plan}; {row['note'][i]}",
                )
            )
    return rows


def _storage_rows(scn: Scenario, money: _Money) -> list[dict]:
    """Per storage tier: its GB-month and its retrieval per GB."""
    storage = scn.resolved_catalog.storage
    rows: list[dict] = []
    for name, r in zip(storage.index, storage.itertuples(index=False), strict=True):
        name = str(name)
        rows.append(
            _row(
                f"storage_gb_month[{name}]",
                "storage",
                "GB-month",
                r.price_per_gb_month,
                r.currency,
                money,
                r.as_of,
                r.source,
                r.note,
            )
        )
        retrieval = 0.0 if pd.isna(r.retrieval_per_gb) else r.retrieval_per_gb
        rows.append(
            _row(
                f"retrieval_gb[{name}]",
                "retrieval",
                "GB",
                retrieval,
                r.currency,
                money,
                r.as_of,
                r.source,
                r.note,
            )
        )
    return rows


def _labor_rows(scn: Scenario, money: _Money) -> list[dict]:
    """Per role: its day rate, from the labour catalog or the scenario."""
    cat = scn.resolved_catalog
    rows: list[dict] = []
    for name, role in scn.role_specs.items():
        if role.catalog is not None:
            r = cat.labor.loc[role.catalog]
            rows.append(
                _row(
                    f"day_rate[{name}]",
                    "labor",
                    "person-day",
                    r.day_rate,
                    r.currency,
                    money,
                    r.as_of,
                    r.source,
                    f"labor catalog {role.catalog}; {r.note}",
                )
            )
        else:
            rows.append(
                _row(
                    f"day_rate[{name}]",
                    "labor",
                    "person-day",
                    role.day_rate,
                    role.currency or scn.currency,
                    money,
                    "",
                    role.source,
                )
            )
    return rows


def _scenario_rows(scn: Scenario, money: _Money) -> list[dict]:
    """The prices the scenario states itself: data acquisition and cleaning per source,
    fusion per unit of complexity-day, automation per month."""
    rows: list[dict] = []
    for src in scn.data_sources:
        rows.append(
            _row(
                f"data_acquisition_gb[{src.name}]",
                "data",
                "GB",
                src.acquisition_price_per_gb,
                scn.currency,
                money,
                "",
                "scenario file",
            )
        )
        rows.append(
            _row(
                f"data_cleaning_gb[{src.name}]",
                "data",
                "GB",
                src.cleaning_price_per_gb,
                scn.currency,
                money,
                "",
                "scenario file",
            )
        )
    for f in scn.fusion_configs:
        rows.append(
            _row(
                f"fusion_unit_day[{f.name}]",
                "fusion",
                "unit of complexity-day",
                f.unit_cost_per_day,
                scn.currency,
                money,
                "",
                "scenario file",
            )
        )
    for level in scn.people.automation_levels:
        rows.append(
            _row(
                f"automation_fixed_month[{level.name}]",
                "automation",
                "month",
                level.fixed_cost_per_month,
                scn.currency,
                money,
                "",
                "scenario file",
            )
        )
    return rows
