"""Per-model constants the cost model reads (sizes, versions, people per month, replica
floors), the fusion configurations' matrices, and how many replicas run in each hour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deploycost.cost.deployments import Space
from deploycost.periods import DAYS_PER_MONTH, HOURS_PER_DAY
from deploycost.scenario.architecture import architecture_of
from deploycost.scenario.schema import Scenario


def _weights_gb_per_byte(model, scn: Scenario, bytes_per: pd.Series) -> float:
    """GB of weights per byte per parameter: parameters / 1e9 (an LLM that gives neither
    size nor count takes its architecture's)."""
    if model.params_million is not None:
        return model.params_million * 1e-3
    if model.size_gb is not None:
        return model.size_gb / float(bytes_per[model.checkpoint_precision])
    return architecture_of(model, scn.resolved_catalog).total / 1e9


@dataclass(frozen=True)
class ModelConstants:
    """Per-model figures from the scenario, as arrays over the model axis (M,)."""

    gb_per_param_byte: np.ndarray  # GB of weights per byte/param (params / 1e9)
    checkpoint_precision: np.ndarray
    versions_kept: np.ndarray
    retrains_per_day: np.ndarray
    maintenance_pd_per_day: np.ndarray
    role: np.ndarray
    requests_per_query: np.ndarray  # model requests per user query: share x fan-out
    min_replicas: np.ndarray
    effort_pd_per_retrain: np.ndarray
    effort_gpu_h_per_retrain: np.ndarray
    slo_ms: np.ndarray  # p99 limit
    min_backups: np.ndarray
    flops_per_request: np.ndarray  # default 2 x parameters
    bytes_read_per_request: np.ndarray
    embedding_gb: np.ndarray  # at the checkpoint precision

    def take(self, models: np.ndarray) -> ModelConstants:
        """The constants of ``models`` (indices), e.g. one entry per candidate option."""
        return ModelConstants(**{k: getattr(self, k)[models] for k in self.__dataclass_fields__})

    @classmethod
    def of(cls, scn: Scenario, space: Space) -> ModelConstants:
        bytes_per = scn.resolved_catalog.precision.bytes_per_param
        gb = [_weights_gb_per_byte(m, scn, bytes_per) for m in scn.models]
        return cls(
            gb_per_param_byte=np.array(gb, float),
            checkpoint_precision=np.array(
                [space.precisions.index(m.checkpoint_precision) for m in scn.models]
            ),
            versions_kept=np.array([m.versions_kept for m in scn.models], float),
            retrains_per_day=np.array([m.retrains_per_month for m in scn.models]) / DAYS_PER_MONTH,
            maintenance_pd_per_day=np.array(
                [m.maintenance_person_days_per_month for m in scn.models]
            )
            / DAYS_PER_MONTH,
            role=np.array([space.roles.index(m.role or scn.default_role) for m in scn.models]),
            requests_per_query=np.array(
                [m.traffic_share * m.requests_per_query for m in scn.models]
            ),
            min_replicas=np.array([m.min_replicas for m in scn.models], float),
            effort_pd_per_retrain=np.array(
                [m.compression_effort.person_days_per_retrain for m in scn.models]
            ),
            effort_gpu_h_per_retrain=np.array(
                [m.compression_effort.calibration_gpu_hours_per_retrain for m in scn.models]
            ),
            slo_ms=np.array([m.latency_limit_ms for m in scn.models], float),
            min_backups=np.array([m.min_backups for m in scn.models]),
            flops_per_request=np.array(
                [
                    m.gflops_per_query * 1e9 if m.gflops_per_query is not None else 2.0 * g * 1e9
                    for m, g in zip(scn.models, gb, strict=True)
                ]
            ),
            bytes_read_per_request=np.array([(m.mb_per_query or 0.0) * 1e6 for m in scn.models]),
            embedding_gb=np.array([m.embedding_gb for m in scn.models], float),
        )


def fusion_matrices(scn: Scenario, space: Space) -> tuple[np.ndarray, np.ndarray]:
    """(F, M) membership and traffic fraction of each model in each fusion configuration."""
    member = np.zeros((len(space.fusions), len(space.models)), bool)
    fraction = np.zeros_like(member, dtype=float)
    for f, cfg in enumerate(scn.fusion_configs):
        fractions = cfg.stage_fractions or [1.0] * len(cfg.members)
        for name, frac in zip(cfg.members, fractions, strict=True):
            member[f, space.models.index(name)] = True
            fraction[f, space.models.index(name)] = frac
    return member, fraction


def billed_factor(min_days: np.ndarray, lifetime_days: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(lifetime_days > 0, min_days / lifetime_days, 0.0)
    return np.maximum(1.0, ratio)


def artifact_loads_per_day(
    replicas: np.ndarray, retrains_per_day: np.ndarray, starts_per_day: np.ndarray
) -> np.ndarray:
    """Artifact pulls per day: every replica loads each new version, and every replica start
    (scale-up over the daily cycle) loads the current one."""
    return replicas * retrains_per_day + starts_per_day


def running_replicas(
    scn: Scenario,
    replicas: np.ndarray,
    capacity_qps: np.ndarray,
    share: np.ndarray,
    min_replicas: np.ndarray,
) -> np.ndarray:
    """(K, 24) replicas an autoscaler runs in each hour for K autoscaled entries (all (K,)):
    ``ceil(lambda_h / (capacity x utilisation_max))`` at the hour's mean rate, clamped to
    [min_replicas, deployed replicas]."""
    load = np.asarray(share, float)[:, None] * np.asarray(scn.workload.hourly_mean_qps)
    per_replica = np.asarray(capacity_qps, float)[:, None] * scn.constraints.utilisation_max
    with np.errstate(invalid="ignore", divide="ignore"):
        needed = np.ceil(load / per_replica)
    needed = np.maximum(needed, np.asarray(min_replicas, float)[:, None])
    return np.minimum(needed, np.asarray(replicas, float)[:, None])


def daily_replicas(
    scn: Scenario,
    replicas: np.ndarray,
    capacity_qps: np.ndarray,
    share: np.ndarray,
    min_replicas: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(D, M) replica-hours per day and replica starts per day of ``replicas`` (D, M) peak
    replicas with per-replica ``capacity_qps`` (NaN: not autoscaled), serving ``share``
    requests per user query, at least ``min_replicas`` (M,).

    A model that does not autoscale runs its peak replicas all day (24 x replicas, no
    starts). An autoscaled one runs ``ceil(lambda_h / (capacity * utilisation_max))``
    replicas in hour h, clamped to [min_replicas, deployed replicas]; each increase from
    one hour to the next (the day wrapping round) is a start. The hourly profile is built
    only for the autoscaled entries, so a grid of a million fixed options stays (D, M).
    """
    replicas = np.asarray(replicas, float)
    hours = replicas * HOURS_PER_DAY
    starts = np.zeros_like(hours)
    capacity = np.broadcast_to(capacity_qps, replicas.shape)
    d, m = np.nonzero(~np.isnan(capacity))
    if len(d):
        running = running_replicas(
            scn,
            replicas[d, m],
            capacity[d, m],
            np.broadcast_to(share, replicas.shape)[d, m],
            np.asarray(min_replicas)[m],
        )
        hours[d, m] = running.sum(axis=1) * (HOURS_PER_DAY / 24.0)
        starts[d, m] = np.maximum(np.diff(running, axis=1, append=running[:, :1]), 0).sum(axis=1)
    return hours, starts
