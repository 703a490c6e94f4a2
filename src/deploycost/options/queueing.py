"""M/M/c queueing (Erlang C), vectorized and stable for thousands of servers.

With ``c`` servers of rate ``mu`` each and Poisson arrivals at rate ``lam``
(offered load ``a = lam / mu``, utilisation ``rho = a / c < 1``):

* Erlang B via the Poisson distribution: ``B(c, a) = P(N = c) / P(N <= c)``,
  ``N ~ Poisson(a)``, computed in log space (``gammaln``) with the regularised upper
  incomplete gamma ``P(N <= c) = Q(c + 1, a)``, which stays accurate for large ``c``.
* Erlang C: ``C(c, a) = B / (1 - rho (1 - B))``, the probability that an arrival waits.
* Waiting-time tail: ``P(W > t) = C exp(-(c mu - lam) t)``, so the q-quantile of the wait
  is ``max(0, ln(C / (1 - q)) / (c mu - lam))``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaincc, gammaln


def erlang_b(servers: ArrayLike, load: ArrayLike) -> np.ndarray:
    """Blocking probability of M/M/c/c with ``servers`` and offered ``load`` (Erlangs)."""
    c = np.asarray(servers, dtype=float)
    a = np.asarray(load, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = np.where(a > 0, c * np.log(a) - a - gammaln(c + 1), -np.inf)
        cdf = gammaincc(c + 1, a)
        blocking = np.exp(log_pmf) / cdf
    return np.where(a > 0, np.clip(blocking, 0.0, 1.0), 0.0)


def erlang_c(servers: ArrayLike, load: ArrayLike) -> np.ndarray:
    """Probability of waiting in M/M/c; 1 where the queue is unstable (load >= servers)."""
    c = np.asarray(servers, dtype=float)
    a = np.asarray(load, dtype=float)
    b = erlang_b(c, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = a / c
        wait = b / (1.0 - rho * (1.0 - b))
    return np.where(a >= c, 1.0, np.clip(wait, 0.0, 1.0))


def wait_tail(
    servers: ArrayLike, arrival_qps: ArrayLike, service_qps: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """The M/M/c wait's tail ``P(W > t) = C exp(-drain t)``: (C, drain in 1/s)."""
    c = np.asarray(servers, dtype=float)
    lam = np.asarray(arrival_qps, dtype=float)
    mu = np.asarray(service_qps, dtype=float)
    return erlang_c(c, lam / mu), c * mu - lam


def quantile_of_tail(p_wait: np.ndarray, drain: np.ndarray, beyond: float) -> np.ndarray:
    """The wait (s) exceeded with probability ``beyond`` (0 when fewer wait; inf when
    unstable, or ``beyond`` is 0 and some wait)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(p_wait / beyond) / drain
    t = np.where(p_wait <= beyond, 0.0, t)
    return np.where(drain <= 0, np.inf, t)


def wait_quantile_s(
    servers: ArrayLike, arrival_qps: ArrayLike, service_qps: ArrayLike, quantile: float = 0.99
) -> np.ndarray:
    """The ``quantile`` of the M/M/c waiting time in seconds (inf when unstable)."""
    p_wait, drain = wait_tail(servers, arrival_qps, service_qps)
    return quantile_of_tail(p_wait, drain, 1.0 - quantile)
