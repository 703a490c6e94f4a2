"""Simulate a deployment hour by hour and set the result beside the analytic prediction.

For every model of the deployment's fusion configuration and every hour simulated (the
24 hours of the profile and the peak, or only the peak), Poisson arrivals at the hour's rate
(``queries_per_day x hourly weight / 3600`` times the model's requests per query; at the
peak, the scenario's peak rate) are served by the replicas running that hour (all of them,
or the autoscaled count), with the scenario's dispatch policy, batch size and maximum
queue delay (``deploycost.simulate.engine``). A replica's batch of ``k`` occupies it for
``k / throughput(k)`` (the option grid's figures at batch ``k``); a measured capacity
profile whose latency exceeds that occupancy (a pipelined engine) adds the difference to
each request as a fixed delay. The analytic p99 is computed for the same hour, replicas,
dispatch policy, service variability and batcher delay (``options.latency.Queueing``).

* **LLMs** (continuous batching): an instance is a group of ``engines x sequences`` slots;
  a request holds a slot for ``TTFT + (n - 1) TPOT`` (unloaded TTFT, TPOT at the configured
  concurrency, held there: fewer sequences in flight would decode faster, so this errs
  long), ``n`` its output tokens drawn from a lognormal with the scenario's mean and the
  highest percentile it gives (``output_tokens``; the mean alone: every answer that long).
  Its TTFT is the wait for a slot plus the unloaded TTFT.
* **Fleets** (``simulate_fleet``): every (pool, instance type), day type and hour is a group
  of the instances the fleet runs then (committed + on-demand + spot), each its own server
  with one queue per model placed there; a model's requests reach a type in proportion to
  its share. Where the hour runs spot instances, a second case keeps only the whole
  instances the interruption rule leaves (``floor((1 - f) x spot)``).
* **Traces**: given a CSV of request timestamps (seconds from the start of a day), each
  hour of the trace is simulated with the replicas running at that hour of the day.
* **Scale-up lag** (``scale_up_lag_min``, default 0: a scheduled scaler whose instances
  are ready when the hour starts): a reactive autoscaler's added replicas become ready
  that many minutes into the hour; the hour is then simulated in real time over the lag
  and the usual sample after it, so its p99 weighs the lag window more than the hour does
  (errs long).

Every hour starts empty and is simulated on its own.
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from deploycost.cost.constants import running_replicas
from deploycost.cost.model import CostModel
from deploycost.errors import DeployCostError
from deploycost.memory import check_fits
from deploycost.options.grid import Units
from deploycost.options.latency import Queueing
from deploycost.options.performance import Configs, performance
from deploycost.scenario.models import TokenCount
from deploycost.scenario.schema import DeploymentSpec, Scenario
from deploycost.scenario.yamlfile import read_input
from deploycost.simulate.engine import DISTRIBUTIONS, POLICIES, simulate_groups
from deploycost.simulate.stats import estimate

BYTES_PER_REQUEST = 72.0  # arrival, class, size, latency, wait, server, queue link, a copy
MIN_REQUESTS_FOR_P99 = 1000
# ten times the default: the p99 is then known to ~0.1 % and a model-hour takes seconds; a
# longer run is a trace's to ask for
MAX_REQUESTS = 2_000_000
MAX_CV = 10.0  # a service-time CV beyond this describes no server (lognormal tail overflow)
MAX_SEED = 2**63 - 1
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR


@dataclass(frozen=True)
class Settings:
    """How to simulate: requests per model-hour, which hours, dispatch, batching, noise."""

    requests: int = 200_000
    hours: str = "all"  # or "peak"
    dispatch: str = "random"
    max_queue_delay_ms: float = math.inf  # inf: a batch waits until it is full
    service: str = "deterministic"
    cv: float = 0.0
    seed: int = 0
    scale_up_lag_min: float = 0.0  # 0: added replicas are ready when their hour starts
    trace: str | None = None  # a CSV of request timestamps (s): arrivals instead of Poisson
    by_model: tuple[tuple[str, str], ...] = ()  # (model, dispatch) where a model has its own

    @classmethod
    def of(cls, scn: Scenario, **given) -> Settings:
        """The scenario's dispatch, batcher delay and service variability, with ``given``
        (None values ignored) on top. Service times are lognormal with the scenario's
        ``service_cv`` (stated or its default: the CV the analytic p99 assumed, so that
        simulation checks the same model), deterministic at CV 0."""
        opts = scn.options
        given = {k: v for k, v in given.items() if v is not None}
        cv = given.pop("cv", opts.service_cv)
        service = given.pop("service", "deterministic" if cv == 0.0 else "lognormal")
        delay = given.pop("max_queue_delay_ms", opts.max_queue_delay_ms)
        own = (
            ()
            if "dispatch" in given
            else tuple((m.name, m.dispatch) for m in scn.models if m.dispatch is not None)
        )  # a dispatch given here applies to every model
        return cls(
            by_model=own,
            dispatch=given.pop("dispatch", opts.dispatch),
            max_queue_delay_ms=math.inf if delay is None else delay,
            service=service,
            cv=cv,
            **given,
        )

    def dispatch_of(self, model: str) -> str:
        return dict(self.by_model).get(model, self.dispatch)

    def queueing(self, models: tuple[str, ...] = ()) -> Queueing:
        """The analytic model's view of the same settings (for the predicted p99); with the
        scenario's ``models`` (in order), each model's own dispatch."""
        cv = {"deterministic": 0.0, "exponential": 1.0}.get(self.service, self.cv)
        own = tuple(self.dispatch_of(m) for m in models) if self.by_model else ()
        return Queueing(self.dispatch, cv, self.max_queue_delay_ms, own)

    def check(self) -> None:
        problems = []
        for dispatch in {self.dispatch, *dict(self.by_model).values()}:
            if dispatch not in POLICIES:
                problems.append(f"dispatch must be one of {', '.join(POLICIES)}, got {dispatch!r}")
        if self.service not in DISTRIBUTIONS:
            problems.append(
                f"service must be one of {', '.join(DISTRIBUTIONS)}, got {self.service!r}"
            )
        if not 0 <= self.cv <= MAX_CV:
            problems.append(f"cv must be a number from 0 to {MAX_CV:g}, got {self.cv}")
        if not 0 <= self.seed <= MAX_SEED:
            problems.append(f"seed must be a whole number from 0 to 2**63 - 1, got {self.seed}")
        if not self.max_queue_delay_ms >= 0:
            problems.append(f"max_queue_delay_ms must be >= 0, got {self.max_queue_delay_ms}")
        if not (0 <= self.scale_up_lag_min <= 60):
            problems.append(
                f"scale_up_lag_min must be between 0 and 60 minutes, got {self.scale_up_lag_min}"
            )
        if self.hours not in ("all", "peak"):
            problems.append(f"hours must be all or peak, got {self.hours!r}")
        if not MIN_REQUESTS_FOR_P99 <= self.requests <= MAX_REQUESTS:
            problems.append(
                f"requests must be from {MIN_REQUESTS_FOR_P99:,} to {MAX_REQUESTS:,} per "
                f"model-hour, got {self.requests:,}"
            )
        if problems:
            raise DeployCostError("; ".join(problems))
        check_fits(
            "the simulation",
            {"requests per model-hour": self.requests},
            BYTES_PER_REQUEST,
            hint="simulate fewer requests per model-hour (--requests)",
        )


def load_trace(path: str | Path) -> np.ndarray:
    """Request timestamps (s from the start of a day) from a CSV: the column
    ``timestamp_s``, or the only column. They must be finite, >= 0 and sorted."""
    where = f"trace {path}"
    text = read_input(path)  # a regular file within the input limit, UTF-8
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DeployCostError(f"{where}: cannot read it as CSV ({exc})") from None
    if "timestamp_s" in frame.columns:
        column = frame["timestamp_s"]
    elif len(frame.columns) == 1:
        column = frame.iloc[:, 0]
    else:
        raise DeployCostError(
            f"{where}: needs a column timestamp_s (or a single column), got "
            f"{', '.join(map(str, frame.columns))}"
        )
    t = pd.to_numeric(column, errors="coerce").to_numpy(float)
    bad = np.nonzero(~np.isfinite(t))[0]
    if len(bad):
        raise DeployCostError(
            f"{where}: row {bad[0] + 2} is not a finite number of seconds: {column.iat[bad[0]]!r}"
        )
    if len(t) == 0:
        raise DeployCostError(f"{where}: has no timestamps")
    outside = (t < 0) | (t >= SECONDS_PER_DAY)
    if outside.any():
        k = int(np.argmax(outside))
        raise DeployCostError(
            f"{where}: timestamps must lie within one day, from 0 to under "
            f"{SECONDS_PER_DAY:g} s; row {k + 2} is {t[k]:g}"
        )
    if (np.diff(t) < 0).any():
        k = int(np.argmax(np.diff(t) < 0)) + 1
        raise DeployCostError(
            f"{where}: timestamps must be sorted, row {k + 2} ({t[k]:g}) comes before "
            f"row {k + 1} ({t[k - 1]:g})"
        )
    check_fits("the trace", {"requests": len(t)}, BYTES_PER_REQUEST, hint="use a shorter trace")
    return t


def output_token_sampler(tokens: TokenCount):
    """Output lengths: a lognormal with the mean and the highest percentile given (p99,
    else p90, else p50; ``TokenCount.log_sigma``), at least one token; the mean alone:
    always the mean."""
    sigma = tokens.log_sigma
    mu = math.log(tokens.mean) - sigma * sigma / 2.0

    def draw(rng, n: int) -> np.ndarray:
        if sigma == 0.0:
            return np.full(n, max(1.0, round(tokens.mean)))
        return np.maximum(1.0, np.round(rng.lognormal(mu, sigma, n)))

    return draw


@dataclass(frozen=True)
class Stream:
    """One model's requests into a group of servers."""

    model: str
    rate: float  # requests/s
    batch: int
    service: np.ndarray  # (batch + 1,) seconds a batch of k occupies a server; 0 unused
    fixed_s: float = 0.0  # added to every latency (a pipelined engine's measured excess)
    ttft_s: float = math.nan  # LLM: unloaded time to first token
    tpot_s: float = math.nan  # LLM: time per output token
    tokens: TokenCount | None = None  # LLM: output tokens per request

    @property
    def llm(self) -> bool:
        return self.tokens is not None


def _poisson(rate: float, n: int, rng) -> np.ndarray:
    return np.cumsum(rng.exponential(1.0 / rate, n))


def run_group(
    streams: list[Stream],
    servers: int,
    per_server: int,
    settings: Settings,
    rng,
    ready_now: int | None = None,
    arrivals: np.ndarray | None = None,
    dispatch: str | None = None,
) -> list[dict]:
    """Simulate ``servers`` instances (each ``per_server`` slots) serving ``streams``; per
    stream its figures (``estimate`` with 95 % intervals). ``ready_now`` instances are there
    at once, the rest after the scale-up lag. ``arrivals`` (one stream only) replaces the
    Poisson arrivals; ``dispatch`` overrides the settings' policy."""
    total = sum(s.rate for s in streams)
    lag_s = settings.scale_up_lag_min * 60.0
    late = 0 if ready_now is None or lag_s == 0 else max(0, servers - ready_now)
    if arrivals is not None:
        a, cls = arrivals, np.zeros(len(arrivals), np.int64)
    else:
        n = settings.requests * len(streams)
        if late:  # the lag window in real time, then the usual sample
            n += int(math.ceil(total * lag_s))
            check_fits("the scale-up window", {"requests": n}, BYTES_PER_REQUEST)
        a = _poisson(total, n, rng)
        if len(streams) == 1:
            cls = np.zeros(n, np.int64)
        else:
            cut = np.cumsum([s.rate for s in streams]) / total
            cls = np.minimum(np.searchsorted(cut, rng.random(n), side="right"), len(streams) - 1)
    size = np.ones(len(a))
    for c, s in enumerate(streams):
        if s.llm:
            mine = cls == c
            n_out = output_token_sampler(s.tokens)(rng, int(mine.sum()))
            size[mine] = s.ttft_s + (n_out - 1.0) * s.tpot_s
    ready = np.zeros(servers)
    if late:
        ready[servers - late :] = lag_s
    ready = np.repeat(ready, per_server)
    width = max(s.batch for s in streams)
    service = np.zeros((len(streams), width + 1))
    for c, s in enumerate(streams):
        service[c, : s.batch + 1] = s.service
    policy = POLICIES.index(dispatch or settings.dispatch)
    per_group = per_server * servers if policy == POLICIES.index("central_queue") else per_server
    latency, wait, _, busy = simulate_groups(
        a,
        cls,
        size,
        ready,
        per_group,
        policy,
        np.array([s.batch for s in streams]),
        np.full(len(streams), settings.max_queue_delay_ms / 1000.0),
        service,
        DISTRIBUTIONS.index(settings.service),
        settings.cv,
        rng,
    )
    span = float(a[-1] - a[0]) if len(a) > 1 else 0.0
    utilisation = float(busy.sum() / (len(busy) * span)) if span > 0 else math.nan
    return [_stream_figures(s, cls == c, latency, wait, utilisation) for c, s in enumerate(streams)]


def _stream_figures(s: Stream, mine: np.ndarray, latency, wait, utilisation: float) -> dict:
    """One stream's figures from the requests ``mine`` of a simulated group: p50 and p99
    with their 95 % interval, the share that queued and what was never served."""
    waited = wait[mine]
    row = {
        "requests": int(mine.sum()),
        "utilisation": utilisation,
        # waited before its batch started (for a server, or for the batch to form)
        "queued_share": float(np.mean(waited > 0)),
        # never served: left in a batch that never filled when the arrivals ended
        "unserved": int(np.isnan(waited).sum()),
    }
    if mine.sum() < MIN_REQUESTS_FOR_P99:
        return {**row, "note": f"too few requests for a p99 ({int(mine.sum())})"}
    latency_ms = (latency[mine] + s.fixed_s) * 1000.0
    p50, p99 = estimate(latency_ms, "p50"), estimate(latency_ms, "p99")
    row |= {
        "p50_ms": p50.value,
        "p99_ms": p99.value,
        "p99_low_ms": p99.low,
        "p99_high_ms": p99.high,
    }
    if s.llm:
        row["ttft_p99_ms"] = estimate((waited + s.ttft_s) * 1000.0, "p99").value
    return row


@dataclass(frozen=True)
class Served:
    """One model on one instance type: its stream at a rate, and the analytic p99."""

    cost: CostModel
    model: int
    instance: int
    precision: int
    batch: int
    tensor_parallel: int
    queueing: Queueing

    @property
    def spec(self):
        return self.cost.scn.models[self.model]

    @property
    def name(self) -> str:
        return self.cost.space.models[self.model]

    @cached_property
    def perf(self):
        """The performance table of this model's configuration (an LLM's), or of batch
        sizes 1..batch (config k - 1 is batch k), under the simulated queueing."""
        if self.spec.is_llm:
            configs = Configs.of([self.batch], [self.tensor_parallel], [True])
        else:
            n = self.batch
            configs = Configs.of(np.arange(1, n + 1), np.ones(n), np.zeros(n, bool))
        return dataclasses.replace(performance(self.cost, configs), queueing=self.queueing)

    @property
    def slots(self) -> int:
        """Servers per instance: an LLM's sequence slots, else one."""
        return int(self.perf.slots[self.model, self.instance, self.precision, 0])

    def base_row(self, settings: Settings, rate: float, replicas: int, **where) -> dict:
        """The columns of a simulated row that come before the simulation's figures."""
        return {
            "model": self.name,
            **where,
            "arrival_qps": rate,
            "replicas": replicas,
            "batch": self.batch,
            "dispatch": settings.dispatch_of(self.name),
            **self.limits(),
            "note": "",
        }

    def stream(self, rate: float) -> Stream:
        perf, name = self.perf, self.name
        at = (self.model, self.instance, self.precision)
        if self.spec.is_llm:
            return Stream(
                name,
                rate,
                1,
                np.array([0.0, 1.0]),
                ttft_s=float(perf.ttft_ms[(*at, 0)]) / 1000.0,
                tpot_s=float(perf.tpot_ms[(*at, 0)]) / 1000.0,
                tokens=self.spec.llm.output_tokens,
            )
        sizes = np.arange(1, self.batch + 1)
        occupancy = sizes / perf.throughput_qps[at]
        occupancy = np.where(np.isfinite(occupancy), occupancy, occupancy[-1])
        fixed = max(0.0, float(perf.service_ms[at][-1] / 1000.0 - occupancy[-1]))
        return Stream(name, rate, self.batch, np.concatenate([[0.0], occupancy]), fixed)

    def predicted(self, replicas: float, rate: float) -> tuple[float, float]:
        """The analytic (p99, TTFT p99) of ``replicas`` instances at ``rate`` req/s."""
        config = 0 if self.spec.is_llm else self.batch - 1
        at = tuple(np.array([v]) for v in (self.model, self.instance, self.precision, config))
        if rate >= replicas * float(self.perf.throughput_qps[at][0]):  # a measured capacity too
            return math.inf, math.inf if self.spec.is_llm else math.nan
        p99, ttft = self.perf.latency_ms(at, float(replicas), np.array([rate]))
        return float(p99[0]), float(ttft[0])

    def limits(self) -> dict:
        spec = self.spec
        ttft = spec.llm.ttft_p99_ms if spec.is_llm else None
        return {"slo_ms": spec.latency_limit_ms, "ttft_limit_ms": ttft}


def _row(base: dict, figures: dict, predicted: tuple[float, float]) -> dict:
    row = {**base, "predicted_p99_ms": predicted[0], **figures}
    if not math.isnan(predicted[1]):
        row["predicted_ttft_p99_ms"] = predicted[1]
    if "p99_ms" in figures:
        ttft_ok = not (figures.get("ttft_p99_ms", 0.0) > (base.get("ttft_limit_ms") or math.inf))
        row["met"] = bool(figures["p99_ms"] <= base["slo_ms"] and ttft_ok)
        row["p99_sim_over_predicted"] = figures["p99_ms"] / predicted[0]
    return row


def _replicas_by_hour(cost: CostModel, choice, share: float, min_replicas: float) -> np.ndarray:
    if not choice.autoscale or choice.capacity_qps is None:
        return np.full(24, float(choice.replicas))
    one = np.ones(1)
    return running_replicas(
        cost.scn, one * choice.replicas, one * choice.capacity_qps, one * share, one * min_replicas
    )[0]


def _trace_hours(trace: np.ndarray, share: float, rng) -> dict[int, np.ndarray]:
    """The trace's requests for a model of ``share`` requests per query, by hour of the
    trace (each query gives ``floor(share)`` requests and one more with the remainder's
    probability)."""
    whole, extra = divmod(share, 1.0)
    times = np.repeat(trace, int(whole))
    if extra > 0:
        times = np.sort(np.concatenate([times, trace[rng.random(len(trace)) < extra]]))
    hour = np.floor(times / SECONDS_PER_HOUR).astype(np.int64)
    return {int(h): times[hour == h] for h in np.unique(hour)}


def simulate_deployment(
    scn: Scenario,
    spec: DeploymentSpec,
    settings: Settings,
    progress=None,
    models: set[str] | None = None,
) -> pd.DataFrame:
    """One row per (model, hour): rates, replicas, simulated p50 / p99 with 95 % intervals,
    utilisation, the analytic p99 and whether the simulated p99 meets the SLO (and, for an
    LLM, the TTFT p99 its limit). ``models``: only these (default: every model)."""
    settings.check()
    cost = CostModel(scn)
    space, units = cost.space, Units.of(cost)
    fusion = space.fusions.index(spec.fusion or space.fusions[0])
    hourly = np.asarray(scn.workload.hourly_mean_qps)
    peak_qps = scn.workload.peak_qps_resolved
    trace = load_trace(settings.trace) if settings.trace else None
    hours = [*range(24), "peak"] if settings.hours == "all" else ["peak"]
    rng = np.random.default_rng(settings.seed)
    rows = []
    for u in np.nonzero(units.fusion == fusion)[0]:
        i = int(units.model[u])
        name = space.models[i]
        if models is not None and name not in models:
            continue
        model, choice = scn.model(name), spec.models[name]
        share = float(units.share[u])
        served = Served(
            cost,
            i,
            space.instances.index(choice.instance),
            space.precisions.index(choice.precision or model.checkpoint_precision),
            int(choice.batch),
            int(choice.tensor_parallel),
            settings.queueing(space.models),
        )
        running = _replicas_by_hour(cost, choice, share, model.min_replicas)
        given = _trace_hours(trace, share, rng) if trace is not None else None
        for hour in given if given is not None else hours:
            if given is not None:
                times = given[hour]
                span = float(times[-1] - times[0])
                rate = (len(times) - 1) / span if span > 0 else 0.0  # over the part replayed
                replicas = int(running[hour % 24])
            else:
                rate = share * (peak_qps if hour == "peak" else hourly[hour])
                replicas = int(choice.replicas) if hour == "peak" else int(running[hour])
            before = int(running[(hour - 1) % 24]) if isinstance(hour, int) else replicas
            base = served.base_row(settings, rate, replicas, hour=hour)
            if settings.scale_up_lag_min > 0 and before < replicas:
                base["ready_at_start"] = before
            predicted = served.predicted(replicas, rate)
            if rate <= 0:
                rows.append({**base, "predicted_p99_ms": predicted[0], "note": "no traffic"})
                continue
            figures = run_group(
                [served.stream(rate)],
                replicas,
                served.slots,
                settings,
                rng,
                ready_now=before,
                arrivals=None if given is None else given[hour],
                dispatch=settings.dispatch_of(name),
            )[0]
            rows.append(_row(base, figures, predicted))
            if progress is not None:
                progress()
    return pd.DataFrame(rows)


def simulated_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a simulation table that were simulated (not idle, enough requests)."""
    if "p99_ms" not in table.columns:
        return table.iloc[0:0]
    return table[table.p99_ms.notna()]
