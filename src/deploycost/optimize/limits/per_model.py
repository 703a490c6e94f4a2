"""Limits of each model on its own, enforced by the option grid: p99, TTFT, TPOT,
utilisation and cold start (only options that meet them become columns or modes).

A deployment has one figure per model; a fleet one per type the model runs on, and the
value is the worst of them at the per-instance capacity the fleet was sized at.
"""

from __future__ import annotations

import numpy as np

from deploycost.optimize.limits.base import Limit, member_names
from deploycost.options.capacity import slices_per_node


def serving(form, plan):
    """(model, the modes carrying its load) of a decoded fleet, in the plan's order."""
    shares = plan.shares[plan.shares["mode"] >= 0]  # standby rows carry no load
    for model, mine in shares.groupby("model", sort=False):
        yield model, form.fleet.modes.iloc[mine["mode"].to_numpy()]


def _perf_index(form, modes) -> tuple[np.ndarray, ...]:
    """(model, instance, precision, config) of each mode: its cell of the performance table."""
    model = np.array([form.cost.space.models.index(m) for m in modes.model])
    return (
        model,
        modes.instance_idx.to_numpy(),
        modes.precision_idx.to_numpy(),
        modes.config_idx.to_numpy(),
    )


class LatencyP99(Limit):
    """``latency_p99_max[model]``: p99 of each model <= its SLO (queueing at peak).

    Enforced by the option grid: an option whose p99 exceeds the SLO is never a column."""

    family, unit = "latency_p99_max", "ms"

    def values(self, layout, picks):
        scn = layout.cost.scn
        return [
            self._checked(name, picks.p99_ms[:, j], scn.model(name).latency_limit_ms)
            for j, name in enumerate(member_names(layout, picks))
        ]

    def fleet_values(self, form, plan, cost):
        scn = form.cost.scn
        return [
            self._value(m, modes.p99_at_cap_ms.max(), scn.model(m).latency_limit_ms)
            for m, modes in serving(form, plan)
        ]


class _LlmLatency(Limit):
    """An LLM latency figure of each LLM member against its limit (``llm.<limit>``)."""

    unit = "ms"
    figure = ""  # the Picks field
    limit = ""  # the LlmSpec field

    def values(self, layout, picks):
        scn = layout.cost.scn
        out = []
        for j, name in enumerate(member_names(layout, picks)):
            spec = scn.model(name).llm
            if spec is not None and getattr(spec, self.limit) is not None:
                out.append(
                    self._checked(
                        name, getattr(picks, self.figure)[:, j], getattr(spec, self.limit)
                    )
                )
        return out

    def fleet_values(self, form, plan, cost):
        scn = form.cost.scn
        out = []
        for m, modes in serving(form, plan):
            spec = scn.model(m).llm
            if spec is not None and getattr(spec, self.limit) is not None:
                out.append(self._value(m, self._worst(form, modes), getattr(spec, self.limit)))
        return out

    def _worst(self, form, modes) -> float:
        raise NotImplementedError


class TtftP99(_LlmLatency):
    """``ttft_p99_max[model]``: an LLM's time to first token at p99 (prefill + the M/M/c
    wait for a sequence slot at peak) <= its limit.

    Enforced by the option grid."""

    family, figure, limit = "ttft_p99_max", "ttft_ms", "ttft_p99_ms"

    def _worst(self, form, modes):
        return float(modes.ttft_at_cap_ms.max())


class TpotP99(_LlmLatency):
    """``tpot_p99_max[model]``: an LLM's time per output token (a decode step with all its
    sequences plus the prefills that join meanwhile) <= its limit.

    Enforced by the option grid."""

    family, figure, limit = "tpot_p99_max", "tpot_ms", "tpot_p99_ms"

    def _worst(self, form, modes):
        return float(form.fleet.perf.tpot_ms[_perf_index(form, modes)].max())


class Utilisation(Limit):
    """``utilisation_max[model]``: peak arrivals / (replicas x throughput) <= rho_max.

    Enforced by the option grid (replicas are sized from it). A fleet's type at its
    capacity: the per-instance rate over what its servers can process at all (a partition
    row's node is its slices)."""

    family, unit = "utilisation_max", "fraction"

    def values(self, layout, picks):
        rho = layout.cost.scn.constraints.utilisation_max
        return [
            self._checked(name, picks.utilisation[:, j], rho)
            for j, name in enumerate(member_names(layout, picks))
        ]

    def fleet_values(self, form, plan, cost):
        rho = form.cost.scn.constraints.utilisation_max
        slices = slices_per_node(form.cost)
        out = []
        for m, modes in serving(form, plan):
            servers = slices[modes.instance_idx.to_numpy()]
            busy = modes.cap_qps.to_numpy() / (modes.throughput_qps.to_numpy() * servers)
            out.append(self._value(m, busy.max(), rho))
        return out


class ColdStart(Limit):
    """``cold_start_max[model]``: first byte + artifact GB / read rate + decompression <=
    ``max_cold_start_s``. Enforced by the option grid (storage choice); checked only when
    the scenario sets a finite limit."""

    family, unit = "cold_start_max", "s"

    def values(self, layout, picks):
        limit = layout.cost.scn.constraints.max_cold_start_s
        if not np.isfinite(limit):
            return []
        return [
            self._checked(name, picks.cold_start_s[:, j], limit)
            for j, name in enumerate(member_names(layout, picks))
        ]

    def fleet_values(self, form, plan, cost):
        limit = form.cost.scn.constraints.max_cold_start_s
        if not np.isfinite(limit):
            return []
        return [self._value(r.model, r.cold_start_s, limit) for r in plan.artifacts.itertuples()]
