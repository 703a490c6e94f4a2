"""The limit registry: every limit family, for deployments and fleets (see ``base``)."""

from __future__ import annotations

from deploycost.optimize.layout import Layout
from deploycost.optimize.limits.base import (
    BINDING_REL_TOL,
    Checked,
    Limit,
    LimitValue,
    Picks,
    Relaxed,
    limit_name,
)
from deploycost.optimize.limits.capacity import (
    MinShare,
    Quota,
    SharedMemory,
    StorageCapacity,
    TypesPerModel,
    fusion_layer,
    quota_hours,
)
from deploycost.optimize.limits.coupled import (
    Budget,
    EndToEndLatency,
    QualityFloor,
    pipeline_ms,
    stages_text,
)
from deploycost.optimize.limits.per_model import (
    ColdStart,
    LatencyP99,
    TpotP99,
    TtftP99,
    Utilisation,
)

LIMITS: tuple[Limit, ...] = (
    LatencyP99(),
    TtftP99(),
    TpotP99(),
    Utilisation(),
    ColdStart(),
    QualityFloor(),
    EndToEndLatency(),
    Quota(),
    Budget(),
    StorageCapacity(),
    SharedMemory(),
    TypesPerModel(),
    MinShare(),
)
BY_FAMILY = {limit.family: limit for limit in LIMITS}
# the order an infeasible fleet's families are lifted in, one at a time: the limits a user
# sets first, then the fleet's own structure
RELAX_ORDER = (
    "quota_max",
    "budget_max",
    "quality_min",
    "latency_e2e_max",
    "memory_max",
    "types_per_model_max",
    "share_per_type_min",
    "storage_capacity_max",
)


def check(layout: Layout, picks: Picks) -> list[Checked]:
    """Every limit's value for the K candidates in ``picks``."""
    return [checked for limit in LIMITS for checked in limit.values(layout, picks)]


def fleet_limits(form, plan, cost: float) -> tuple[LimitValue, ...]:
    """Every limit of a decoded fleet costing ``cost`` per day, in the registry's order,
    each recomputed from the fleet and the scenario, not from the matrix."""
    return tuple(value for limit in LIMITS for value in limit.fleet_values(form, plan, cost))


__all__ = [
    "BINDING_REL_TOL",
    "BY_FAMILY",
    "LIMITS",
    "RELAX_ORDER",
    "Checked",
    "Limit",
    "LimitValue",
    "Picks",
    "Relaxed",
    "check",
    "fleet_limits",
    "fusion_layer",
    "limit_name",
    "pipeline_ms",
    "quota_hours",
    "stages_text",
]
