"""Discrete-event simulation of a chosen deployment: replicas, dispatch, batching.

The names of the dispatch policies and service-time distributions live here, without the
compiled kernel (``engine``), so that the command line can offer them as choices without
loading numba at start-up.
"""

POLICIES = ("round_robin", "random", "least_request", "central_queue")
DISTRIBUTIONS = ("deterministic", "lognormal", "exponential")
