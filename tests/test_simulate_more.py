"""The simulator's wider systems: several models on one server, LLM slots, replicas that
arrive late, replayed traces, and fleets per type, day type and hour."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from deploycost.errors import DeployCostError
from deploycost.simulate.engine import DISTRIBUTIONS, POLICIES, simulate_groups
from deploycost.simulate.run import Settings, Stream, load_trace, output_token_sampler, run_group
from deploycost.simulate.stats import estimate

from .conftest import ROOT
from .queue_reference import _arrivals, _reference_mdc_waits

DETERMINISTIC = DISTRIBUTIONS.index("deterministic")


def _groups(a, cls, size, ready, per_group, policy, batches, service, seed=3):
    return simulate_groups(
        a,
        np.asarray(cls, np.int64),
        np.asarray(size, float),
        np.asarray(ready, float),
        per_group,
        POLICIES.index(policy),
        np.asarray(batches, np.int64),
        np.zeros(len(batches)),
        np.asarray(service, float),
        DETERMINISTIC,
        0.0,
        np.random.default_rng(seed),
    )


def test_two_models_on_one_server_match_pollaczek_khinchine():
    """Classes 0.3/s of 1 s and 0.2/s of 2 s on one FIFO server: an M/G/1 queue with
    rho 0.7, E[S^2] = (0.3 x 1 + 0.2 x 4) / 0.5 = 2.2 s^2, mean wait 0.5 x 2.2 / 0.6 s."""
    a = _arrivals(0.5, n=1_000_000, seed=4)
    cls = (np.random.default_rng(8).random(len(a)) < 0.4).astype(np.int64)  # 0.2 / 0.5
    service = [[0.0, 1.0], [0.0, 2.0]]
    _, wait, _, busy = _groups(a, cls, np.ones(len(a)), [0.0], 1, "random", [1, 1], service)
    assert estimate(wait, "mean").covers(0.5 * 2.2 / (2 * (1 - 0.7)))
    assert busy[0] / a[-1] == pytest.approx(0.7, rel=0.01)


def test_llm_slots_behind_random_dispatch_are_independent_mdc_queues():
    """Three instances of four slots each, requests of 1 s spread at random: each instance
    is an M/D/4 queue at a third of the rate; its mean wait matches a heap-based M/D/4
    run on a Poisson stream of that rate."""
    a = _arrivals(9.6, n=900_000, seed=6)
    _, wait, server, _ = _groups(
        a, np.zeros(len(a)), np.ones(len(a)), np.zeros(12), 4, "random", [1], [[0.0, 1.0]]
    )
    assert set(np.unique(server)) == set(range(12))
    reference = _reference_mdc_waits(_arrivals(3.2, n=300_000, seed=7), 4, 1.0)[15_000:]
    got = estimate(wait, "mean")
    assert got.low * 0.97 <= reference.mean() <= got.high * 1.03


def test_replicas_that_are_late_serve_nothing_before_they_are_ready():
    a = _arrivals(3.0, n=60_000, seed=2)
    ready = [0.0, 0.0, 600.0, 600.0]
    for policy, per_group in (("round_robin", 1), ("least_request", 1), ("central_queue", 4)):
        _, wait, server, _ = _groups(
            a, np.zeros(len(a)), np.ones(len(a)), ready, per_group, policy, [1], [[0.0, 1.0]]
        )
        start = a + wait
        late = server >= 2
        assert late.any()
        assert start[late].min() >= 600.0
        # two replicas at 3 req/s of 1 s: the queue grows until the others arrive
        assert np.nanmax(wait[a < 600.0]) > 100.0
        if per_group == 1:  # dispatch picks only replicas that are there
            assert a[late].min() >= 600.0
        if policy == "round_robin":  # a quarter of 3 req/s each: the late ones stay short
            assert np.nanquantile(wait[late], 0.99) < 10.0
        elif policy == "central_queue":  # one queue, four servers: ~600 waiting drain in ~600 s
            assert np.nanquantile(wait[a > 1500.0], 0.99) < 10.0


def test_a_scale_up_lag_shows_in_the_hour_that_scales():
    """1.5 req/s of 1 s on two replicas (one queue), one of them ten minutes late: for ten
    minutes one replica faces rho 1.5 and ~0.5 x 600 = 300 requests pile up; without the
    lag the hour is an M/D/2 at rho 0.75 (p99 a few seconds)."""
    stream = Stream("m", 1.5, 1, np.array([0.0, 1.0]))
    settings = Settings(requests=2_000, dispatch="central_queue")
    prompt = run_group([stream], 2, 1, settings, np.random.default_rng(1), ready_now=1)
    lagged = run_group(
        [stream],
        2,
        1,
        dataclasses.replace(settings, scale_up_lag_min=10.0),
        np.random.default_rng(1),
        ready_now=1,
    )
    assert prompt[0]["requests"] == 2_000  # no lag: the usual sample
    assert lagged[0]["requests"] == 2_000 + math.ceil(1.5 * 600)
    assert prompt[0]["p99_ms"] < 10_000
    assert lagged[0]["p99_ms"] > 100_000  # the pile-up of the lag: minutes


def test_output_lengths_follow_the_mean_and_p99_given():
    from deploycost.scenario.models import TokenCount

    draw = output_token_sampler(TokenCount(mean=200, p99=800))
    n = draw(np.random.default_rng(0), 1_000_000)
    assert n.mean() == pytest.approx(200, rel=0.01)
    assert np.quantile(n, 0.99) == pytest.approx(800, rel=0.02)
    median = output_token_sampler(TokenCount(mean=200, p50=150))(np.random.default_rng(0), 10**6)
    assert np.median(median) == pytest.approx(150, rel=0.02)
    assert median.mean() == pytest.approx(200, rel=0.01)
    assert (output_token_sampler(TokenCount(mean=64))(np.random.default_rng(0), 5) == 64).all()


def test_llm_answers_are_simulated_slot_by_slot():
    """The gen-AI problem's three LLMs at peak: simulated end-to-end and TTFT p99 beside the
    analytic ones (wait for one of engines x sequences slots + TTFT + (p99 tokens - 1) TPOT,
    the service parts at the p99 of their CV 0.35 noise: a sum of p99s, never short and at
    most 2x the simulated)."""
    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import load_scenario
    from deploycost.simulate.run import simulate_deployment

    scn = load_scenario(ROOT / "problems" / "ecommerce_genai.yaml")
    spec = solve(scn, runner_ups=False).plan.deployment
    table = simulate_deployment(scn, spec, Settings.of(scn, hours="peak", requests=50_000))
    llm = table[[scn.model(m).is_llm for m in table.model]]
    assert len(llm) == 3
    assert llm.p99_ms.notna().all()
    assert llm.ttft_p99_ms.notna().all()
    assert (llm.ttft_p99_ms < llm.p99_ms).all()
    assert llm.met.all()
    ratio = llm.p99_ms / llm.predicted_p99_ms
    assert ((ratio > 0.5) & (ratio < 1.1)).all(), ratio.tolist()


# --- traces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp_s\n0.5\n0.2\n", "timestamps must be sorted, row 3 (0.2) comes before row 2"),
        ("timestamp_s\n-1\n0.2\n", "lie within one day, from 0 to under 86400 s; row 2 is -1"),
        ("timestamp_s\n0.1\nsoon\n", "row 3 is not a finite number of seconds: 'soon'"),
        ("t,u\n1,2\n", "needs a column timestamp_s (or a single column), got t, u"),
        ("timestamp_s\n", "has no timestamps"),
    ],
)
def test_a_bad_trace_is_refused_with_the_row(tmp_path, text, message):
    path = tmp_path / "trace.csv"
    path.write_text(text)
    with pytest.raises(DeployCostError, match="trace .*") as caught:
        load_trace(path)
    assert message in str(caught.value)


def test_simulate_replays_a_trace_and_refuses_a_bad_one(tmp_path):
    """Requests at the e-commerce peak rate (8,000/s) for 30 s: the replayed hour has the
    same replicas and p99 (within 5 %) as the simulated Poisson peak."""
    import json

    from typer.testing import CliRunner

    from deploycost.cli.app import app

    trace = np.cumsum(np.random.default_rng(3).exponential(1 / 8000.0, 240_000))
    path = tmp_path / "trace.csv"
    path.write_text("timestamp_s\n" + "\n".join(f"{t:.6f}" for t in trace) + "\n")
    runner = CliRunner()
    scenario = str(ROOT / "problems" / "ecommerce_search_rec.yaml")
    replay = runner.invoke(app, ["simulate", scenario, "--trace", str(path), "--json"])
    assert replay.exit_code == 0, replay.output
    peak = runner.invoke(app, ["simulate", scenario, "--hours", "peak", "--json"])
    rows = {r["model"]: r for r in json.loads(replay.stdout)["rows"]}
    poisson = {r["model"]: r for r in json.loads(peak.stdout)["rows"]}
    recall, expected = rows["recall"], poisson["recall"]
    assert recall["hour"] == 0
    assert recall["requests"] == 240_000
    assert recall["arrival_qps"] == pytest.approx(8000, rel=0.01)
    assert recall["replicas"] == expected["replicas"]
    assert recall["p99_ms"] == pytest.approx(expected["p99_ms"], rel=0.05)
    path.write_text("timestamp_s\n3\n2\n")
    bad = runner.invoke(app, ["simulate", scenario, "--trace", str(path)])
    assert bad.exit_code == 1
    assert "timestamps must be sorted" in bad.output
    assert "Traceback" not in bad.output


# --- fleets --------------------------------------------------------------------------


def _fleet():
    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import load_scenario

    scn = load_scenario(ROOT / "problems" / "fleet" / "ecommerce_fleet.yaml")
    return scn, solve(scn)


@pytest.mark.slow
def test_a_fleet_is_simulated_with_the_instances_it_runs_each_hour():
    """Every (pool, type, day type, hour) row runs the committed + on-demand + spot count
    of the fleet's table at the day type's rate times the model's share; the spot cut
    keeps committed + on-demand + floor(0.7 x spot)."""
    from deploycost.simulate.fleet import simulate_fleet

    scn, fleet = _fleet()
    table = simulate_fleet(scn, fleet.plan, Settings.of(scn, requests=5_000))
    counts = fleet.plan.counts
    checked = 0
    for r in table.itertuples():
        mine = counts[(counts.pool == r.pool) & (counts.instance == r.instance)]
        reserved = mine[mine.plan == "reserved_1yr"].instances.sum()
        hour = mine[(mine.day_type == r.day_type) & (mine.hour == r.hour)]
        on_demand = hour[hour.plan == "on_demand"].instances.sum()
        spot = hour[hour.plan == "spot"].instances.sum()
        expected = reserved + on_demand + spot
        if r.case == "spot cut":
            expected = reserved + on_demand + math.floor(0.7 * spot)
        assert r.replicas == expected, r
        d = fleet.plan.days.names.index(r.day_type)
        assert r.arrival_qps == pytest.approx(fleet.plan.days.qps[d, r.hour])  # one request/query
        checked += 1
    assert checked == 3 * 2 * 24 + int((table.case == "spot cut").sum())
    assert set(table.case) == {"all instances", "spot cut"}
    # an hour whose spot cut leaves no instance while requests arrive is an outage: a row
    # with an infinite p99 that counts as a miss (one spot instance, floor(0.7) = 0)
    outages = table[(table.replicas == 0) & (table.arrival_qps > 0)]
    assert len(outages) > 0
    assert (outages.case == "spot cut").all()
    assert np.isinf(outages.p99_ms).all()
    assert not outages.met.astype(bool).any()
    from deploycost.simulate.verify import Verified

    listed = Verified(fleet, True, table).document(Settings.of(scn))["spot_cut_misses"]
    assert sum("inf ms" in line for line in listed) == len(outages)


def test_models_sharing_an_instance_share_its_time():
    """Two models of 30 req/s capacity per box in one pool, 10 req/s each: one instance,
    busy (10 + 10) / 30 of the time; both rows on the same instance count."""
    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import validate_scenario
    from deploycost.simulate.fleet import simulate_fleet

    from .fleet_cases import box, fleet_scenario, model

    raw = fleet_scenario(
        [model(n, {"small": 30.0}, size_gb=4.0, pool="shared") for n in ("a", "b")],
        [box("small", on_demand=1.0)],
        peak_qps=10.0,
    )
    scn = validate_scenario(raw)
    fleet = solve(scn)
    table = simulate_fleet(scn, fleet.plan, Settings.of(scn, hours="peak", requests=50_000))
    assert list(table.model) == ["a", "b"]
    assert (table.replicas == 1).all()
    assert table.utilisation.iloc[0] == pytest.approx(20 / 30, rel=0.02)
    assert table.requests.sum() == 100_000


@pytest.mark.slow
def test_solve_verify_checks_a_fleet_and_reports_the_spot_cut():
    from deploycost.simulate.verify import solve_verified

    scn, _ = _fleet()
    settings = Settings.of(scn, requests=5_000)
    checked = solve_verified(scn, settings)
    assert checked.verified
    assert checked.rounds == ["round 1: 611.30 USD/day, verified"]
    fleet = checked.result  # the verified answer, whose spot cut is reported
    doc = checked.document(settings)
    assert set(doc["models"]) == {"recall", "coarse-ranker", "ranker"}
    assert {m["day_type"] for m in doc["models"].values()} <= {"normal", "festival"}
    cut = checked.spot_cut
    spot = fleet.plan.counts[fleet.plan.counts.plan == "spot"]
    loaded = fleet.plan.shares[fleet.plan.shares["mode"] >= 0]
    on_spot = loaded.merge(spot, on=["pool", "instance"]).model
    # at the catalog's spot snapshot every model of this fleet runs on spot
    assert set(cut.model) == set(on_spot) == {"recall", "coarse-ranker", "ranker"}
    assert len(doc["spot_cut_misses"]) == int((~cut.met.astype(bool)).sum())


@pytest.mark.slow
def test_the_report_shows_the_verification_and_its_plot(tmp_path):
    """The report's verification section carries the verdict, the rounds and per model the
    worst simulated hour with the same figures as the verification itself."""
    from deploycost.optimize.solve import solve
    from deploycost.outputs.report import build_report, image_file, render_markdown
    from deploycost.scenario.schema import load_scenario
    from deploycost.simulate.verify import solve_verified

    scn = load_scenario(ROOT / "problems" / "ecommerce_search_rec.yaml")
    settings = Settings.of(scn, requests=5_000)
    checked = solve_verified(scn, settings)
    report = build_report(scn, checked.result, verified=(checked, settings))
    assert report.images["simulation"].startswith(b"\x89PNG")
    text = render_markdown(report, "img")
    section = text.split("## Verification by simulation")[1].split("\n## ")[0]
    assert f"(img/{image_file('simulation', report.images['simulation'])})" in section
    assert "verified." in section
    assert "round 1: 1,308.64 USD/day, verified" in section
    for row in checked.worst.itertuples():
        line = next(x for x in section.splitlines() if x.startswith(f"| {row.model} |"))
        assert f"| {row.hour} |" in line
        assert f"{row.p99_ms:,.4g}" in line
    plain = build_report(scn, solve(scn, runner_ups=False))
    assert "simulation" not in plain.images


def test_llm_slot_wait_follows_the_dispatch_policy():
    """Four replicas of eight slots, 1 s per request on a slot (throughput 8/s per replica),
    24 req/s: one queue over 32 slots, or (random) an M/M/8 per replica at 6 req/s;
    round robin scales that by (1/4 + 1) / 2. Erlang C computed independently."""
    from deploycost.options.latency import slot_wait_ms

    from .conftest import erlang_c_direct

    def p99_wait_ms(c, lam, mu):
        return 1000 * math.log(erlang_c_direct(c, lam / mu) / 0.01) / (c * mu - lam)

    args = (np.array(8.0), np.array(4.0), np.array(24.0), np.array(8.0))
    assert slot_wait_ms(*args, "central_queue") == pytest.approx(p99_wait_ms(32, 24, 1))
    assert slot_wait_ms(*args, "random") == pytest.approx(p99_wait_ms(8, 6, 1))
    assert slot_wait_ms(*args, "least_request") == pytest.approx(p99_wait_ms(8, 6, 1))
    assert slot_wait_ms(*args, "round_robin") == pytest.approx(p99_wait_ms(8, 6, 1) * 0.625)


def test_llms_behind_random_dispatch_are_not_optimistic():
    """Requests spread at random over LLM instances wait longer than for one shared queue;
    the analytic p99 told the dispatch is not below the simulated one by more than 5 %."""
    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import load_scenario
    from deploycost.simulate.run import simulate_deployment

    for name in ("ecommerce_genai", "customer_service_llm"):
        scn = load_scenario(ROOT / "problems" / f"{name}.yaml")
        spec = solve(scn, runner_ups=False).plan.deployment
        settings = Settings(hours="peak", dispatch="random", requests=50_000)
        table = simulate_deployment(scn, spec, settings)
        llm = table[[scn.model(m).is_llm for m in table.model]]
        assert len(llm)
        assert (llm.p99_ms <= llm.predicted_p99_ms * 1.05).all(), name


def test_an_autoscaler_sizes_replicas_by_latency_every_hour():
    """E-commerce, autoscaled, requests spread at random (M/D/1 per replica): sized by
    utilisation alone (capacity = throughput, 417 req/s per recall replica) some hour of the
    day runs too few recall replicas for its 20 ms SLO; the autoscaler's capacity is lowered
    until every hour meets it at the count it runs, the cost model bills those counts, and
    the simulation agrees."""
    import yaml

    from deploycost.cost.constants import running_replicas
    from deploycost.cost.model import CostModel
    from deploycost.optimize.solve import solve
    from deploycost.options.grid import Units
    from deploycost.options.latency import Queueing
    from deploycost.options.performance import Configs, performance
    from deploycost.scenario.schema import validate_scenario
    from deploycost.simulate.run import simulate_deployment

    raw = yaml.safe_load((ROOT / "problems" / "ecommerce_search_rec.yaml").read_text())
    raw["options"] |= {"autoscale": True, "dispatch": "random", "service_cv": 0}
    scn = validate_scenario(raw)
    result = solve(scn, runner_ups=False)
    recall = result.plan.deployment.models["recall"]
    cost = CostModel(scn)
    space, units = cost.space, Units.of(cost)
    at = tuple(
        np.array([v])
        for v in (
            space.models.index("recall"),
            space.instances.index(recall.instance),
            space.precisions.index(recall.precision),
            0,
        )
    )
    perf = performance(cost, Configs.of([1], [1], [False]))
    perf = dataclasses.replace(perf, queueing=Queueing("random", 0.0, 5.0))
    throughput = float(perf.throughput_qps[at][0])
    hourly = np.asarray(scn.workload.hourly_mean_qps)  # recall: one request per query

    def worst_hour_p99(capacity):
        one = np.ones(1)
        running = running_replicas(scn, one * recall.replicas, one * capacity, one, one)[0]
        return max(
            float(perf.latency_ms(at, float(n), np.array([lam]))[0][0])
            for n, lam in zip(running, hourly, strict=True)
        )

    assert worst_hour_p99(throughput) > 20.0  # utilisation alone: an hour too slow
    assert recall.capacity_qps < throughput
    assert worst_hour_p99(recall.capacity_qps) <= 20.0
    assert units.share[units.model == space.models.index("recall")][0] == 1.0
    table = simulate_deployment(scn, result.plan.deployment, Settings.of(scn, requests=20_000))
    assert table.met.all()


def test_a_model_can_have_its_own_dispatch_policy():
    """recall behind a Kubernetes Service (random), the rest behind one queue: recall is
    sized for random dispatch with near-deterministic service (28 replicas, as when the
    whole scenario says random), the rankers as before; the simulation spreads recall at
    random and the others through a central queue, and every SLO holds."""
    import yaml

    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import validate_scenario
    from deploycost.simulate.run import simulate_deployment

    raw = yaml.safe_load((ROOT / "problems" / "ecommerce_search_rec.yaml").read_text())
    raw["options"]["service_cv"] = 0
    shared = solve(validate_scenario(raw), runner_ups=False).plan.deployment
    everyone = dict(raw, options={**raw["options"], "dispatch": "random"})
    all_random = solve(validate_scenario(everyone), runner_ups=False).plan.deployment
    for model in raw["models"]:
        if model["name"] == "recall":
            model["dispatch"] = "random"
    scn = validate_scenario(raw)
    own = solve(scn, runner_ups=False).plan.deployment
    assert own.models["recall"].replicas == all_random.models["recall"].replicas == 28
    assert shared.models["recall"].replicas == 24
    for name in ("coarse-ranker", "ranker"):
        assert own.models[name] == shared.models[name]
    settings = Settings.of(scn, hours="peak", requests=100_000)
    assert settings.by_model == (("recall", "random"),)
    table = simulate_deployment(scn, own, settings).set_index("model")
    assert table.at["recall", "dispatch"] == "random"
    assert table.at["ranker", "dispatch"] == "central_queue"
    assert table.met.all()
