"""The founding document's five functions (sec. 5.2), working and with explicit units.

Each function keeps the document's name and parameter order, accepts scalars, lists or
numpy arrays (broadcast element-wise, one entry per model) and returns a float: the sum
over models, in currency per day. Where the document's formula was not a cost, the
corrected formula of ``deploycost.cost.model`` is used; each docstring says what changed.

>>> data_cost(10, [1, 5], 0.8)            # 10 CNY/GB, 6 usable GB a day, 80 % usable
75.0
>>> multi_model_fusion_cost(100, 0.5)     # the document's C_fuse = unit cost x F
50.0
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from deploycost.periods import DAYS_PER_MONTH, HOURS_PER_DAY


def _positive(name: str, value: ArrayLike, allow_zero: bool = True) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    bad = ~np.isfinite(array) | ((array < 0) if allow_zero else (array <= 0))
    if np.any(bad):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {rule}, got {value!r}")
    return array


def data_cost(
    data_acq_cost: ArrayLike, data_size: ArrayLike, data_acq_efficiency: ArrayLike
) -> float:
    """Daily data acquisition cost [currency/day].

    ``data_acq_cost`` [currency/GB acquired], ``data_size`` [usable GB/day, per source],
    ``data_acq_efficiency`` [usable fraction, (0, 1]].

    cost = data_acq_cost x data_size / data_acq_efficiency. The document multiplied by the
    efficiency and divided a list by 1024^3; acquiring one usable GB at efficiency 0.8 takes
    1 / 0.8 GB, so we divide, and sizes are already in GB.
    """
    price = _positive("data_acq_cost", data_acq_cost)
    size = _positive("data_size", data_size)
    efficiency = _positive("data_acq_efficiency", data_acq_efficiency, allow_zero=False)
    if np.any(efficiency > 1):
        raise ValueError(f"data_acq_efficiency must be <= 1, got {data_acq_efficiency!r}")
    return float(np.sum(price * size / efficiency))


def model_storage_cost(
    model_size: ArrayLike,
    storage_size: ArrayLike,
    storage_price_per_gb_month: ArrayLike = 0.12,
    copies: ArrayLike = 1,
) -> float:
    """Daily model storage cost [currency/day].

    ``model_size`` [GB per model], ``storage_size`` [GB capacity of each model's medium],
    ``storage_price_per_gb_month`` [currency/GB-month] (default: Alibaba OSS Standard,
    0.12 CNY, see the storage catalog), ``copies`` [versions x (1 + backups)].

    cost = model_size x copies x price / 30.4. The document charged for
    ``model_size - storage_size`` (negative when the model fits) and read an undefined
    price; storage is paid per GB stored, and a model larger than its medium is an error.
    """
    size = _positive("model_size", model_size)
    capacity = _positive("storage_size", storage_size)
    price = _positive("storage_price_per_gb_month", storage_price_per_gb_month)
    n = _positive("copies", copies)
    if np.any(size * n > capacity):
        raise ValueError(
            f"model_size x copies must fit storage_size, got {model_size!r} x "
            f"{copies!r} > {storage_size!r}"
        )
    return float(np.sum(size * n * price / DAYS_PER_MONTH))


def compute_resource_cost(
    compute_cost: ArrayLike,
    model_size: ArrayLike,
    compute_speed: ArrayLike,
    query_num: ArrayLike,
    compute_efficiency: ArrayLike,
    peak_to_mean: float = 1.0,
) -> float:
    """Daily compute cost [currency/day].

    ``compute_cost`` [currency/instance-hour], ``model_size`` (unused: kept for the
    document's signature; size limits memory fit, it does not bill time), ``compute_speed``
    [queries/s one instance serves], ``query_num`` [queries/day], ``compute_efficiency``
    [utilisation ceiling, (0, 1]], ``peak_to_mean`` [peak rate / mean rate].

    replicas = ceil(peak qps / (speed x efficiency)), at least 1; cost = replicas x 24 x
    price. The document multiplied size / speed by time and query count (and used an
    undefined ``i``), which is not a cost.
    """
    del model_size
    price = _positive("compute_cost", compute_cost)
    speed = _positive("compute_speed", compute_speed, allow_zero=False)
    queries = _positive("query_num", query_num)
    efficiency = _positive("compute_efficiency", compute_efficiency, allow_zero=False)
    if np.any(efficiency > 1):
        raise ValueError(f"compute_efficiency must be <= 1, got {compute_efficiency!r}")
    peak_qps = queries / 86400.0 * _positive("peak_to_mean", peak_to_mean, allow_zero=False)
    replicas = np.maximum(1.0, np.ceil(peak_qps / (speed * efficiency)))
    return float(np.sum(replicas * HOURS_PER_DAY * price))


def human_cost(
    human_cost: ArrayLike,
    model_size: ArrayLike = 0.0,
    compute_speed: ArrayLike = 1.0,
    query_num: ArrayLike = 0.0,
    compute_efficiency: ArrayLike = 1.0,
    human_resource: ArrayLike = 0.0,
) -> float:
    """Daily people cost [currency/day].

    ``human_cost`` [currency/person-day], ``human_resource`` [person-days per model per
    month]; ``model_size``, ``compute_speed``, ``query_num`` and ``compute_efficiency`` are
    kept for the document's signature; only the number of models in ``model_size`` is used
    (a scalar ``human_resource`` applies to each model): maintenance effort does not scale
    with query count.

    cost = human_resource x human_cost / 30.4 (summed over models). The document's
    parameter shadowed the function name; this one keeps the name for compatibility.
    """
    del compute_speed, query_num, compute_efficiency
    rate = _positive("human_cost", human_cost)
    effort = _positive("human_resource", human_resource)
    per_model = np.broadcast(rate, effort, np.asarray(model_size, dtype=float)).shape
    return float(np.sum(np.broadcast_to(rate * effort, per_model)) / DAYS_PER_MONTH)


def multi_model_fusion_cost(fusion_cost: ArrayLike, fusion_algorithm: ArrayLike) -> float:
    """Daily fusion cost [currency/day] = unit fusion cost [currency/day] x complexity F in [0, 1].

    The document's formula, kept as written; only F is checked to lie in [0, 1].
    """
    unit = _positive("fusion_cost", fusion_cost)
    complexity = _positive("fusion_algorithm", fusion_algorithm)
    if np.any(complexity > 1):
        raise ValueError(f"fusion_algorithm (complexity F) must be <= 1, got {fusion_algorithm!r}")
    return float(np.sum(unit * complexity))
