"""Many deployments at once, as integer and float arrays over (deployment, model) axes.

A deployment fixes, for every model, the instance type, replicas, precision, batch size,
artifact storage tier, backup copies and file compression; and, for the whole system, the
fusion configuration, a storage tier per data source and an automation level. Indices
point into the name lists held by ``Space``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deploycost.cost.prices import instance_names, tier_names
from deploycost.scenario.schema import DeploymentSpec, Scenario


class Axis(tuple):
    """The names along one axis of the problem, in order; ``index`` is a dictionary lookup,
    so that mapping thousands of names to positions stays linear."""

    def __new__(cls, names) -> Axis:
        axis = super().__new__(cls, names)
        axis._position = {}
        for i, name in enumerate(axis):
            axis._position.setdefault(name, i)
        return axis

    def __contains__(self, name) -> bool:  # tuple's ``in``, in O(1)
        try:
            return name in self._position
        except TypeError:
            return False

    def index(self, name, *bounds) -> int:  # noqa: D401 - tuple.index, in O(1)
        if bounds:
            return super().index(name, *bounds)
        try:
            return self._position[name]
        except (KeyError, TypeError):
            raise ValueError(f"{name!r} is not on this axis") from None


@dataclass(frozen=True)
class Space:
    """Name lists that give the meaning of every index in ``Deployments``."""

    models: tuple[str, ...]
    instances: tuple[str, ...]
    tiers: tuple[str, ...]
    precisions: tuple[str, ...]
    compressions: tuple[str, ...]
    fusions: tuple[str, ...]
    sources: tuple[str, ...]
    automation: tuple[str, ...]
    roles: tuple[str, ...]

    @classmethod
    def of(cls, scn: Scenario) -> Space:
        cat = scn.resolved_catalog
        return cls(
            models=Axis(m.name for m in scn.models),
            instances=Axis(instance_names(scn)),
            tiers=Axis(tier_names(scn)),
            precisions=Axis(str(p) for p in cat.precision.index),
            compressions=Axis(str(c) for c in cat.compression.index),
            fusions=Axis(f.name for f in scn.fusion_configs),
            sources=Axis(s.name for s in scn.data_sources),
            automation=Axis(a.name for a in scn.people.automation_levels),
            roles=Axis(scn.role_specs),
        )


@dataclass(frozen=True)
class Deployments:
    """D deployments of M models; (D, M) arrays per model, (D,) or (D, S) system choices.

    ``capacity_qps`` is the per-replica capacity used to follow the hourly traffic profile
    (NaN: the replicas run all day).
    """

    instance: np.ndarray  # (D, M) int, index into Space.instances
    replicas: np.ndarray  # (D, M) float, peak replicas
    precision: np.ndarray  # (D, M) int, index into Space.precisions
    batch: np.ndarray  # (D, M) int
    tier: np.ndarray  # (D, M) int, index into Space.tiers
    backups: np.ndarray  # (D, M) int
    compression: np.ndarray  # (D, M) int, index into Space.compressions
    capacity_qps: np.ndarray  # (D, M) float, NaN when not autoscaled
    fusion: np.ndarray  # (D,) int, index into Space.fusions
    data_tier: np.ndarray  # (D, S) int, index into Space.tiers
    automation: np.ndarray  # (D,) int, index into Space.automation

    @property
    def count(self) -> int:
        return int(self.fusion.shape[0])

    def take(self, rows: np.ndarray) -> Deployments:
        """The deployments at positions ``rows`` (fancy index over the first axis)."""
        return Deployments(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


def from_specs(scn: Scenario, specs: list[DeploymentSpec]) -> Deployments:
    """Arrays for validated deployment specs (defaults filled from the scenario)."""
    space = Space.of(scn)
    d, m, s = len(specs), len(space.models), len(space.sources)
    arrays = {
        "instance": np.zeros((d, m), np.intp),
        "replicas": np.zeros((d, m)),
        "precision": np.zeros((d, m), np.intp),
        "batch": np.ones((d, m), np.intp),
        "tier": np.zeros((d, m), np.intp),
        "backups": np.zeros((d, m), np.intp),
        "compression": np.zeros((d, m), np.intp),
        "capacity_qps": np.full((d, m), np.nan),
        "fusion": np.zeros(d, np.intp),
        "data_tier": np.zeros((d, s), np.intp),
        "automation": np.zeros(d, np.intp),
    }
    sources = {src.name: src for src in scn.data_sources}
    for row, spec in enumerate(specs):
        arrays["fusion"][row] = space.fusions.index(spec.fusion or space.fusions[0])
        arrays["automation"][row] = space.automation.index(spec.automation or space.automation[0])
        for j, name in enumerate(space.sources):
            tier = spec.data_tiers.get(name, sources[name].storage_tiers[0])
            arrays["data_tier"][row, j] = space.tiers.index(tier)
        for name, choice in spec.models.items():
            i = space.models.index(name)
            model = scn.model(name)
            arrays["instance"][row, i] = space.instances.index(choice.instance)
            arrays["replicas"][row, i] = choice.replicas
            arrays["precision"][row, i] = space.precisions.index(
                choice.precision if choice.precision is not None else model.checkpoint_precision
            )
            arrays["batch"][row, i] = choice.batch
            arrays["tier"][row, i] = space.tiers.index(
                choice.tier if choice.tier is not None else scn.model_storage_tiers[0]
            )
            arrays["backups"][row, i] = choice.backups
            arrays["compression"][row, i] = space.compressions.index(choice.compression)
            if choice.autoscale:
                arrays["capacity_qps"][row, i] = choice.capacity_qps
    return Deployments(**arrays)
