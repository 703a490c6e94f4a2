"""The checks of a scenario that span fields, run in one pass once the schema holds:
unique names, references to models, roles, tiers and catalog rows, the catalog with the
scenario's overrides applied, currencies, LLM shapes, fusion, people, storage and limits,
the fleet section, pricing and a deployment's choices. Each appends ``path must ...,
got ...`` to the problems; ``scenario.schema.cross_check`` runs them all."""

from __future__ import annotations

import difflib
import functools
import math
import zoneinfo
from typing import TYPE_CHECKING, Any

from deploycost.catalog import KEYS, PRICING_COLUMNS, WIDTHS, Catalog, load_catalog
from deploycost.periods import DAYS_PER_YEAR
from deploycost.scenario.models import (
    REQUIRED_FOR_NEW_ROW,
    CompressionRow,
    ModelSpec,
    Strict,
)

if TYPE_CHECKING:
    from deploycost.scenario.schema import Scenario


def _unique(items: list, what: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            problems.append(f"{what}[{item.name}].name must be unique, got a second {item.name!r}")
        seen.add(item.name)


def _suggest(value: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(value, valid, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _ref(value: str, valid: list[str], path: str, what: str, problems: list[str]) -> None:
    if value not in valid:
        problems.append(f"{path} must name a known {what}{_suggest(value, valid)}, got {value!r}")


def _apply_overrides(scn: Scenario, problems: list[str]) -> Catalog:
    catalog = load_catalog()
    for kind, rows in (
        ("hardware", scn.catalog.hardware),
        ("storage", scn.catalog.storage),
        ("precision", scn.catalog.precision),
        ("compression", scn.catalog.compression),
    ):
        key = KEYS[kind]
        existing = set(catalog.table(kind).index)
        for row in rows:
            name = getattr(row, key)
            if kind == "hardware" and name in catalog.partitions.index:
                parent = catalog.partitions.at[name, "parent"]
                problems.append(
                    f"catalog.hardware[{name}] is a partition of {parent}, derived from it: "
                    f"change the row {parent!r} instead"
                )
            if name in existing:
                continue
            for column in REQUIRED_FOR_NEW_ROW[kind]:
                if getattr(row, column) is None and not _all_widths_given(row, column):
                    problems.append(f"catalog.{kind}[{name}].{column} is required for a new row")
        catalog = catalog.with_rows(kind, [_catalog_row(row, catalog) for row in rows])
    return catalog.with_partitions(parents=[row.name for row in scn.catalog.hardware])


def _all_widths_given(row: Strict, column: str) -> bool:
    return column == "size_factor" and all(
        getattr(row, f"size_factor_{w}") is not None for w in WIDTHS
    )


def _catalog_row(row: Strict, catalog: Catalog) -> dict:
    """The catalog columns a scenario row sets: a compression's ``size_factor`` fills the
    width classes it does not name, and the widths it sets are its own figures, no longer
    estimates."""
    values = row.model_dump()
    if isinstance(row, CompressionRow):
        shared = values.pop("size_factor")
        for width in WIDTHS:
            if values[f"size_factor_{width}"] is None:
                values[f"size_factor_{width}"] = shared
        comp = catalog.compression
        marked = (
            comp.at[row.compression, "estimated_widths"] if row.compression in comp.index else ""
        )
        values["estimated_widths"] = " ".join(
            w
            for w in (marked.split() if isinstance(marked, str) else [])
            if values[f"size_factor_{w}"] is None
        )
    return values


def usable_instances(scn: Scenario, catalog: Catalog) -> list[str]:
    """Instance types priced under the scenario's pricing model, or on demand where that
    plan has no price (an instance without a reserved or spot offer is bought on demand),
    in its regions (rows the scenario adds itself are always usable); accelerator
    partitions with ``fleet.partitions`` only. Kept per catalog object and the scenario's
    say in it (a solve asks a dozen times)."""
    added = tuple(sorted(row.name for row in scn.catalog.hardware))
    key = (
        scn.catalog.pricing,
        scn.fleet is not None and scn.fleet.partitions,
        None if scn.regions is None else tuple(scn.regions),
        added,
    )
    known = catalog.__dict__.setdefault("_usable_by_scenario", {})  # dies with the catalog
    if key not in known:
        known[key] = _usable(scn, catalog, set(added))
    return list(known[key])


def _usable(scn: Scenario, catalog: Catalog, added: set[str]) -> list[str]:
    hw = catalog.hardware
    usable = (
        hw[PRICING_COLUMNS[scn.catalog.pricing]].notna() | hw[PRICING_COLUMNS["on_demand"]].notna()
    )
    if scn.fleet is None or not scn.fleet.partitions:  # bought by the node: fleets only
        usable &= hw.partition_of.isna()
    if scn.regions is not None:
        added = added - set(load_catalog().hardware.index)
        usable &= hw.region.isin(scn.regions) | hw.index.isin(sorted(added))
    return [str(n) for n in hw.index[usable]]


ANYWHERE = "on-prem"  # a storage provider that is no cloud region's
EPHEMERAL = ("instance-store",)  # storage kinds lost when the instance stops


def _tiers_named(scn: Scenario) -> list[tuple[str, str]]:
    """(field, tier) for every storage tier the scenario lets artifacts or data use."""
    return [("model_storage_tiers", t) for t in scn.model_storage_tiers] + [
        (f"data_sources[{src.name}].storage_tiers", t)
        for src in scn.data_sources
        for t in src.storage_tiers
    ]


def _check_durable_tiers(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    """Artifacts and data outlive instances: an instance-store tier (local NVMe, lost when
    the instance stops or is replaced) cannot keep them."""
    st = catalog.storage
    for field, tier in _tiers_named(scn):
        if tier in st.index and st.at[tier, "kind"] in EPHEMERAL:
            problems.append(
                f"{field}: tier {tier!r} is {st.at[tier, 'kind']} storage, lost when the "
                f"instance stops; keep artifacts and data on a durable tier (object or block "
                f"storage)"
            )


def _check_storage_regions(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    """Storage tiers come from the providers of the scenario's regions (or on premises):
    an answer must not run compute in one cloud and keep its artifacts in another."""
    regions = scn.regions
    if regions is None:
        return
    hw, st = catalog.hardware, catalog.storage
    providers = set(hw.provider[hw.region.isin(regions)].dropna()) | {ANYWHERE}
    own = {row.tier for row in scn.catalog.storage}
    for field, tier in _tiers_named(scn):
        if tier in own or tier not in st.index:
            continue
        provider = st.at[tier, "provider"]
        if isinstance(provider, str) and provider not in providers:
            problems.append(
                f"{field}: tier {tier!r} is {provider} storage ({st.at[tier, 'region']}), "
                f"outside the scenario's regions ({', '.join(regions)}, providers "
                f"{', '.join(sorted(providers))}); state catalog.regions or choose a tier "
                f"of those providers"
            )


def _check_currencies(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    used = set(catalog.hardware.currency.dropna()) | set(catalog.storage.currency.dropna())
    used |= {r.currency for r in scn.role_specs.values() if r.currency}
    used |= {
        str(catalog.labor.at[r.catalog, "currency"])
        for r in scn.role_specs.values()
        if r.catalog in catalog.labor.index
    }
    for currency in sorted(used):
        try:
            scn.rate_to_scenario(currency)
        except KeyError:
            problems.append(
                f"exchange_rates.{currency} is required to convert {currency} prices "
                f"to {scn.currency}, got nothing"
            )


def _offered_partition(scn, catalog: Catalog, name: str, path: str, problems: list[str]) -> None:
    """An accelerator partition row is bought by the node: offered to fleets that ask."""
    if name in catalog.partitions.index and not (scn.fleet is not None and scn.fleet.partitions):
        problems.append(
            f"{path} {name!r} is an accelerator partition (MIG slices of "
            f"{catalog.partitions.at[name, 'parent']}): offered with a fleet section and "
            f"fleet.partitions: true"
        )


def _check_models(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    instances = list(catalog.hardware.index)
    precisions = list(catalog.precision.index)
    roles = list(scn.role_specs)
    for m in scn.models:
        path = f"models[{m.name}]"
        if (m.params_million is None) == (m.size_gb is None) and not (
            m.llm is not None and m.params_million is None
        ):
            problems.append(
                f"{path} must give exactly one of params_million or size_gb, got "
                f"{'both' if m.params_million is not None else 'neither'}"
            )
        _ref(
            m.checkpoint_precision,
            precisions,
            f"{path}.checkpoint_precision",
            "precision",
            problems,
        )
        if m.role is not None:
            _ref(m.role, roles, f"{path}.role", "role in people.roles", problems)
        for i, p in enumerate(m.profiles):
            _ref(p.instance, instances, f"{path}.profiles[{i}].instance", "instance", problems)
            _ref(p.precision, precisions, f"{path}.profiles[{i}].precision", "precision", problems)
            _offered_partition(scn, catalog, p.instance, f"{path}.profiles[{i}].instance", problems)
        for name in m.allowed_instances or []:
            _ref(name, instances, f"{path}.allowed_instances", "instance", problems)
            _offered_partition(scn, catalog, name, f"{path}.allowed_instances", problems)
        for name in m.allowed_precisions or []:
            _ref(name, precisions, f"{path}.allowed_precisions", "precision", problems)
        for name in m.quality_deltas:
            _ref(name, precisions, f"{path}.quality_deltas", "precision", problems)
        _check_llm(scn, m, catalog, problems)


LLM_PARAMS_MILLION = 1000.0  # dense parameters above which a model is taken for an LLM


def _accelerators(catalog: Catalog, instance: str) -> int:
    row = catalog.hardware.loc[instance]
    count = row.accel_count
    return 0 if row.compute_class == "cpu" or count != count else int(count)


def _check_llm(scn: Scenario, m: ModelSpec, catalog: Catalog, problems: list[str]) -> None:
    """An LLM states its tokens and shape; a large model that is none says so."""
    path = f"models[{m.name}]"
    if m.llm is None:
        if m.kind == "llm":
            problems.append(
                f"{path}.llm.input_tokens and {path}.llm.output_tokens are required for "
                "kind 'llm' (an LLM is costed in tokens), got no llm section"
            )
        elif "kind" not in m.model_fields_set and m.params_million is not None:
            dense = m.params_million - m.embedding_gb * 1e3 / 4.0
            if dense > LLM_PARAMS_MILLION:
                problems.append(
                    f"{path} has {m.params_million:,.0f} M parameters, which marks it as an "
                    f"LLM: give {path}.llm.input_tokens and {path}.llm.output_tokens (and its "
                    "architecture), or declare kind: model to cost it per request, got neither"
                )
        return
    llm = m.llm
    if m.kind != "llm":
        problems.append(f"{path}.kind must be 'llm' when an llm section is given, got {m.kind!r}")
    if (llm.architecture is None) == (llm.shape is None):
        problems.append(
            f"{path}.llm must give exactly one of architecture (a catalog row) or shape, got "
            f"{'both' if llm.shape is not None else 'neither'}"
        )
    if llm.architecture is not None and llm.architecture not in catalog.llm_architectures.index:
        _ref(
            llm.architecture,
            list(catalog.llm_architectures.index),
            f"{path}.llm.architecture",
            "LLM architecture",
            problems,
        )
    if llm.shape is not None:
        _check_shape(llm.shape, path, problems)
    if "latency_slo_ms" not in m.model_fields_set and (
        llm.ttft_p99_ms is None or llm.tpot_p99_ms is None
    ):
        problems.append(
            f"{path}.latency_slo_ms (end-to-end p99) is required for an LLM unless both "
            f"llm.ttft_p99_ms and llm.tpot_p99_ms are given, got ttft_p99_ms="
            f"{llm.ttft_p99_ms}, tpot_p99_ms={llm.tpot_p99_ms}"
        )
    if llm.tensor_parallel:
        names = m.allowed_instances or usable_instances(scn, catalog)
        most = max(
            (_accelerators(catalog, n) for n in names if n in catalog.hardware.index), default=0
        )
        if min(llm.tensor_parallel) > most:
            problems.append(
                f"{path}.llm.tensor_parallel must not exceed the accelerators of every allowed "
                f"instance (at most {most}), got {llm.tensor_parallel}"
            )
    _check_token_profiles(llm.profiles, path, catalog, problems)
    if m.profiles:
        problems.append(
            f"{path}.profiles are per-request measurements; an LLM takes token profiles in "
            f"{path}.llm.profiles, got {len(m.profiles)} per-request profiles"
        )


def _check_shape(shape, path: str, problems: list[str]) -> None:
    """A decoder shape's heads and experts are consistent."""
    if shape.heads % shape.kv_heads:
        problems.append(
            f"{path}.llm.shape.kv_heads must divide heads ({shape.heads}), got {shape.kv_heads}"
        )
    if (shape.experts == 0) != (shape.experts_per_token == 0) or (
        shape.experts_per_token > shape.experts
    ):
        problems.append(
            f"{path}.llm.shape.experts_per_token must be between 1 and experts "
            f"({shape.experts}) for a mixture of experts and 0 for a dense model, "
            f"got {shape.experts_per_token}"
        )


def _check_token_profiles(profiles, path: str, catalog: Catalog, problems: list[str]) -> None:
    """Each measured point names a catalog instance and precision, and an engine no wider
    than the instance."""
    instances = list(catalog.hardware.index)
    for i, p in enumerate(profiles):
        where = f"{path}.llm.profiles[{i}]"
        _ref(p.instance, instances, f"{where}.instance", "instance", problems)
        _ref(
            p.precision, list(catalog.precision.index), f"{where}.precision", "precision", problems
        )
        if p.instance in catalog.hardware.index and p.tensor_parallel > _accelerators(
            catalog, p.instance
        ):
            problems.append(
                f"{where}.tensor_parallel must be <= the {_accelerators(catalog, p.instance)} "
                f"accelerators of {p.instance}, got {p.tensor_parallel}"
            )


def _check_fusion(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    models = [m.name for m in scn.models]
    for f in scn.fusion:
        path = f"fusion[{f.name}]"
        for member in f.members:
            _ref(member, models, f"{path}.members", "model", problems)
        if len(set(f.members)) != len(f.members):
            problems.append(f"{path}.members must not repeat a model, got {f.members}")
        if f.method == "single" and len(f.members) != 1:
            problems.append(
                f"{path}.members must have exactly 1 model for method 'single', "
                f"got {len(f.members)}"
            )
        if f.method == "weighted" and (f.weights is None or len(f.weights) != len(f.members)):
            problems.append(
                f"{path}.weights must give one weight per member for method "
                f"'weighted', got {f.weights}"
            )
        if f.stage_fractions is not None and len(f.stage_fractions) != len(f.members):
            problems.append(
                f"{path}.stage_fractions must give one fraction per member, got "
                f"{len(f.stage_fractions)} for {len(f.members)} members"
            )
        if f.stage_fractions is not None and f.method != "cascade":
            problems.append(
                f"{path}.stage_fractions only applies to method 'cascade', got method {f.method!r}"
            )
        if f.instance is not None:
            _ref(
                f.instance,
                usable_instances(scn, catalog),
                f"{path}.instance",
                f"instance priced {scn.catalog.pricing} in the selected regions",
                problems,
            )
        elif f.replicas:
            problems.append(f"{path}.instance is required when replicas > 0, got nothing")
        if f.role is not None:
            _ref(f.role, list(scn.role_specs), f"{path}.role", "role in people.roles", problems)


def _check_people(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    labor = list(catalog.labor.index)
    for name, role in scn.role_specs.items():
        path = f"people.roles[{name}]"
        if (role.day_rate is None) == (role.catalog is None):
            problems.append(
                f"{path} must give exactly one of day_rate or catalog, got "
                f"{'both' if role.day_rate is not None else 'neither'}"
            )
        if role.catalog is not None:
            _ref(role.catalog, labor, f"{path}.catalog", "labor catalog role", problems)
        if role.currency is not None and role.day_rate is None:
            problems.append(f"{path}.currency only applies with day_rate, got {role.currency!r}")
    if scn.people.training_role is not None:
        _ref(
            scn.people.training_role,
            list(scn.role_specs),
            "people.training_role",
            "role in people.roles",
            problems,
        )
    _unique(scn.people.automation_levels, "people.automation_levels", problems)


def _check_storage_and_limits(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    tiers = list(catalog.storage.index)
    for tier in scn.model_storage_tiers:
        _ref(tier, tiers, "model_storage_tiers", "storage tier", problems)
    for src in scn.data_sources:
        for tier in src.storage_tiers:
            _ref(tier, tiers, f"data_sources[{src.name}].storage_tiers", "storage tier", problems)
        if src.role is not None:
            _ref(
                src.role,
                list(scn.role_specs),
                f"data_sources[{src.name}].role",
                "role in people.roles",
                problems,
            )
    for name in scn.constraints.e2e_models or []:
        _ref(name, [m.name for m in scn.models], "constraints.e2e_models", "model", problems)
    if scn.constraints.e2e_models is not None and scn.constraints.e2e_latency_ms is None:
        problems.append(
            "constraints.e2e_models names the models an end-to-end limit covers: it needs "
            "constraints.e2e_latency_ms"
        )
    for name in scn.constraints.quotas:
        _ref(name, list(catalog.hardware.index), "constraints.quotas", "instance", problems)
    for name in scn.constraints.owned_storage_gb:
        _ref(name, tiers, "constraints.owned_storage_gb", "storage tier", problems)
    known_regions = sorted(set(catalog.hardware.region.dropna()))
    for region in scn.catalog.regions or []:
        _ref(region, known_regions, "catalog.regions", "hardware region", problems)
    _check_storage_regions(scn, catalog, problems)
    _check_durable_tiers(scn, catalog, problems)
    usable = usable_instances(scn, catalog)
    if scn.catalog.calibration_instance is not None:
        _ref(
            scn.catalog.calibration_instance,
            usable,
            "catalog.calibration_instance",
            f"instance priced {scn.catalog.pricing} in the selected regions",
            problems,
        )
    elif not usable:
        problems.append("catalog: no instance is priced in the selected regions")
    for name in scn.options.file_compressions:
        _ref(
            name,
            list(catalog.compression.index),
            "options.file_compressions",
            "file compression",
            problems,
        )
    if max(scn.options.backups) < max(m.min_backups for m in scn.models):
        problems.append(
            f"options.backups must include a count >= every model's min_backups "
            f"({max(m.min_backups for m in scn.models)}), got {scn.options.backups}"
        )
    mean = scn.workload.mean_qps
    if scn.workload.peak_qps is not None and scn.workload.peak_qps < mean:
        problems.append(
            f"workload.peak_qps must be >= the mean rate queries_per_day / 86400 "
            f"= {mean:.6g}, got {scn.workload.peak_qps}"
        )
    if scn.workload.hourly_profile is not None and sum(scn.workload.hourly_profile) <= 0:
        problems.append("workload.hourly_profile must have a positive sum, got all zeros")


def _check_pricing(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    """``catalog.pricing`` buys each instance under that plan where it has a price, else on
    demand; a plan priced on no usable instance would be on demand throughout: an error."""
    plan = scn.catalog.pricing
    column = PRICING_COLUMNS[plan]
    usable = usable_instances(scn, catalog)
    if plan != "on_demand" and usable and not catalog.hardware.loc[usable, column].notna().any():
        problems.append(
            f"catalog.pricing {plan!r} needs {column} on some usable instance type (give it on "
            f"catalog.hardware rows), got none priced"
        )


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA zones this machine knows (read from disk once: ~40 ms a call)."""
    return frozenset(zoneinfo.available_timezones())


def _check_fleet(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    days = scn.workload.day_types
    _unique(days, "workload.day_types", problems)
    pooled = [m.name for m in scn.models if m.pool is not None]
    if scn.fleet is None:
        if days:
            problems.append(
                f"workload.day_types is used by the fleet optimiser only: add a 'fleet' "
                f"section, got {len(days)} day types without one"
            )
        if pooled:
            problems.append(
                f"models[{pooled[0]}].pool is used by the fleet optimiser only: add a "
                f"'fleet' section, got pool {scn.model(pooled[0]).pool!r} without one"
            )
        return
    zones = _time_zones()
    if zones and scn.fleet.timezone not in zones | {"UTC"}:
        problems.append(
            f"fleet.timezone must be an IANA time zone such as 'Asia/Shanghai', "
            f"got {scn.fleet.timezone!r}"
        )
    total = sum(d.days for d in days)
    if days and abs(total - DAYS_PER_YEAR) > 1e-6:
        problems.append(
            f"workload.day_types: days must sum to the year ({DAYS_PER_YEAR:g}), got {total:g}"
        )
    usable = usable_instances(scn, catalog)
    runnable: set[str] = set()
    for m in scn.models:
        mine = set(usable if m.allowed_instances is None else m.allowed_instances)
        if m.profiles and not scn.options.estimate_unprofiled:
            mine &= {p.instance for p in m.profiles}
        runnable |= mine & set(usable)
    hw = catalog.hardware.loc[sorted(runnable)]
    for plan in dict.fromkeys(scn.fleet.plans):
        if not hw[PRICING_COLUMNS[plan]].notna().any():
            problems.append(
                f"fleet.plans: plan {plan!r} needs {PRICING_COLUMNS[plan]} on an instance "
                f"type some model can run on ({', '.join(sorted(runnable)[:5]) or 'none'}), "
                "got none priced"
            )
    if len(set(scn.fleet.plans)) < len(scn.fleet.plans):
        problems.append(f"fleet.plans must not repeat a plan, got {scn.fleet.plans}")


def _has_value(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def _check_catalog_values(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    accelerators = list(catalog.accelerators.index)
    for name, row in catalog.hardware.iterrows():
        if _has_value(row.get("accelerator")) and row["accelerator"] not in accelerators:
            problems.append(
                f"catalog.hardware[{name}].accelerator must name a known "
                f"accelerator{_suggest(str(row['accelerator']), accelerators)}, "
                f"got {row['accelerator']!r}"
            )
