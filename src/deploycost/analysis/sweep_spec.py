"""A sweep specification: what varies (price groups, selectors, ranges, distributions)
and how (line, grid, random, lhs, csv), checked in one pass against the scenario's
prices; the price scenarios it stands for."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError
from scipy import stats
from scipy.stats import qmc

from deploycost.cost.prices import PriceVector, build_prices
from deploycost.errors import ScenarioError
from deploycost.memory import memory_budget_bytes
from deploycost.scenario.schema import (
    Scenario,
    Strict,
    format_errors,
    parse_yaml,
    read_input,
)

NORMAL_SDS = 5  # a normal parameter must stay >= 0 within this many standard deviations


MAX_PRICE = 1e12  # per unit, or as a multiplier: beyond it the MILP's tolerances break down


MAX_SCENARIOS = 2_000_000  # a sweep's price matrix is dense: S x prices


GROUPS = ("compute", "storage", "retrieval", "labor", "data", "fusion", "automation")


Finite = Annotated[float, Field(allow_inf_nan=False)]


class Range(Strict):
    start: float = Field(allow_inf_nan=False)
    stop: float = Field(allow_inf_nan=False)
    step: Annotated[float, Field(gt=0)] | None = None


class Distribution(Strict):
    """uniform(low, high), normal(mean, sd), lognormal(mean, sd of the log), triangular(low,
    mode, high); which fields each kind needs is checked in ``load_spec``."""

    kind: Literal["uniform", "normal", "lognormal", "triangular"] = "uniform"
    low: Finite | None = None
    high: Finite | None = None
    mean: Finite | None = None
    sd: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    mode: Finite | None = None


class ParameterSpec(Strict):
    """A sweep parameter: which prices it sets and which values it takes.

    ``select``: a group (``compute``, ``storage``, ``retrieval``, ``labor``, ``data``,
    ``fusion``, ``automation``), ``fx:USD`` (every price quoted in USD: the exchange rate),
    or a glob over price names (``instance_hour[g6.*]``). ``scale: multiplier`` multiplies
    the scenario's prices (1 = unchanged; 0.7 = a 30 % discount, e.g. spot); ``value`` sets
    them to the value in the scenario currency.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    select: str
    scale: Literal["multiplier", "value"] = "multiplier"
    values: (
        Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=1)] | None
    ) = None
    range: Range | None = None
    distribution: Distribution | None = None


class SweepSpec(Strict):
    mode: Literal["line", "grid", "random", "lhs", "csv"] = "grid"
    parameters: Annotated[list[ParameterSpec], Field(min_length=1)]
    points: Annotated[int, Field(ge=2, le=1_000_000)] = 21  # along a line
    samples: Annotated[int, Field(ge=1, le=10_000_000)] = 1000  # random, lhs
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    csv: str | None = None
    chunk_rows: Annotated[int, Field(ge=1, le=10_000_000)] = 5000


@dataclass(frozen=True)
class Parameter:
    spec: ParameterSpec
    prices: np.ndarray  # indices into the price vector


def _select(spec: ParameterSpec, prices: PriceVector) -> np.ndarray:
    table = prices.table
    if spec.select in GROUPS:
        mask = table.kind.to_numpy() == spec.select
    elif spec.select.startswith("fx:"):
        mask = table.native_currency.to_numpy() == spec.select[3:]
    else:
        # brackets are part of price names, not glob character classes
        pattern = "".join({"[": "[[]", "]": "[]]"}.get(ch, ch) for ch in spec.select)
        mask = np.array([fnmatch.fnmatchcase(n, pattern) for n in prices.names])
    return np.nonzero(mask)[0]


def load_spec(raw: Any, scn: Scenario, source: str = "sweep") -> tuple[SweepSpec, list[Parameter]]:
    """Validate a sweep specification against the scenario's price vector, in one pass."""
    if not isinstance(raw, dict):
        raise ScenarioError([f"top level must be a mapping, got {raw!r}"[:100]], source)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, raw, SweepSpec, ""), source) from None
    prices = build_prices(scn)
    problems: list[str] = []
    params = []
    owner: dict[int, str] = {}
    for p in spec.parameters:
        where = f"parameters[{p.name}]"
        idx = _select(p, prices)
        if len(idx) == 0:
            problems.append(
                f"{where}.select must match at least one price (a group: "
                f"{', '.join(GROUPS)}; fx:CUR; or a glob over names such as "
                f"instance_hour[g6.*]), got {p.select!r}"
            )
        for r in idx:
            if r in owner:
                problems.append(
                    f"{where}.select must not overlap parameter {owner[r]!r} "
                    f"(both set {prices.names[r]}: the cost would no longer be "
                    f"linear in the parameters), got {p.select!r}"
                )
                break
            owner[int(r)] = p.name
        given = [k for k in ("values", "range", "distribution") if getattr(p, k) is not None]
        if spec.mode in ("line", "grid") and not ({"values", "range"} & set(given)):
            problems.append(
                f"{where} needs values or range for mode {spec.mode!r}, got {given or 'neither'}"
            )
        if spec.mode in ("random", "lhs") and not ({"distribution", "range"} & set(given)):
            problems.append(
                f"{where} needs a distribution or range for mode {spec.mode!r}, "
                f"got {given or 'neither'}"
            )
        if (
            p.range is not None
            and spec.mode != "line"
            and p.range.step is None
            and (spec.mode == "grid")
        ):
            problems.append(f"{where}.range.step is required for mode 'grid', got nothing")
        problems += _check_values(p, spec.mode)
        params.append(Parameter(p, idx))
    if spec.mode == "csv" and spec.csv is None:
        problems.append(
            "csv is required for mode 'csv' (a file with one column per parameter), got nothing"
        )
    if not problems:
        problems += _check_size(spec, params, len(prices.names))
    if problems:
        raise ScenarioError(problems, source)
    return spec, params


def _check_values(p: ParameterSpec, mode: str) -> list[str]:
    """Every value a parameter can take is a finite, non-negative price or multiplier: the
    scenario forbids negative prices, and the sweep's exactness (pruning, certificates)
    rests on them."""
    where, out = f"parameters[{p.name}]", []
    if p.values is not None and min(p.values) < 0:
        out.append(f"{where}.values must be >= 0 (prices and multipliers), got {min(p.values):g}")
    r = p.range
    if r is not None:
        if min(r.start, r.stop) < 0:
            out.append(f"{where}.range must stay >= 0, got {r.start:g} .. {r.stop:g}")
        if mode == "grid" and r.start > r.stop:
            out.append(
                f"{where}.range.start must be <= stop for a grid, got {r.start:g} > {r.stop:g}"
            )
    d = p.distribution
    if d is None or mode not in ("random", "lhs"):
        return out
    need = {
        "uniform": ("low", "high"),
        "normal": ("mean", "sd"),
        "lognormal": ("mean", "sd"),
        "triangular": ("low", "mode", "high"),
    }[d.kind]
    missing = [name for name in need if getattr(d, name) is None]
    if missing:
        return [
            *out,
            f"{where}.distribution ({d.kind}) needs {', '.join(need)}; "
            f"missing {', '.join(missing)}",
        ]
    if d.kind in ("uniform", "triangular"):
        if d.low < 0:
            out.append(f"{where}.distribution.low must be >= 0, got {d.low:g}")
        if not d.low <= d.high:
            out.append(f"{where}.distribution.low must be <= high, got {d.low:g} > {d.high:g}")
    if d.kind == "triangular" and d.low <= d.high:
        if not d.low < d.high:
            out.append(
                f"{where}.distribution: a triangle needs low < high, got {d.low:g} = {d.high:g}"
            )
        elif not d.low <= d.mode <= d.high:
            out.append(
                f"{where}.distribution.mode must lie in [low, high] = [{d.low:g}, {d.high:g}], "
                f"got {d.mode:g}"
            )
    if d.kind == "normal" and d.mean - NORMAL_SDS * d.sd < 0:
        out.append(
            f"{where}.distribution: a normal with mean {d.mean:g} and sd {d.sd:g} draws negative "
            f"values (mean - {NORMAL_SDS} sd < 0); use lognormal or a smaller sd"
        )
    if d.kind == "lognormal" and d.mean + NORMAL_SDS * d.sd > np.log(MAX_PRICE):
        out.append(
            f"{where}.distribution: a lognormal with mean {d.mean:g} and sd {d.sd:g} draws "
            f"values beyond {MAX_PRICE:g}"
        )
    return out


def _grid_size(spec: SweepSpec, params: list[Parameter]) -> tuple[float, str]:
    """How many scenarios the spec makes (as a float: it may be astronomically many)."""
    if spec.mode == "line":
        return float(spec.points), f"{spec.points:,} points"
    if spec.mode in ("random", "lhs"):
        return float(spec.samples), f"{spec.samples:,} samples"
    if spec.mode == "grid":
        sizes = [
            float(len(p.spec.values)) if p.spec.values is not None else _range_length(p.spec.range)
            for p in params
        ]
        return float(np.prod(sizes)), " x ".join(f"{s:,.0f}" for s in sizes) + " grid values"
    return 0.0, ""  # csv: checked when read


def _check_size(spec: SweepSpec, params: list[Parameter], n_prices: int) -> list[str]:
    """Refuse, before allocating, a sweep whose price matrix would not fit in memory."""
    count, what = _grid_size(spec, params)
    need = count * (n_prices + len(params)) * 8
    limit = memory_budget_bytes()
    if count > MAX_SCENARIOS or need > limit:
        most = min(MAX_SCENARIOS, limit / 8 / (n_prices + len(params)))
        return [
            f"the sweep makes {what} = {count:,.4g} scenarios, needing ~{need / 1e9:,.3g} GB for "
            f"its {n_prices} prices each; the limit is {most:,.0f} scenarios "
            f"({limit / 1e9:,.3g} GB, half the available memory)"
        ]
    return []


def check_points(theta: np.ndarray, params: list[Parameter], source: str) -> np.ndarray:
    """Drawn or read parameter values: at least one scenario, finite, >= 0, not absurd."""
    if len(theta) == 0:
        raise ScenarioError(["the sweep has no scenarios (an empty range or csv file)"], source)
    problems = []
    for j, p in enumerate(params):
        column = theta[:, j]
        bad = np.nonzero(~np.isfinite(column) | (column < 0) | (column > MAX_PRICE))[0]
        if len(bad):
            problems.append(
                f"parameters[{p.spec.name}] must be finite, >= 0 and <= {MAX_PRICE:g}; scenario "
                f"{int(bad[0])} has {column[bad[0]]:g} ({len(bad):,} such scenarios)"
            )
    if problems:
        raise ScenarioError(problems, source)
    return theta


def load_spec_file(path: str | Path, scn: Scenario) -> tuple[SweepSpec, list[Parameter]]:
    path = Path(path)
    spec, params = load_spec(parse_yaml(read_input(path), str(path)), scn, str(path))
    if spec.csv is not None and not Path(spec.csv).is_absolute():
        spec = spec.model_copy(update={"csv": str(path.parent / spec.csv)})
    return spec, params


def _range_length(r: Range) -> float:
    """Values of a grid range, start to stop by step (a float: it may be astronomical)."""
    return float(np.floor((r.stop - r.start) / r.step + 1e-9) + 1)


def _axis(p: ParameterSpec) -> np.ndarray:
    if p.values is not None:
        return np.array(p.values, float)
    r = p.range
    return r.start + r.step * np.arange(int(_range_length(r)))


def inverse_cdf(p: ParameterSpec, u: np.ndarray) -> np.ndarray:
    """Parameter values at quantiles ``u`` of its distribution (uniform over its range)."""
    d = p.distribution
    if d is None:
        return p.range.start + u * (p.range.stop - p.range.start)
    if d.kind == "uniform":
        return d.low + u * (d.high - d.low)
    if d.kind == "normal":
        return stats.norm.ppf(u, loc=d.mean, scale=d.sd)
    if d.kind == "lognormal":
        return stats.lognorm.ppf(u, s=d.sd, scale=np.exp(d.mean))
    c = (d.mode - d.low) / (d.high - d.low)
    return stats.triang.ppf(u, c, loc=d.low, scale=d.high - d.low)


def scenario_points(spec: SweepSpec, params: list[Parameter]) -> tuple[np.ndarray, np.ndarray]:
    """(S, k) parameter values of every sweep scenario, and t along the line (line mode)."""
    k = len(params)
    if spec.mode == "line":
        ends = [
            (_axis(p.spec)[0], _axis(p.spec)[-1])
            if p.spec.values is not None
            else (p.spec.range.start, p.spec.range.stop)
            for p in params
        ]
        t = np.linspace(0.0, 1.0, spec.points)
        lo, hi = np.array([e[0] for e in ends]), np.array([e[1] for e in ends])
        return check_points(lo + t[:, None] * (hi - lo), params, "sweep"), t
    if spec.mode == "grid":
        axes = [_axis(p.spec) for p in params]
        mesh = np.meshgrid(*axes, indexing="ij")
        theta = np.stack([m.ravel() for m in mesh], axis=1)
        return check_points(theta, params, "sweep"), np.array([])
    if spec.mode == "csv":
        try:
            frame = pd.read_csv(spec.csv)
        except (OSError, ValueError) as exc:
            raise ScenarioError([f"cannot read the scenarios file: {exc}"], spec.csv) from None
        missing = [p.spec.name for p in params if p.spec.name not in frame.columns]
        if missing:
            raise ScenarioError(
                [f"csv must have a column per parameter; missing {', '.join(missing)}"], spec.csv
            )
        columns = []
        for p in params:
            raw = frame[p.spec.name]
            values = pd.to_numeric(raw, errors="coerce")
            bad = np.nonzero(values.isna().to_numpy())[0]
            if len(bad):
                row = int(bad[0])
                raise ScenarioError(
                    [
                        f"column {p.spec.name!r} must hold numbers; row {row + 2} has "
                        f"{str(raw.iloc[row])[:40]!r} ({len(bad):,} such rows)"
                    ],
                    spec.csv,
                )
            columns.append(values.to_numpy(float))
        theta = np.stack(columns, axis=1) if len(frame) else np.zeros((0, len(params)))
        return check_points(theta, params, spec.csv), np.array([])
    if spec.mode == "lhs":
        u = qmc.LatinHypercube(d=k, seed=spec.seed).random(spec.samples)
    else:
        u = np.random.default_rng(spec.seed).random((spec.samples, k))
    theta = np.stack([inverse_cdf(p.spec, u[:, j]) for j, p in enumerate(params)], axis=1)
    return check_points(theta, params, "sweep"), np.array([])


def price_matrix(base: np.ndarray, params: list[Parameter], theta: np.ndarray) -> np.ndarray:
    """(S, P) price vectors: each parameter scales (or sets) its own prices."""
    out = np.tile(base, (len(theta), 1))
    for j, p in enumerate(params):
        if p.spec.scale == "multiplier":
            out[:, p.prices] = base[p.prices] * theta[:, j : j + 1]
        else:
            out[:, p.prices] = theta[:, j : j + 1]
    return out
