"""A fixed deployment (a file for ``evaluate`` and ``diff``, or the scenario's
``baseline_deployment``) against its scenario: every model it names exists and is a member
of the fusion configuration, instances, precisions, tiers and compressions are known and
allowed, data sources get tiers they may use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploycost.scenario.checks import _accelerators, _ref, usable_instances
from deploycost.scenario.models import DeploymentSpec

if TYPE_CHECKING:
    from deploycost.scenario.schema import Scenario


def check_deployment(scn: Scenario, dep: DeploymentSpec, prefix: str = "deployment") -> list[str]:
    """Cross-check a deployment against its scenario; returns the problems found."""
    problems: list[str] = []
    fusions = {f.name: f for f in scn.fusion_configs}
    fusion_name = dep.fusion or next(iter(fusions))
    if fusion_name not in fusions:
        _ref(fusion_name, list(fusions), f"{prefix}.fusion", "fusion configuration", problems)
        return problems
    members = fusions[fusion_name].members
    member_set = set(members)
    for name in dep.models:
        if name not in member_set:
            where = f"{prefix}.models[{name}]"
            if name in [m.name for m in scn.models]:
                problems.append(
                    f"{where} must be a member of fusion {fusion_name!r} "
                    f"({', '.join(members)}), got a non-member"
                )
            else:
                _ref(name, [m.name for m in scn.models], f"{prefix}.models", "model", problems)
    for name in members:
        if name not in dep.models:
            problems.append(
                f"{prefix}.models[{name}] is required (member of fusion {fusion_name!r})"
            )
            continue
        _check_choice(scn, name, dep.models[name], f"{prefix}.models[{name}]", problems)
    sources = {s.name: s for s in scn.data_sources}
    for name, tier in dep.data_tiers.items():
        if name not in sources:
            _ref(name, list(sources), f"{prefix}.data_tiers", "data source", problems)
        else:
            _ref(
                tier,
                sources[name].storage_tiers,
                f"{prefix}.data_tiers[{name}]",
                "tier allowed for this source",
                problems,
            )
    levels = [a.name for a in scn.people.automation_levels]
    if dep.automation is not None:
        _ref(dep.automation, levels, f"{prefix}.automation", "automation level", problems)
    return problems


def _check_choice(scn: Scenario, name: str, choice, where: str, problems: list[str]) -> None:
    """One model's choice against the catalog and the model: instance priced in the
    regions, known precision, tier and compression, replicas, autoscale and tensor
    parallelism."""
    catalog = scn.resolved_catalog
    spec = scn.model(name)
    priced = usable_instances(scn, catalog)
    _ref(
        choice.instance,
        priced,
        f"{where}.instance",
        f"instance priced {scn.catalog.pricing} in the selected regions",
        problems,
    )
    if choice.precision is not None:
        _ref(
            choice.precision,
            list(catalog.precision.index),
            f"{where}.precision",
            "precision",
            problems,
        )
    if choice.tier is not None:
        _ref(
            choice.tier,
            scn.model_storage_tiers,
            f"{where}.tier",
            "tier in model_storage_tiers",
            problems,
        )
    _ref(
        choice.compression,
        list(catalog.compression.index),
        f"{where}.compression",
        "file compression",
        problems,
    )
    if choice.replicas < spec.min_replicas:
        problems.append(
            f"{where}.replicas must be >= min_replicas ({spec.min_replicas}), got {choice.replicas}"
        )
    if choice.autoscale and choice.capacity_qps is None:
        problems.append(f"{where}.capacity_qps is required when autoscale is true")
    if choice.tensor_parallel > 1 and choice.instance in catalog.hardware.index:
        accelerators = _accelerators(catalog, choice.instance)
        if choice.tensor_parallel > accelerators:
            problems.append(
                f"{where}.tensor_parallel must be <= the {accelerators} accelerators of "
                f"{choice.instance}, got {choice.tensor_parallel}"
            )
        if not spec.is_llm:
            problems.append(
                f"{where}.tensor_parallel applies to LLM models only, got {choice.tensor_parallel}"
            )
