"""Sweep points solved on a Dask cluster (the optional ``deploycost[dask]`` extra)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from deploycost.analysis.sweep import solve_point
from deploycost.analysis.sweep_store import PointResult
from deploycost.errors import DeployCostError
from deploycost.scenario.schema import Scenario

DASK_TIMEOUT_S = 120.0  # workers must start, and take the scenario, within this


class DaskExecutor:
    """Solves a batch on a Dask cluster: ``local`` starts a LocalCluster, anything else is a
    scheduler address (``tcp://host:8786``). Dask is an optional extra: ``deploycost[dask]``.
    """

    def __init__(self, address: str, workers: int = 2) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise DeployCostError(
                "--dask needs the optional dependency: pip install 'deploycost[dask]'"
            ) from None
        if address == "local":
            # ":0": the scheduler's HTTP server takes a free port; with None it still tries
            # 8787 and warns when another process holds it
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
            self.client = Client(self._cluster)
            try:
                self.client.wait_for_workers(workers, timeout=DASK_TIMEOUT_S)
            except TimeoutError:
                self.close()
                raise DeployCostError(
                    f"--dask local: {workers} workers did not start within {DASK_TIMEOUT_S:g} s"
                ) from None
        else:
            self._cluster = None
            try:
                self.client = Client(address, timeout=10)
            except (OSError, TimeoutError) as exc:
                raise DeployCostError(f"--dask: cannot reach scheduler {address}: {exc}") from None

    def __call__(
        self, scn: Scenario, prices: list[np.ndarray], backend: str
    ) -> Iterator[PointResult]:
        try:
            # one copy, fetched by the other workers as an ordinary dependency: a broadcast
            # scatter raced with the first tasks ("failed to acquire keys", tasks cancelled
            # for lost dependencies) on a loaded machine
            scattered = self.client.scatter(scn, hash=False, timeout=DASK_TIMEOUT_S)
        except TimeoutError:
            raise DeployCostError(
                f"--dask: no worker took the scenario within {DASK_TIMEOUT_S:g} s (are the "
                f"cluster's workers running?)"
            ) from None
        futures = self.client.map(
            solve_point, [scattered] * len(prices), prices, [backend] * len(prices), pure=False
        )
        for future in futures:  # in order; the cluster keeps solving the rest meanwhile
            yield future.result()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
