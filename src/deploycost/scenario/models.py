"""The parts of a scenario file as pydantic models: workload, models, data, people, fusion,
constraints, catalog rows and overrides, options, the fleet section and deployments, with
the bounds of every field (``scenario.schema.Scenario`` holds them together)."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

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
# traffic: at least one request in ~11 days (a denormal rate underflows in the sizing)
Rate = Annotated[float, Field(ge=1e-6, le=BIG)]
# a ceiling under 1 % would size a million replicas per request/s
Ceiling = Annotated[float, Field(ge=0.01, le=1)]
Tokens = Annotated[float, Field(ge=1, le=10_000_000)]  # a request holds at least one token
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Workload(Strict):
    """Traffic: daily volume and its peak."""

    queries_per_day: Annotated[float, Field(ge=1, le=BIG)] = 1_000_000.0
    peak_qps: Rate | None = None
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
    peak_qps: Rate
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

    mean: Tokens
    p50: Tokens | None = None
    p90: Tokens | None = None
    p99: Tokens | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TokenCount:
        """Percentiles rise (p50 <= p90 <= p99), and the p99, the figure a request's
        latency is sized at, is no less than the mean (a tail below the mean would size
        every request shorter than the average one)."""
        given = [
            (n, v)
            for n, v in (("p50", self.p50), ("p90", self.p90), ("p99", self.p99))
            if v is not None
        ]
        for (low, a), (high, b) in zip(given, given[1:], strict=False):
            if a > b:
                raise ValueError(f"{low} ({a:g}) must not exceed {high} ({b:g})")
        if self.p99 is not None and self.p99 < self.mean:
            raise ValueError(f"p99 ({self.p99:g}) must be at least the mean ({self.mean:g})")
        return self

    @property
    def tail(self) -> float:
        """The p99 where given, else the mean (the figure end-to-end latency is sized at)."""
        return self.p99 if self.p99 is not None else self.mean

    @property
    def log_sigma(self) -> float:
        """The sigma of the lognormal with this mean through the highest percentile given
        (p99, else p90, else p50); 0 with the mean alone. From ``ln v = mu + z s`` and
        ``ln mean = mu + s^2 / 2``: the smaller root, within reach."""
        known = [(q, v) for q, v in ((0.99, self.p99), (0.9, self.p90), (0.5, self.p50)) if v]
        if not known:
            return 0.0
        q, value = known[0]
        z, ratio = NormalDist().inv_cdf(q), math.log(value / self.mean)
        if z == 0.0:
            return math.sqrt(max(0.0, -2.0 * ratio))
        return max(0.0, z - math.sqrt(max(0.0, z * z - 2.0 * ratio)))


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
    utilisation_max: Ceiling = 0.8
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
    # The largest service-time CV implied by 90 published MLPerf Inference v5.x LLM
    # Server/Interactive results (TPOT p99 / mean as a lognormal: median 0.08, max 0.33;
    # github.com/mlcommons/inference_results_v5.0, v5.1), rounded up: one default for the
    # analytic p99 and for simulation
    service_cv: Annotated[float, Field(ge=0, le=10)] = 0.35
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
