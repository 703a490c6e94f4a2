"""The request rate an autoscaler sizes each replica by: utilisation and latency, every hour.

An autoscaled option runs ``n_h = clamp(ceil(lambda_h / (capacity x utilisation_max)),
min_replicas, N)`` replicas in hour h (``cost.model.running_replicas``): fewer than at the
peak, each busier, so the hour's p99 can break a limit the deployed count ``N`` meets. The
capacity starts at the replica's throughput (the utilisation limit alone) and is lowered in
geometric steps (x ``RATIO``) until the latency limits hold in every hour at the counts it
gives. An option meets them at ``N`` in every hour (the grid checked it), so the last
resort always does: ``min over busy hours of lambda_h / (utilisation_max x N)``, which runs
``N`` in every hour with traffic. ``capacity x utilisation_max`` is the autoscaler's target
in requests/s per replica, the signal it scales on.
"""

from __future__ import annotations

import numpy as np

from deploycost.cost.constants import running_replicas
from deploycost.cost.model import CostModel
from deploycost.options.latency import worst_hour_latency
from deploycost.options.performance import Performance

RATIO = 0.9
STEPS = 40  # down to 0.9^39 = 1.6 % of the throughput before the last resort


def autoscale_capacity(cost: CostModel, perf: Performance, units, kept: dict) -> np.ndarray:
    """Per kept compute choice (``options.grid.kept_compute``): the per-replica capacity the
    autoscaler sizes by (requests/s before ``utilisation_max``)."""
    scn = cost.scn
    thr = np.asarray(kept["throughput"], float)
    if not scn.options.latency_every_hour or not len(thr):
        return thr
    u = kept["u"]
    i = units.model[u]
    at = (i, kept["h"], kept["c"], kept["b"])
    deployed = np.asarray(kept["replicas"], float)
    share, peak = units.share[u], units.arrival_qps[u]
    hourly = share[:, None] * np.asarray(scn.workload.hourly_mean_qps)
    min_replicas = cost.const.take(i).min_replicas
    busy = np.where(hourly > 0, hourly, np.inf).min(axis=1)
    capacity = busy / (scn.constraints.utilisation_max * deployed)  # the last resort
    todo = np.arange(len(thr))
    for step in range(STEPS):
        trial = thr[todo] * RATIO**step
        running = running_replicas(scn, deployed[todo], trial, share[todo], min_replicas[todo])
        p99, ttft = worst_hour_latency(
            perf,
            tuple(a[todo] for a in at),
            deployed[todo],
            peak[todo],
            hourly[todo],
            running,
        )
        ok = perf.meets(i[todo], p99, ttft)
        capacity[todo[ok]] = trial[ok]
        todo = todo[~ok]
        if not len(todo):
            break
    return capacity
