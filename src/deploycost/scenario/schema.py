"""Scenario and deployment files: pydantic schema, one-pass validation, readable errors.

Money in a scenario file is in the scenario ``currency`` unless a field says otherwise;
catalog prices in other currencies are converted with ``exchange_rates`` (scenario
currency units per one foreign unit), which are themselves prices a sweep may vary.

Validation runs in one pass before anything is computed: the schema (types, bounds,
unknown keys) first, then cross-references (fusion members, instance, tier, precision,
role names) against the catalog with the scenario's own overrides applied. Every problem
is reported at once as ``path must ..., got value``.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import math
import reprlib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from deploycost.catalog import KEYS, PRICING_COLUMNS, WIDTHS, Catalog, load_catalog
from deploycost.errors import ScenarioError
from deploycost.periods import DAYS_PER_YEAR
from deploycost.scenario.exported import deployment_of, is_export
from deploycost.scenario.yamlfile import parse_yaml, read_input, with_locations

BIG = 1e12  # upper bound on counts and amounts: keeps every product finite in float64

ModelName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
]  # a Kubernetes object name, since models become Deployments
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# a catalog row's key: printable, no leading or trailing space, not empty
ROW_KEY_PATTERN = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,98}[^\s\x00-\x1f\x7f])?$"
RowKey = Annotated[str, StringConstraints(pattern=ROW_KEY_PATTERN)]
NonNeg = Annotated[float, Field(ge=0, le=BIG)]
Pos = Annotated[float, Field(gt=0, le=BIG)]
Fraction = Annotated[float, Field(gt=0, le=1)]
# a share of data that survives cleaning: below one in a million it divides costs into inf
UsableFraction = Annotated[float, Field(ge=1e-6, le=1)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Workload(Strict):
    """Traffic: daily volume and its peak."""

    queries_per_day: Pos = 1_000_000.0
    peak_qps: Pos | None = None
    peak_to_mean: Annotated[float, Field(ge=1, le=1000)] = 3.0
    hourly_profile: Annotated[list[NonNeg], Field(min_length=24, max_length=24)] | None = None
    day_types: list[DayType] = []

    @property
    def mean_qps(self) -> float:
        return self.queries_per_day / 86400.0

    @property
    def hourly_weights(self) -> list[float]:
        """24 fractions of the day's traffic (flat when no profile is given)."""
        if self.hourly_profile is None:
            return [1.0 / 24.0] * 24
        total = sum(self.hourly_profile)
        return [w / total for w in self.hourly_profile]

    @property
    def hourly_mean_qps(self) -> list[float]:
        """Mean arrivals per second in each of the 24 hours (queries per day x weight)."""
        return [self.queries_per_day * w / 3600.0 for w in self.hourly_weights]

    @property
    def peak_qps_resolved(self) -> float:
        if self.peak_qps is not None:
            return self.peak_qps
        if self.hourly_profile is not None:
            return self.mean_qps * 24.0 * max(self.hourly_weights)
        return self.mean_qps * self.peak_to_mean


class DayType(Strict):
    """A kind of day (``normal``, ``festival``): how many days a year, its peak and profile."""

    name: Name
    days: Annotated[float, Field(gt=0, le=366)]
    peak_qps: Pos
    hourly_profile: Annotated[list[NonNeg], Field(min_length=24, max_length=24)] | None = None

    def hourly_qps(self) -> list[float]:
        """Requests/s in each hour: the profile scaled so that its largest hour is the peak
        (flat at the peak when no profile is given)."""
        if self.hourly_profile is None or max(self.hourly_profile) == 0:
            return [self.peak_qps] * 24
        top = max(self.hourly_profile)
        return [self.peak_qps * w / top for w in self.hourly_profile]


class Profile(Strict):
    """A measured operating point of one model on one instance type."""

    instance: str
    precision: str
    batch: Annotated[int, Field(ge=1, le=65536)] = 1
    throughput_qps: Pos
    latency_ms: Pos
    p99_bound_ms: Pos | None = None
    source: str = "scenario file"


class CompressionEffort(Strict):
    """One-off work to quantise a model, repeated at every retrain."""

    person_days_per_retrain: NonNeg = 0.5
    calibration_gpu_hours_per_retrain: NonNeg = 1.0


class TokenCount(Strict):
    """Tokens per request: the mean, and optionally percentiles of the distribution."""

    mean: Annotated[float, Field(gt=0, le=10_000_000)]
    p50: Annotated[float, Field(gt=0, le=10_000_000)] | None = None
    p90: Annotated[float, Field(gt=0, le=10_000_000)] | None = None
    p99: Annotated[float, Field(gt=0, le=10_000_000)] | None = None

    @property
    def tail(self) -> float:
        """The p99 where given, else the mean (the figure end-to-end latency is sized at)."""
        return self.p99 if self.p99 is not None else self.mean


class LlmShape(Strict):
    """A decoder's shape, as in its ``config.json``; parameter counts derive from it."""

    layers: Annotated[int, Field(ge=1, le=10_000)]
    hidden: Annotated[int, Field(ge=1, le=1_000_000)]
    heads: Annotated[int, Field(ge=1, le=10_000)]
    kv_heads: Annotated[int, Field(ge=1, le=10_000)]
    head_dim: Annotated[int, Field(ge=1, le=100_000)]
    vocab: Annotated[int, Field(ge=1, le=100_000_000)]
    intermediate: Annotated[int, Field(ge=1, le=10_000_000)]
    experts: Annotated[int, Field(ge=0, le=100_000)] = 0
    experts_per_token: Annotated[int, Field(ge=0, le=100_000)] = 0
    ffn_matrices: Literal[2, 3] = 3  # 3: gated (SwiGLU) feed-forward; 2: plain MLP


class TokenProfile(Strict):
    """A measured LLM operating point: one engine (``tensor_parallel`` accelerators of
    ``instance``) at ``precision`` serving ``concurrency`` sequences at once, measured with
    requests of ``input_tokens`` / ``output_tokens`` (means). It calibrates the estimate of
    that (instance, precision, tensor_parallel): throughput, TPOT and TTFT are scaled so the
    estimate reproduces the measurement (a least-squares fit in log space over all points of
    the group)."""

    instance: str
    precision: str
    tensor_parallel: Literal[1, 2, 4, 8] = 1
    concurrency: Annotated[int, Field(ge=1, le=65536)]
    input_tokens: Annotated[float, Field(gt=0, le=10_000_000)]
    output_tokens: Annotated[float, Field(gt=0, le=10_000_000)]
    output_tokens_per_s: Pos  # per engine
    tpot_ms: Pos | None = None
    ttft_ms: Pos | None = None
    source: str = "scenario file"


class LlmSpec(Strict):
    """A generative model served in tokens (prefill + decode with continuous batching)."""

    architecture: RowKey | None = None  # a row of the llm_architectures catalog
    shape: LlmShape | None = None
    input_tokens: TokenCount
    output_tokens: TokenCount
    prefix_cache_hit_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    ttft_p99_ms: Pos | None = None
    tpot_p99_ms: Pos | None = None
    tensor_parallel: list[Literal[1, 2, 4, 8]] | None = None
    profiles: list[TokenProfile] = []


class ModelSpec(Strict):
    name: ModelName
    kind: Literal["model", "llm"] = "model"
    llm: LlmSpec | None = None
    params_million: Pos | None = None
    size_gb: Pos | None = None
    checkpoint_precision: str = "fp32"
    embedding_gb: NonNeg = 0.0
    gflops_per_query: NonNeg | None = None
    mb_per_query: NonNeg | None = None
    profiles: list[Profile] = []
    traffic_share: Fraction = 1.0
    requests_per_query: Annotated[float, Field(gt=0, le=1e6)] = 1.0
    stage: Name | None = None
    latency_slo_ms: Pos = 100.0
    quality: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    min_replicas: Annotated[int, Field(ge=1, le=100_000)] = 1
    maintenance_person_days_per_month: NonNeg = 0.0
    role: Name | None = None
    retrains_per_month: NonNeg = 1.0
    min_backups: Annotated[int, Field(ge=0, le=100)] = 0
    versions_kept: Annotated[int, Field(ge=1, le=1000)] = 2
    compression_effort: CompressionEffort = CompressionEffort()
    allowed_instances: list[str] | None = None
    allowed_precisions: list[str] | None = None
    image: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    pool: Name | None = None
    dispatch: Literal["central_queue", "round_robin", "random", "least_request"] | None = None
    # relative quality change per precision measured on this model (wins over the catalog)
    quality_deltas: dict[str, Annotated[float, Field(ge=-1, le=1)]] = {}

    @model_validator(mode="before")
    @classmethod
    def _llm_checkpoint(cls, data: Any) -> Any:
        """LLM checkpoints are published in 16-bit (bf16): that is the default precision an
        LLM's compression effort and artifact sizes start from."""
        if isinstance(data, dict) and data.get("llm") is not None:
            data = {"checkpoint_precision": "bf16", **data}
        return data

    @property
    def is_llm(self) -> bool:
        return self.llm is not None

    @property
    def latency_limit_ms(self) -> float:
        """The end-to-end p99 limit: ``latency_slo_ms``; for an LLM that does not state it,
        the one its TTFT and TPOT limits imply, ``ttft + (output tokens p99 - 1) tpot``."""
        llm = self.llm
        if llm is None or "latency_slo_ms" in self.model_fields_set:
            return self.latency_slo_ms
        if llm.ttft_p99_ms is None or llm.tpot_p99_ms is None:
            return math.inf  # rejected by validation; here for models built without it
        return llm.ttft_p99_ms + (llm.output_tokens.tail - 1.0) * llm.tpot_p99_ms


class DataSource(Strict):
    name: Name
    gb_per_day: Pos
    acquisition_price_per_gb: NonNeg = 0.0
    usable_fraction: UsableFraction = 1.0
    retention_days: Annotated[float, Field(gt=0, le=36500)] = 30.0
    cleaning_price_per_gb: NonNeg = 0.0
    labelling_person_days_per_month: NonNeg = 0.0
    role: Name | None = None
    read_gb_per_day: NonNeg = 0.0
    storage_tiers: Annotated[list[str], Field(min_length=1)] = ["s3-standard"]


class RoleSpec(Strict):
    """A day rate given here, or taken from the labor catalog row ``catalog``."""

    day_rate: Pos | None = None
    currency: Currency | None = None
    catalog: str | None = None
    source: str = "scenario file"


class AutomationLevel(Strict):
    name: Name
    fixed_cost_per_month: NonNeg = 0.0
    person_day_multiplier: Annotated[float, Field(gt=0, le=10)] = 1.0


class People(Strict):
    roles: dict[Name, RoleSpec] = {}
    training_person_days_per_month: NonNeg = 0.0
    training_role: Name | None = None
    automation_levels: Annotated[list[AutomationLevel], Field(min_length=1)] = [
        AutomationLevel(name="manual")
    ]


FusionMethod = Literal["single", "average", "weighted", "softmax", "stacking", "cascade"]


class FusionConfig(Strict):
    """A set of member models and how their outputs are combined."""

    name: Name
    members: Annotated[list[ModelName], Field(min_length=1)]
    method: FusionMethod = "single"
    weights: list[Pos] | None = None
    stage_fractions: list[Fraction] | None = None
    quality: Annotated[float, Field(ge=0, le=1e6)] | None = None
    complexity: Annotated[float, Field(ge=0, le=1)] = 0.0
    unit_cost_per_day: NonNeg = 0.0
    maintenance_person_days_per_month: NonNeg = 0.0
    role: Name | None = None
    instance: str | None = None
    replicas: Count = 0


class Constraints(Strict):
    quality_floor: Annotated[float, Field(ge=0, le=1e6)] | None = None
    e2e_latency_ms: Pos | None = None
    e2e_models: list[Name] | None = None
    quotas: dict[str, Count] = {}
    budget_per_day: Pos | None = None
    utilisation_max: Fraction = 0.8
    max_cold_start_s: Pos = 600.0
    owned_storage_gb: dict[str, NonNeg] = {}


class HardwareRow(Strict):
    name: RowKey
    instance_type: str | None = None
    provider: str | None = None
    region: str | None = None
    compute_class: Literal["cpu", "gpu", "accelerator"] | None = None
    accelerator: str | None = None
    accel_count: Count | None = None
    accel_mem_gb: NonNeg | None = None
    vcpus: Annotated[int, Field(ge=1, le=100_000)] | None = None
    memory_gib: Pos | None = None
    currency: Currency | None = None
    price_on_demand_per_hour: NonNeg | None = None
    price_reserved_1yr_per_hour: NonNeg | None = None
    price_reserved_3yr_per_hour: NonNeg | None = None
    price_spot_per_hour: NonNeg | None = None
    as_of: str | None = None
    source: str | None = None
    note: str | None = None


class StorageRow(Strict):
    tier: RowKey
    provider: str | None = None
    region: str | None = None
    kind: str | None = None
    currency: Currency | None = None
    price_per_gb_month: NonNeg | None = None
    retrieval_per_gb: NonNeg | None = None
    min_storage_days: Annotated[float, Field(ge=0, le=36500)] | None = None
    read_mb_s: Pos | None = None
    first_byte_s: NonNeg | None = None
    as_of: str | None = None
    source: str | None = None
    note: str | None = None


class PrecisionRow(Strict):
    precision: RowKey
    bytes_per_param: Annotated[float, Field(gt=0, le=16)] | None = None
    compute_dtype: Literal["fp32", "fp16", "int8", "int4"] | None = None
    quality_delta_rel: Annotated[float, Field(ge=-1, le=1)] | None = None
    measured_speedup_vs_fp16: Pos | None = None
    as_of: str | None = None
    source: str | None = None
    note: str | None = None


SizeFactor = Annotated[float, Field(gt=0, le=1)]


class CompressionRow(Strict):
    """A file compression; ``size_factor`` sets every width class at once, the
    ``size_factor_<width>`` fields one each (they win over ``size_factor``)."""

    compression: RowKey
    size_factor: SizeFactor | None = None
    size_factor_32bit: SizeFactor | None = None
    size_factor_16bit: SizeFactor | None = None
    size_factor_8bit: SizeFactor | None = None
    size_factor_4bit: SizeFactor | None = None
    decompress_mb_s: Pos | None = None
    as_of: str | None = None
    source: str | None = None
    note: str | None = None


class OptionSettings(Strict):
    """How the option grid is enumerated and how unmeasured performance is estimated."""

    batch_sizes: Annotated[list[Annotated[int, Field(ge=1, le=65536)]], Field(min_length=1)] = [
        1,
        2,
        4,
        8,
        16,
        32,
    ]
    extra_replicas: Annotated[int, Field(ge=0, le=20)] = 2
    max_replicas: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    backups: Annotated[list[Annotated[int, Field(ge=0, le=100)]], Field(min_length=1)] = [0, 1]
    file_compressions: Annotated[list[str], Field(min_length=1)] = ["none", "lz4", "zstd"]
    roofline_efficiency: Fraction = 0.4
    overhead_ms: Annotated[float, Field(ge=0, le=1e6)] = 1.0
    memory_usable_fraction: Fraction = 0.9
    host_reserve_gb: Annotated[float, Field(ge=0, le=1e6)] = 2.0
    estimate_unprofiled: bool = False
    autoscale: bool = False
    llm_concurrency: Annotated[list[Annotated[int, Field(ge=1, le=65536)]], Field(min_length=1)] = [
        1,
        4,
        16,
        32,
        64,
        128,
        256,
    ]
    llm_compute_efficiency: Fraction = 0.5
    llm_memory_efficiency: Fraction = 0.8
    llm_step_overhead_ms: Annotated[float, Field(ge=0, le=1e6)] = 0.5
    llm_allreduce_latency_us: Annotated[float, Field(ge=0, le=1e6)] = 10.0
    kv_cache_memory_fraction: Fraction = 0.9
    dispatch: Literal["central_queue", "round_robin", "random", "least_request"] = "central_queue"
    service_cv: Annotated[float, Field(ge=0, le=10)] = 1.0
    max_queue_delay_ms: NonNeg | None = None
    latency_every_hour: bool = True
    # ESTIMATE: a serving image of ~5-10 GB (Triton, vLLM) pulled at ~150-250 MB/s
    image_pull_s: Annotated[float, Field(ge=0, le=86_400)] = 45.0
    # ESTIMATE: server start, CUDA / Neuron runtime and loading weights onto the devices
    runtime_init_s: Annotated[float, Field(ge=0, le=86_400)] = 45.0


Plan = Literal["on_demand", "reserved_1yr", "reserved_3yr", "spot"]


class Fleet(Strict):
    """Fleet decisions: a model's load split over instance types, pools shared by models,
    purchase plans per instance type, instance counts per hour and day type."""

    plans: Annotated[list[Plan], Field(min_length=1)] = ["on_demand"]
    max_types_per_model: Annotated[int, Field(ge=1, le=1000)] | None = None
    min_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    spot_interruption_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0
    scale_up_lag_min: Annotated[float, Field(ge=0, le=1440)] = 0.0
    timezone: str = "UTC"
    partitions: bool = False


# Where a scenario that states no regions buys: one region per currency, so that compute
# and storage come from one place (USD: the AWS region of the shipped US prices).
DEFAULT_REGIONS: dict[str, list[str]] = {"USD": ["us-east-1"]}
DEFAULT_CALIBRATION = "g5.xlarge"  # one A10G: a common quantisation-calibration box


class CatalogOverrides(Strict):
    pricing: Plan = "on_demand"
    regions: Annotated[list[str], Field(min_length=1)] | None = None
    calibration_instance: str | None = None  # default: ``Scenario.calibration_instance``
    hardware: list[HardwareRow] = []
    storage: list[StorageRow] = []
    precision: list[PrecisionRow] = []
    compression: list[CompressionRow] = []


REQUIRED_FOR_NEW_ROW: dict[str, tuple[str, ...]] = {
    "hardware": ("compute_class", "accelerator", "accel_count", "vcpus", "memory_gib", "currency"),
    "storage": ("currency", "price_per_gb_month", "read_mb_s"),
    "precision": ("bytes_per_param", "compute_dtype", "quality_delta_rel"),
    "compression": ("size_factor",),
}


class ModelChoice(Strict):
    """The deployment of one model: where it runs and how its artifact is stored."""

    instance: str
    replicas: Count
    precision: str | None = None
    batch: Annotated[int, Field(ge=1, le=65536)] = 1
    tier: str | None = None
    backups: Annotated[int, Field(ge=0, le=100)] = 0
    compression: str = "none"
    autoscale: bool = False
    capacity_qps: Pos | None = None
    tensor_parallel: Literal[1, 2, 4, 8] = 1


class DeploymentSpec(Strict):
    """A fixed choice per model (replicas included), for ``deploycost evaluate``."""

    models: dict[str, ModelChoice]
    fusion: str | None = None
    data_tiers: dict[str, str] = {}
    automation: str | None = None


class Scenario(Strict):
    name: str = "scenario"
    description: str = ""
    currency: Currency = "CNY"
    reporting_period: Literal["day", "month", "year"] = "month"
    exchange_rates: dict[Currency, Pos] = {}
    workload: Workload = Workload()
    models: Annotated[list[ModelSpec], Field(min_length=1)]
    model_storage_tiers: Annotated[list[str], Field(min_length=1)] = ["s3-standard"]
    data_sources: list[DataSource] = []
    people: People = People()
    fusion: list[FusionConfig] = []
    constraints: Constraints = Constraints()
    catalog: CatalogOverrides = CatalogOverrides()
    options: OptionSettings = OptionSettings()
    fleet: Fleet | None = None
    baseline_deployment: DeploymentSpec | None = None

    # Filled in by ``validate_scenario``: the catalog with this scenario's overrides.
    _catalog: Catalog | None = PrivateAttr(default=None)
    _models_by_name: dict[str, ModelSpec] | None = PrivateAttr(default=None)

    @property
    def regions(self) -> list[str] | None:
        """The provider regions instances come from: ``catalog.regions``, else the default
        of the currency (``DEFAULT_REGIONS``), else every region (None)."""
        if self.catalog.regions is not None:
            return list(self.catalog.regions)
        default = DEFAULT_REGIONS.get(self.currency)
        return list(default) if default else None

    @property
    def calibration_instance(self) -> str:
        """The instance that prices calibration GPU-hours: ``catalog.calibration_instance``,
        else ``DEFAULT_CALIBRATION`` where usable, else the usable GPU instance with the
        lowest on-demand price, else the first usable instance."""
        if self.catalog.calibration_instance is not None:
            return self.catalog.calibration_instance
        usable = usable_instances(self, self.resolved_catalog)
        if DEFAULT_CALIBRATION in usable:
            return DEFAULT_CALIBRATION
        hw = self.resolved_catalog.hardware.loc[usable]
        gpus = hw[hw.compute_class == "gpu"].price_on_demand_per_hour.dropna()
        return str(gpus.idxmin()) if len(gpus) else usable[0]

    @property
    def resolved_catalog(self) -> Catalog:
        """The catalog with this scenario's overrides; a scenario built with pydantic's own
        ``Scenario.model_validate`` is cross-checked here, on first use."""
        if self._catalog is None:
            cross_check(self)
        return self._catalog

    def model(self, name: str) -> ModelSpec:
        """The model called ``name`` (a dictionary lookup, built on first use)."""
        if self._models_by_name is None or len(self._models_by_name) != len(self.models):
            self._models_by_name = {}
            for m in self.models:
                self._models_by_name.setdefault(m.name, m)
        return self._models_by_name[name]

    @property
    def fusion_configs(self) -> list[FusionConfig]:
        """The declared fusion configurations, or one that serves every model."""
        if self.fusion:
            return list(self.fusion)
        names = [m.name for m in self.models]
        return [
            FusionConfig(
                name="all-models", members=names, method="single" if len(names) == 1 else "cascade"
            )
        ]

    @property
    def role_specs(self) -> dict[str, RoleSpec]:
        """Declared roles, or one engineer role priced from the labor catalog."""
        if self.people.roles:
            return dict(self.people.roles)
        row = "cn-algorithm-engineer" if self.currency == "CNY" else "us-software-developer"
        return {"engineer": RoleSpec(catalog=row)}

    @property
    def default_role(self) -> str:
        return next(iter(self.role_specs))

    def rate_to_scenario(self, currency: str) -> float:
        """Scenario-currency units per one unit of ``currency``."""
        if currency == self.currency:
            return 1.0
        if currency in self.exchange_rates:
            return self.exchange_rates[currency]
        table = self.resolved_catalog.exchange_rates
        direct = table[(table.from_currency == currency) & (table.to_currency == self.currency)]
        if len(direct):
            return float(direct.rate.iloc[0])
        inverse = table[(table.from_currency == self.currency) & (table.to_currency == currency)]
        if len(inverse):
            return 1.0 / float(inverse.rate.iloc[0])
        raise KeyError(currency)


# ---------------------------------------------------------------------------------------
# error formatting


def _rule(error: dict) -> str:
    ctx = error.get("ctx", {}) or {}
    kind = error["type"]
    simple = {
        "greater_than": "must be > {gt}",
        "greater_than_equal": "must be >= {ge}",
        "less_than": "must be < {lt}",
        "less_than_equal": "must be <= {le}",
        "finite_number": "must be a finite number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "int_type": "must be an integer",
        "int_from_float": "must be an integer",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "literal_error": "must be one of {expected}",
        "too_short": "must have at least {min_length} items",
        "too_long": "must have at most {max_length} items",
        "string_pattern_mismatch": "must match the pattern {pattern}",
    }
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == ROW_KEY_PATTERN:
        return "must be a name of 1 to 100 printable characters, without surrounding spaces"
    if kind in simple:
        shown = {
            k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in ctx.items()
        }
        try:
            return simple[kind].format(**shown)
        except (KeyError, IndexError):
            return simple[kind].split(" {")[0]
    return str(error.get("msg", kind)).lower()


_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 50


def _got(value: Any) -> str:
    """A short rendering of a bad value, never the whole of a large or alias-shared one."""
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    if origin in (typing.Union, types.UnionType, Annotated):
        return any(_is_mapping(a) for a in typing.get_args(annotation))
    return False


def _describe(loc: tuple, raw: Any, root: type[BaseModel]) -> tuple[str, type[BaseModel] | None]:
    """Turn a pydantic location into ``models[ranker].latency_slo_ms`` and the model there."""
    path = ""
    model: type[BaseModel] | None = root
    in_mapping = False
    node = raw
    for part in loc:
        if isinstance(part, int):
            name = (
                node[part].get("name")
                if isinstance(node, list) and isinstance(node[part], dict)
                else None
            )
            path += f"[{name}]" if isinstance(name, str) else f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if in_mapping:
            path += f"[{part}]"
            in_mapping = False
            node = node.get(part) if isinstance(node, dict) else None
            continue
        path += f".{part}" if path else str(part)
        field = model.model_fields.get(part) if model is not None else None
        node = node.get(part) if isinstance(node, dict) else None
        if field is None:
            model = None
            continue
        in_mapping = _is_mapping(field.annotation)
        model = _inner_model(field.annotation)
    return path, model


def format_errors(exc: ValidationError, raw: Any, root: type[BaseModel], prefix: str) -> list[str]:
    problems = []
    for error in exc.errors():
        # pydantic inserts union-member labels such as "list[float]" into the location
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        if error["type"] == "extra_forbidden":
            key = str(error["loc"][-1])  # the unknown key itself, whatever it contains
            parent_loc = tuple(
                p for p in error["loc"][:-1] if not (isinstance(p, str) and "[" in p)
            )
            parent_path, parent = _describe(parent_loc, raw, root)
            valid = sorted(parent.model_fields) if parent is not None else []
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = f"{prefix}{parent_path}" if parent_path else prefix.rstrip(".") or "top level"
            problems.append(f"{where}: unknown key '{key}'{hint}; valid keys: {', '.join(valid)}")
            continue
        path, _ = _describe(loc, raw, root)
        full = f"{prefix}{path}" if path else prefix.rstrip(".")
        if error["type"] == "missing":
            problems.append(f"{full} is required")
        else:
            problems.append(f"{full} {_rule(error)}, got {_got(error.get('input'))}")
    return problems


# ---------------------------------------------------------------------------------------
# cross-reference checks


def _unique(items: list, what: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            problems.append(f"{what}[{item.name}].name must be unique, got a second {item.name!r}")
        seen.add(item.name)


def _suggest(value: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(value, valid, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _ref(value: str, valid: list[str], path: str, what: str, problems: list[str]) -> None:
    if value not in valid:
        problems.append(f"{path} must name a known {what}{_suggest(value, valid)}, got {value!r}")


def _apply_overrides(scn: Scenario, problems: list[str]) -> Catalog:
    catalog = load_catalog()
    for kind, rows in (
        ("hardware", scn.catalog.hardware),
        ("storage", scn.catalog.storage),
        ("precision", scn.catalog.precision),
        ("compression", scn.catalog.compression),
    ):
        key = KEYS[kind]
        existing = set(catalog.table(kind).index)
        for row in rows:
            name = getattr(row, key)
            if kind == "hardware" and name in catalog.partitions.index:
                parent = catalog.partitions.at[name, "parent"]
                problems.append(
                    f"catalog.hardware[{name}] is a partition of {parent}, derived from it: "
                    f"change the row {parent!r} instead"
                )
            if name in existing:
                continue
            for column in REQUIRED_FOR_NEW_ROW[kind]:
                if getattr(row, column) is None and not _all_widths_given(row, column):
                    problems.append(f"catalog.{kind}[{name}].{column} is required for a new row")
        catalog = catalog.with_rows(kind, [_catalog_row(row, catalog) for row in rows])
    return catalog.with_partitions() if scn.catalog.hardware else catalog


def _all_widths_given(row: Strict, column: str) -> bool:
    return column == "size_factor" and all(
        getattr(row, f"size_factor_{w}") is not None for w in WIDTHS
    )


def _catalog_row(row: Strict, catalog: Catalog) -> dict:
    """The catalog columns a scenario row sets: a compression's ``size_factor`` fills the
    width classes it does not name, and the widths it sets are its own figures, no longer
    estimates."""
    values = row.model_dump()
    if isinstance(row, CompressionRow):
        shared = values.pop("size_factor")
        for width in WIDTHS:
            if values[f"size_factor_{width}"] is None:
                values[f"size_factor_{width}"] = shared
        comp = catalog.compression
        marked = (
            comp.at[row.compression, "estimated_widths"] if row.compression in comp.index else ""
        )
        values["estimated_widths"] = " ".join(
            w
            for w in (marked.split() if isinstance(marked, str) else [])
            if values[f"size_factor_{w}"] is None
        )
    return values


def usable_instances(scn: Scenario, catalog: Catalog) -> list[str]:
    """Instance types priced under the scenario's pricing model, or on demand where that
    plan has no price (an instance without a reserved or spot offer is bought on demand),
    in its regions (rows the scenario adds itself are always usable); accelerator
    partitions with ``fleet.partitions`` only. Kept per catalog object and the scenario's
    say in it (a solve asks a dozen times)."""
    added = tuple(sorted(row.name for row in scn.catalog.hardware))
    key = (
        scn.catalog.pricing,
        scn.fleet is not None and scn.fleet.partitions,
        None if scn.regions is None else tuple(scn.regions),
        added,
    )
    known = catalog.__dict__.setdefault("_usable_by_scenario", {})  # dies with the catalog
    if key not in known:
        known[key] = _usable(scn, catalog, set(added))
    return list(known[key])


def _usable(scn: Scenario, catalog: Catalog, added: set[str]) -> list[str]:
    hw = catalog.hardware
    usable = (
        hw[PRICING_COLUMNS[scn.catalog.pricing]].notna() | hw[PRICING_COLUMNS["on_demand"]].notna()
    )
    if scn.fleet is None or not scn.fleet.partitions:  # bought by the node: fleets only
        usable &= hw.partition_of.isna()
    if scn.regions is not None:
        added = added - set(load_catalog().hardware.index)
        usable &= hw.region.isin(scn.regions) | hw.index.isin(sorted(added))
    return [str(n) for n in hw.index[usable]]


ANYWHERE = "on-prem"  # a storage provider that is no cloud region's
EPHEMERAL = ("instance-store",)  # storage kinds lost when the instance stops


def _tiers_named(scn: Scenario) -> list[tuple[str, str]]:
    """(field, tier) for every storage tier the scenario lets artifacts or data use."""
    return [("model_storage_tiers", t) for t in scn.model_storage_tiers] + [
        (f"data_sources[{src.name}].storage_tiers", t)
        for src in scn.data_sources
        for t in src.storage_tiers
    ]


def _check_durable_tiers(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    """Artifacts and data outlive instances: an instance-store tier (local NVMe, lost when
    the instance stops or is replaced) cannot keep them."""
    st = catalog.storage
    for field, tier in _tiers_named(scn):
        if tier in st.index and st.at[tier, "kind"] in EPHEMERAL:
            problems.append(
                f"{field}: tier {tier!r} is {st.at[tier, 'kind']} storage, lost when the "
                f"instance stops; keep artifacts and data on a durable tier (object or block "
                f"storage)"
            )


def _check_storage_regions(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    """Storage tiers come from the providers of the scenario's regions (or on premises):
    an answer must not run compute in one cloud and keep its artifacts in another."""
    regions = scn.regions
    if regions is None:
        return
    hw, st = catalog.hardware, catalog.storage
    providers = set(hw.provider[hw.region.isin(regions)].dropna()) | {ANYWHERE}
    own = {row.tier for row in scn.catalog.storage}
    for field, tier in _tiers_named(scn):
        if tier in own or tier not in st.index:
            continue
        provider = st.at[tier, "provider"]
        if isinstance(provider, str) and provider not in providers:
            problems.append(
                f"{field}: tier {tier!r} is {provider} storage ({st.at[tier, 'region']}), "
                f"outside the scenario's regions ({', '.join(regions)}, providers "
                f"{', '.join(sorted(providers))}); state catalog.regions or choose a tier "
                f"of those providers"
            )


def _check_currencies(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    used = set(catalog.hardware.currency.dropna()) | set(catalog.storage.currency.dropna())
    used |= {r.currency for r in scn.role_specs.values() if r.currency}
    used |= {
        str(catalog.labor.at[r.catalog, "currency"])
        for r in scn.role_specs.values()
        if r.catalog in catalog.labor.index
    }
    for currency in sorted(used):
        try:
            scn.rate_to_scenario(currency)
        except KeyError:
            problems.append(
                f"exchange_rates.{currency} is required to convert {currency} prices "
                f"to {scn.currency}, got nothing"
            )


def _offered_partition(scn, catalog: Catalog, name: str, path: str, problems: list[str]) -> None:
    """An accelerator partition row is bought by the node: offered to fleets that ask."""
    if name in catalog.partitions.index and not (scn.fleet is not None and scn.fleet.partitions):
        problems.append(
            f"{path} {name!r} is an accelerator partition (MIG slices of "
            f"{catalog.partitions.at[name, 'parent']}): offered with a fleet section and "
            f"fleet.partitions: true"
        )


def _check_models(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    instances = list(catalog.hardware.index)
    precisions = list(catalog.precision.index)
    roles = list(scn.role_specs)
    for m in scn.models:
        path = f"models[{m.name}]"
        if (m.params_million is None) == (m.size_gb is None) and not (
            m.llm is not None and m.params_million is None
        ):
            problems.append(
                f"{path} must give exactly one of params_million or size_gb, got "
                f"{'both' if m.params_million is not None else 'neither'}"
            )
        _ref(
            m.checkpoint_precision,
            precisions,
            f"{path}.checkpoint_precision",
            "precision",
            problems,
        )
        if m.role is not None:
            _ref(m.role, roles, f"{path}.role", "role in people.roles", problems)
        for i, p in enumerate(m.profiles):
            _ref(p.instance, instances, f"{path}.profiles[{i}].instance", "instance", problems)
            _ref(p.precision, precisions, f"{path}.profiles[{i}].precision", "precision", problems)
            _offered_partition(scn, catalog, p.instance, f"{path}.profiles[{i}].instance", problems)
        for name in m.allowed_instances or []:
            _ref(name, instances, f"{path}.allowed_instances", "instance", problems)
            _offered_partition(scn, catalog, name, f"{path}.allowed_instances", problems)
        for name in m.allowed_precisions or []:
            _ref(name, precisions, f"{path}.allowed_precisions", "precision", problems)
        for name in m.quality_deltas:
            _ref(name, precisions, f"{path}.quality_deltas", "precision", problems)
        _check_llm(scn, m, catalog, problems)


LLM_PARAMS_MILLION = 1000.0  # dense parameters above which a model is taken for an LLM


def _accelerators(catalog: Catalog, instance: str) -> int:
    row = catalog.hardware.loc[instance]
    count = row.accel_count
    return 0 if row.compute_class == "cpu" or count != count else int(count)


def _check_llm(scn: Scenario, m: ModelSpec, catalog: Catalog, problems: list[str]) -> None:
    """An LLM states its tokens and shape; a large model that is none says so."""
    path = f"models[{m.name}]"
    if m.llm is None:
        if m.kind == "llm":
            problems.append(
                f"{path}.llm.input_tokens and {path}.llm.output_tokens are required for "
                "kind 'llm' (an LLM is costed in tokens), got no llm section"
            )
        elif "kind" not in m.model_fields_set and m.params_million is not None:
            dense = m.params_million - m.embedding_gb * 1e3 / 4.0
            if dense > LLM_PARAMS_MILLION:
                problems.append(
                    f"{path} has {m.params_million:,.0f} M parameters, which marks it as an "
                    f"LLM: give {path}.llm.input_tokens and {path}.llm.output_tokens (and its "
                    "architecture), or declare kind: model to cost it per request, got neither"
                )
        return
    llm = m.llm
    if m.kind != "llm":
        problems.append(f"{path}.kind must be 'llm' when an llm section is given, got {m.kind!r}")
    if (llm.architecture is None) == (llm.shape is None):
        problems.append(
            f"{path}.llm must give exactly one of architecture (a catalog row) or shape, got "
            f"{'both' if llm.shape is not None else 'neither'}"
        )
    if llm.architecture is not None and llm.architecture not in catalog.llm_architectures.index:
        _ref(
            llm.architecture,
            list(catalog.llm_architectures.index),
            f"{path}.llm.architecture",
            "LLM architecture",
            problems,
        )
    shape = llm.shape
    if shape is not None:
        if shape.heads % shape.kv_heads:
            problems.append(
                f"{path}.llm.shape.kv_heads must divide heads ({shape.heads}), got {shape.kv_heads}"
            )
        if (shape.experts == 0) != (shape.experts_per_token == 0) or (
            shape.experts_per_token > shape.experts
        ):
            problems.append(
                f"{path}.llm.shape.experts_per_token must be between 1 and experts "
                f"({shape.experts}) for a mixture of experts and 0 for a dense model, "
                f"got {shape.experts_per_token}"
            )
    for side in ("input_tokens", "output_tokens"):
        count = getattr(llm, side)
        given = [(q, getattr(count, q)) for q in ("p50", "p90", "p99") if getattr(count, q)]
        if any(a[1] > b[1] for a, b in itertools.pairwise(given)):
            problems.append(
                f"{path}.llm.{side} percentiles must not decrease (p50 <= p90 <= p99), "
                f"got {dict(given)}"
            )
    if "latency_slo_ms" not in m.model_fields_set and (
        llm.ttft_p99_ms is None or llm.tpot_p99_ms is None
    ):
        problems.append(
            f"{path}.latency_slo_ms (end-to-end p99) is required for an LLM unless both "
            f"llm.ttft_p99_ms and llm.tpot_p99_ms are given, got ttft_p99_ms="
            f"{llm.ttft_p99_ms}, tpot_p99_ms={llm.tpot_p99_ms}"
        )
    if llm.tensor_parallel:
        names = m.allowed_instances or usable_instances(scn, catalog)
        most = max(
            (_accelerators(catalog, n) for n in names if n in catalog.hardware.index), default=0
        )
        if min(llm.tensor_parallel) > most:
            problems.append(
                f"{path}.llm.tensor_parallel must not exceed the accelerators of every allowed "
                f"instance (at most {most}), got {llm.tensor_parallel}"
            )
    instances = list(catalog.hardware.index)
    for i, p in enumerate(llm.profiles):
        where = f"{path}.llm.profiles[{i}]"
        _ref(p.instance, instances, f"{where}.instance", "instance", problems)
        _ref(
            p.precision, list(catalog.precision.index), f"{where}.precision", "precision", problems
        )
        if p.instance in catalog.hardware.index and p.tensor_parallel > _accelerators(
            catalog, p.instance
        ):
            problems.append(
                f"{where}.tensor_parallel must be <= the {_accelerators(catalog, p.instance)} "
                f"accelerators of {p.instance}, got {p.tensor_parallel}"
            )
    if m.profiles:
        problems.append(
            f"{path}.profiles are per-request measurements; an LLM takes token profiles in "
            f"{path}.llm.profiles, got {len(m.profiles)} per-request profiles"
        )


def _check_fusion(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    models = [m.name for m in scn.models]
    for f in scn.fusion:
        path = f"fusion[{f.name}]"
        for member in f.members:
            _ref(member, models, f"{path}.members", "model", problems)
        if len(set(f.members)) != len(f.members):
            problems.append(f"{path}.members must not repeat a model, got {f.members}")
        if f.method == "single" and len(f.members) != 1:
            problems.append(
                f"{path}.members must have exactly 1 model for method 'single', "
                f"got {len(f.members)}"
            )
        if f.method == "weighted" and (f.weights is None or len(f.weights) != len(f.members)):
            problems.append(
                f"{path}.weights must give one weight per member for method "
                f"'weighted', got {f.weights}"
            )
        if f.stage_fractions is not None and len(f.stage_fractions) != len(f.members):
            problems.append(
                f"{path}.stage_fractions must give one fraction per member, got "
                f"{len(f.stage_fractions)} for {len(f.members)} members"
            )
        if f.stage_fractions is not None and f.method != "cascade":
            problems.append(
                f"{path}.stage_fractions only applies to method 'cascade', got method {f.method!r}"
            )
        if f.instance is not None:
            _ref(
                f.instance,
                usable_instances(scn, catalog),
                f"{path}.instance",
                f"instance priced {scn.catalog.pricing} in the selected regions",
                problems,
            )
        elif f.replicas:
            problems.append(f"{path}.instance is required when replicas > 0, got nothing")
        if f.role is not None:
            _ref(f.role, list(scn.role_specs), f"{path}.role", "role in people.roles", problems)


def _check_people(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    labor = list(catalog.labor.index)
    for name, role in scn.role_specs.items():
        path = f"people.roles[{name}]"
        if (role.day_rate is None) == (role.catalog is None):
            problems.append(
                f"{path} must give exactly one of day_rate or catalog, got "
                f"{'both' if role.day_rate is not None else 'neither'}"
            )
        if role.catalog is not None:
            _ref(role.catalog, labor, f"{path}.catalog", "labor catalog role", problems)
        if role.currency is not None and role.day_rate is None:
            problems.append(f"{path}.currency only applies with day_rate, got {role.currency!r}")
    if scn.people.training_role is not None:
        _ref(
            scn.people.training_role,
            list(scn.role_specs),
            "people.training_role",
            "role in people.roles",
            problems,
        )
    _unique(scn.people.automation_levels, "people.automation_levels", problems)


def _check_storage_and_limits(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    tiers = list(catalog.storage.index)
    for tier in scn.model_storage_tiers:
        _ref(tier, tiers, "model_storage_tiers", "storage tier", problems)
    for src in scn.data_sources:
        for tier in src.storage_tiers:
            _ref(tier, tiers, f"data_sources[{src.name}].storage_tiers", "storage tier", problems)
        if src.role is not None:
            _ref(
                src.role,
                list(scn.role_specs),
                f"data_sources[{src.name}].role",
                "role in people.roles",
                problems,
            )
    for name in scn.constraints.e2e_models or []:
        _ref(name, [m.name for m in scn.models], "constraints.e2e_models", "model", problems)
    if scn.constraints.e2e_models is not None and scn.constraints.e2e_latency_ms is None:
        problems.append(
            "constraints.e2e_models names the models an end-to-end limit covers: it needs "
            "constraints.e2e_latency_ms"
        )
    for name in scn.constraints.quotas:
        _ref(name, list(catalog.hardware.index), "constraints.quotas", "instance", problems)
    for name in scn.constraints.owned_storage_gb:
        _ref(name, tiers, "constraints.owned_storage_gb", "storage tier", problems)
    known_regions = sorted(set(catalog.hardware.region.dropna()))
    for region in scn.catalog.regions or []:
        _ref(region, known_regions, "catalog.regions", "hardware region", problems)
    _check_storage_regions(scn, catalog, problems)
    _check_durable_tiers(scn, catalog, problems)
    usable = usable_instances(scn, catalog)
    if scn.catalog.calibration_instance is not None:
        _ref(
            scn.catalog.calibration_instance,
            usable,
            "catalog.calibration_instance",
            f"instance priced {scn.catalog.pricing} in the selected regions",
            problems,
        )
    elif not usable:
        problems.append("catalog: no instance is priced in the selected regions")
    for name in scn.options.file_compressions:
        _ref(
            name,
            list(catalog.compression.index),
            "options.file_compressions",
            "file compression",
            problems,
        )
    if max(scn.options.backups) < max(m.min_backups for m in scn.models):
        problems.append(
            f"options.backups must include a count >= every model's min_backups "
            f"({max(m.min_backups for m in scn.models)}), got {scn.options.backups}"
        )
    mean = scn.workload.mean_qps
    if scn.workload.peak_qps is not None and scn.workload.peak_qps < mean:
        problems.append(
            f"workload.peak_qps must be >= the mean rate queries_per_day / 86400 "
            f"= {mean:.6g}, got {scn.workload.peak_qps}"
        )
    if scn.workload.hourly_profile is not None and sum(scn.workload.hourly_profile) <= 0:
        problems.append("workload.hourly_profile must have a positive sum, got all zeros")


def _check_pricing(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    """``catalog.pricing`` buys each instance under that plan where it has a price, else on
    demand; a plan priced on no usable instance would be on demand throughout: an error."""
    plan = scn.catalog.pricing
    column = PRICING_COLUMNS[plan]
    usable = usable_instances(scn, catalog)
    if plan != "on_demand" and usable and not catalog.hardware.loc[usable, column].notna().any():
        problems.append(
            f"catalog.pricing {plan!r} needs {column} on some usable instance type (give it on "
            f"catalog.hardware rows), got none priced"
        )


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA zones this machine knows (read from disk once: ~40 ms a call)."""
    return frozenset(zoneinfo.available_timezones())


def _check_fleet(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    days = scn.workload.day_types
    _unique(days, "workload.day_types", problems)
    pooled = [m.name for m in scn.models if m.pool is not None]
    if scn.fleet is None:
        if days:
            problems.append(
                f"workload.day_types is used by the fleet optimiser only: add a 'fleet' "
                f"section, got {len(days)} day types without one"
            )
        if pooled:
            problems.append(
                f"models[{pooled[0]}].pool is used by the fleet optimiser only: add a "
                f"'fleet' section, got pool {scn.model(pooled[0]).pool!r} without one"
            )
        return
    zones = _time_zones()
    if zones and scn.fleet.timezone not in zones | {"UTC"}:
        problems.append(
            f"fleet.timezone must be an IANA time zone such as 'Asia/Shanghai', "
            f"got {scn.fleet.timezone!r}"
        )
    total = sum(d.days for d in days)
    if days and abs(total - DAYS_PER_YEAR) > 1e-6:
        problems.append(
            f"workload.day_types: days must sum to the year ({DAYS_PER_YEAR:g}), got {total:g}"
        )
    usable = usable_instances(scn, catalog)
    runnable: set[str] = set()
    for m in scn.models:
        mine = set(usable if m.allowed_instances is None else m.allowed_instances)
        if m.profiles and not scn.options.estimate_unprofiled:
            mine &= {p.instance for p in m.profiles}
        runnable |= mine & set(usable)
    hw = catalog.hardware.loc[sorted(runnable)]
    for plan in dict.fromkeys(scn.fleet.plans):
        if not hw[PRICING_COLUMNS[plan]].notna().any():
            problems.append(
                f"fleet.plans: plan {plan!r} needs {PRICING_COLUMNS[plan]} on an instance "
                f"type some model can run on ({', '.join(sorted(runnable)[:5]) or 'none'}), "
                "got none priced"
            )
    if len(set(scn.fleet.plans)) < len(scn.fleet.plans):
        problems.append(f"fleet.plans must not repeat a plan, got {scn.fleet.plans}")


def check_deployment(scn: Scenario, dep: DeploymentSpec, prefix: str = "deployment") -> list[str]:
    """Cross-check a deployment against its scenario; returns the problems found."""
    catalog = scn.resolved_catalog
    problems: list[str] = []
    fusions = {f.name: f for f in scn.fusion_configs}
    fusion_name = dep.fusion or next(iter(fusions))
    if fusion_name not in fusions:
        _ref(fusion_name, list(fusions), f"{prefix}.fusion", "fusion configuration", problems)
        return problems
    members = fusions[fusion_name].members
    member_set = set(members)
    priced = usable_instances(scn, catalog)
    for name in dep.models:
        if name not in member_set:
            where = f"{prefix}.models[{name}]"
            if name in [m.name for m in scn.models]:
                problems.append(
                    f"{where} must be a member of fusion {fusion_name!r} "
                    f"({', '.join(members)}), got a non-member"
                )
            else:
                _ref(name, [m.name for m in scn.models], f"{prefix}.models", "model", problems)
    for name in members:
        if name not in dep.models:
            problems.append(
                f"{prefix}.models[{name}] is required (member of fusion {fusion_name!r})"
            )
            continue
        choice = dep.models[name]
        spec = scn.model(name)
        where = f"{prefix}.models[{name}]"
        _ref(
            choice.instance,
            priced,
            f"{where}.instance",
            f"instance priced {scn.catalog.pricing} in the selected regions",
            problems,
        )
        if choice.precision is not None:
            _ref(
                choice.precision,
                list(catalog.precision.index),
                f"{where}.precision",
                "precision",
                problems,
            )
        if choice.tier is not None:
            _ref(
                choice.tier,
                scn.model_storage_tiers,
                f"{where}.tier",
                "tier in model_storage_tiers",
                problems,
            )
        _ref(
            choice.compression,
            list(catalog.compression.index),
            f"{where}.compression",
            "file compression",
            problems,
        )
        if choice.replicas < spec.min_replicas:
            problems.append(
                f"{where}.replicas must be >= min_replicas ({spec.min_replicas}), "
                f"got {choice.replicas}"
            )
        if choice.autoscale and choice.capacity_qps is None:
            problems.append(f"{where}.capacity_qps is required when autoscale is true")
        if choice.tensor_parallel > 1 and choice.instance in catalog.hardware.index:
            accelerators = _accelerators(catalog, choice.instance)
            if choice.tensor_parallel > accelerators:
                problems.append(
                    f"{where}.tensor_parallel must be <= the {accelerators} accelerators of "
                    f"{choice.instance}, got {choice.tensor_parallel}"
                )
            if not spec.is_llm:
                problems.append(
                    f"{where}.tensor_parallel applies to LLM models only, got "
                    f"{choice.tensor_parallel}"
                )
    sources = {s.name: s for s in scn.data_sources}
    for name, tier in dep.data_tiers.items():
        if name not in sources:
            _ref(name, list(sources), f"{prefix}.data_tiers", "data source", problems)
        else:
            _ref(
                tier,
                sources[name].storage_tiers,
                f"{prefix}.data_tiers[{name}]",
                "tier allowed for this source",
                problems,
            )
    levels = [a.name for a in scn.people.automation_levels]
    if dep.automation is not None:
        _ref(dep.automation, levels, f"{prefix}.automation", "automation level", problems)
    return problems


def _has_value(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def _check_catalog_values(scn: Scenario, catalog: Catalog, problems: list[str]) -> None:
    accelerators = list(catalog.accelerators.index)
    for name, row in catalog.hardware.iterrows():
        if _has_value(row.get("accelerator")) and row["accelerator"] not in accelerators:
            problems.append(
                f"catalog.hardware[{name}].accelerator must name a known "
                f"accelerator{_suggest(str(row['accelerator']), accelerators)}, "
                f"got {row['accelerator']!r}"
            )


# ---------------------------------------------------------------------------------------
# entry points


def validate_scenario(raw: Any, source: str = "scenario") -> Scenario:
    """Validate a parsed scenario mapping in one pass; raise ScenarioError listing every problem."""
    if not isinstance(raw, dict):
        raise ScenarioError([f"top level must be a mapping, got {_got(raw)}"], source)
    try:
        scn = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, raw, Scenario, ""), source) from None
    return cross_check(scn, source)


def cross_check(scn: Scenario, source: str = "scenario") -> Scenario:
    """The checks that span fields (unique names, references, catalog rows, currencies,
    the baseline deployment), all at once; resolves the catalog. Raises ScenarioError."""
    problems: list[str] = []
    _unique(scn.models, "models", problems)
    _unique(scn.data_sources, "data_sources", problems)
    _unique(scn.fusion, "fusion", problems)
    catalog = _apply_overrides(scn, problems)
    scn._catalog = catalog
    _check_catalog_values(scn, catalog, problems)
    _check_currencies(scn, catalog, problems)
    _check_models(scn, catalog, problems)
    _check_fusion(scn, catalog, problems)
    _check_people(scn, catalog, problems)
    _check_storage_and_limits(scn, catalog, problems)
    _check_fleet(scn, catalog, problems)
    _check_pricing(scn, catalog, problems)
    if scn.baseline_deployment is not None and not problems:
        problems += check_deployment(scn, scn.baseline_deployment, "baseline_deployment")
    if problems:
        scn._catalog = None  # an invalid scenario is never used
        raise ScenarioError(problems, source)
    return scn


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file (bounded: see ``scenario.yamlfile``); each
    problem names the file, line and column of its field."""
    text = read_input(path)
    raw = parse_yaml(text, str(path))
    try:
        return validate_scenario(raw, str(path))
    except ScenarioError as exc:
        raise ScenarioError(with_locations(exc.problems, text, str(path)), exc.source) from None


def as_scenario(scenario: str | Path | Mapping[str, Any] | Scenario) -> Scenario:
    """A validated scenario from a YAML path, a parsed mapping or a ``Scenario`` (one built
    with ``Scenario.model_validate`` is cross-checked here); raises ``ScenarioError``."""
    if isinstance(scenario, Scenario):
        scenario.resolved_catalog  # noqa: B018 - cross-checks a scenario built without it
        return scenario
    if isinstance(scenario, Mapping):
        return validate_scenario(dict(scenario))
    if isinstance(scenario, str | Path):
        return load_scenario(scenario)
    raise ScenarioError(
        [f"scenario must be a path, a mapping or a Scenario, got {type(scenario).__name__}"]
    )


def validate_deployment(scn: Scenario, raw: Any, source: str = "deployment") -> DeploymentSpec:
    """A deployment file (or mapping): a deployment as ``DeploymentSpec`` states it, or an
    export's ``recommended.yaml`` (``scenario.exported``)."""
    if is_export(raw):
        if "pools" in raw:
            raise ScenarioError(
                [
                    "this is a fleet's recommended.yaml (it has pools): a fleet is costed by "
                    "solving its scenario (deploycost solve); evaluate and diff take one "
                    "deployment per model"
                ],
                source,
            )
        raw = deployment_of(raw)
    if not isinstance(raw, dict):
        raise ScenarioError([f"top level must be a mapping, got {_got(raw)}"], source)
    try:
        dep = DeploymentSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, raw, DeploymentSpec, ""), source) from None
    problems = check_deployment(scn, dep, "deployment")
    if problems:
        raise ScenarioError(problems, source)
    return dep


def load_deployment(scn: Scenario, path: str | Path) -> DeploymentSpec:
    text = read_input(path)
    raw = parse_yaml(text, str(path))
    try:
        return validate_deployment(scn, raw, str(path))
    except ScenarioError as exc:
        raise ScenarioError(with_locations(exc.problems, text, str(path)), exc.source) from None


def scenario_json_schema() -> dict:
    """JSON Schema of scenario files, for editors and generated docs: every property with
    its description and unit (``scenario.field_docs``)."""
    from deploycost.scenario.field_docs import annotate

    return annotate(Scenario.model_json_schema())
