"""What every field of a scenario file means, and its unit: shown in the JSON Schema
(``description``, ``x-unit``) and in the generated reference (``docs/scenario-format.md``).
A test checks that every field has a description and every number a unit."""

from __future__ import annotations

CUR = "currency"  # money in the scenario currency (a catalog row: its own)


def provenance(dated: str) -> dict[str, tuple[str, None]]:
    """The fields every catalog row ends with: its date, source and caveats."""
    return {
        "as_of": (f"Date of the {dated}", None),
        "source": ("Where the row comes from", None),
        "note": ("Caveats", None),
    }


# model name -> field -> (description, unit or None)
FIELD_DOCS: dict[str, dict[str, tuple[str, str | None]]] = {
    "Scenario": {
        "name": (
            "Name of the scenario; shown in outputs, mapped to the Kubernetes namespace",
            None,
        ),
        "description": ("Free text about the scenario", None),
        "currency": ("ISO 4217 code every result is reported in", None),
        "reporting_period": ("Period of the headline cost", None),
        "exchange_rates": (
            "Units of the scenario currency per unit of another currency",
            f"{CUR} per unit",
        ),
        "workload": ("Traffic: daily volume, peak, 24-hour profile, day types", None),
        "models": ("The models to deploy", None),
        "model_storage_tiers": ("Storage tiers model artifacts may be kept on", None),
        "data_sources": ("Training and serving data: acquisition, storage, cleaning", None),
        "people": ("Roles, day rates, training, automation levels", None),
        "fusion": (
            "Fusion configurations: sets of models and how outputs combine "
            "(default: all models, averaged)",
            None,
        ),
        "constraints": ("Limits every deployment must meet", None),
        "catalog": ("Pricing model, regions and catalog rows added or changed", None),
        "options": ("How options are enumerated and how performance is estimated", None),
        "fleet": (
            "Fleet decisions (split load, shared pools, purchase plans, day types); "
            "absent: one instance type per model",
            None,
        ),
        "baseline_deployment": ("Today's deployment, for evaluate, diff and the report", None),
    },
    "Workload": {
        "queries_per_day": ("User queries per day", "queries/day"),
        "peak_qps": ("Peak user queries per second (default: mean x peak_to_mean)", "queries/s"),
        "peak_to_mean": ("Peak rate over the daily mean rate, when peak_qps is not given", "ratio"),
        "hourly_profile": (
            "24 relative traffic weights, hour 0 first (default: flat)",
            "relative weight",
        ),
        "day_types": (
            "Kinds of day for a fleet (days a year, peak, profile); days sum to 365",
            None,
        ),
    },
    "DayType": {
        "name": ("Name of the day type (normal, festival, ...)", None),
        "days": ("Days a year of this type", "days/year"),
        "peak_qps": ("Peak user queries per second on these days", "queries/s"),
        "hourly_profile": (
            "24 relative weights; the largest hour runs at peak_qps (default: flat)",
            "relative weight",
        ),
    },
    "ModelSpec": {
        "name": ("Model name (a DNS label: used for Kubernetes objects)", None),
        "kind": ("model, or llm for a generative model served in tokens", None),
        "llm": ("Token workload, architecture and limits of an LLM", None),
        "params_million": ("Parameters", "million parameters"),
        "size_gb": ("Checkpoint size at checkpoint_precision (instead of params_million)", "GB"),
        "checkpoint_precision": (
            "Precision the checkpoint is stored in (catalog precision row)",
            None,
        ),
        "embedding_gb": (
            "Embedding tables (may be split between accelerator and host memory)",
            "GB",
        ),
        "gflops_per_query": ("Compute per request, for the roofline estimate", "GFLOP/request"),
        "mb_per_query": (
            "Bytes read per request beyond the weights, for the roofline estimate",
            "MB/request",
        ),
        "profiles": ("Measured operating points (instance, precision, batch)", None),
        "traffic_share": ("Share of user queries that reach this model", "fraction"),
        "requests_per_query": (
            "Model requests per query that reaches it (fan-out)",
            "requests/query",
        ),
        "stage": ("Pipeline stage for end-to-end latency (same stage: parallel)", None),
        "latency_slo_ms": ("p99 latency limit per request (an LLM: end to end)", "ms"),
        "quality": ("Quality score of the model alone (for fusion quality floors)", "score"),
        "min_replicas": ("Fewest replicas ever run", "replicas"),
        "maintenance_person_days_per_month": ("Maintenance work", "person-days/month"),
        "role": ("Role in people.roles that maintains it (default: the first role)", None),
        "retrains_per_month": ("Retrains (new artifact versions) per month", "retrains/month"),
        "min_backups": ("Fewest backup copies of the artifact", "copies"),
        "versions_kept": ("Artifact versions kept in storage", "versions"),
        "compression_effort": ("Work to quantise it, repeated at every retrain", None),
        "allowed_instances": ("Instance types it may run on (default: all usable)", None),
        "allowed_precisions": ("Precisions it may run at (default: all its kind allows)", None),
        "image": (
            "Container image for the manifests (export --image overrides; with none, export "
            "refuses unless --template)",
            None,
        ),
        "pool": ("Fleet pool: models naming one pool share instances", None),
        "dispatch": ("How requests reach its replicas (default: options.dispatch)", None),
        "quality_deltas": (
            "Quality change per precision measured on this model (default: the catalog's)",
            "fraction",
        ),
    },
    "Profile": {
        "instance": ("Instance type measured", None),
        "precision": ("Precision measured", None),
        "batch": ("Batch size measured", "requests/batch"),
        "throughput_qps": ("Measured throughput of one replica", "requests/s"),
        "latency_ms": ("Measured latency of a batch", "ms"),
        "p99_bound_ms": ("p99 the throughput was measured under (a capacity at that bound)", "ms"),
        "source": ("Where the measurement comes from", None),
    },
    "CompressionEffort": {
        "person_days_per_retrain": (
            "Engineering work to quantise one version",
            "person-days/retrain",
        ),
        "calibration_gpu_hours_per_retrain": (
            "Calibration compute per version, on catalog.calibration_instance",
            "instance-hours/retrain",
        ),
    },
    "LlmSpec": {
        "architecture": ("Row of the llm_architectures catalog (or give shape)", None),
        "shape": ("The decoder's shape, as in its config.json", None),
        "input_tokens": ("Prompt tokens per request", None),
        "output_tokens": ("Generated tokens per request", None),
        "prefix_cache_hit_rate": ("Share of prompt tokens served from a prefix cache", "fraction"),
        "ttft_p99_ms": ("p99 time to first token limit", "ms"),
        "tpot_p99_ms": ("p99 time per output token limit", "ms"),
        "tensor_parallel": ("Tensor-parallel degrees allowed (default: 1, 2, 4, 8)", None),
        "profiles": ("Measured token profiles that calibrate the estimate", None),
    },
    "TokenCount": {
        "mean": ("Mean tokens per request", "tokens"),
        "p50": ("Median tokens per request", "tokens"),
        "p90": ("90th percentile tokens per request", "tokens"),
        "p99": ("99th percentile tokens per request (sizes end-to-end latency)", "tokens"),
    },
    "LlmShape": {
        "layers": ("Decoder layers", "layers"),
        "hidden": ("Model width", "dimensions"),
        "heads": ("Attention heads", "heads"),
        "kv_heads": ("Key/value heads (grouped-query attention)", "heads"),
        "head_dim": ("Width of one head", "dimensions"),
        "vocab": ("Vocabulary size", "tokens"),
        "intermediate": ("Feed-forward width", "dimensions"),
        "experts": ("Experts of a mixture-of-experts layer (0: dense)", "experts"),
        "experts_per_token": ("Experts each token uses", "experts"),
        "ffn_matrices": ("Feed-forward matrices: 3 gated (SwiGLU), 2 plain MLP", "matrices"),
    },
    "TokenProfile": {
        "instance": ("Instance type measured", None),
        "precision": ("Precision measured", None),
        "tensor_parallel": ("Accelerators per engine", "accelerators"),
        "concurrency": ("Sequences served at once by the engine", "sequences"),
        "input_tokens": ("Mean prompt tokens of the measurement", "tokens"),
        "output_tokens": ("Mean generated tokens of the measurement", "tokens"),
        "output_tokens_per_s": ("Measured generation throughput of one engine", "tokens/s"),
        "tpot_ms": ("Measured time per output token", "ms"),
        "ttft_ms": ("Measured time to first token", "ms"),
        "source": ("Where the measurement comes from", None),
    },
    "DataSource": {
        "name": ("Name of the data source", None),
        "gb_per_day": ("Data acquired per day", "GB/day"),
        "acquisition_price_per_gb": ("Price of acquiring data", f"{CUR}/GB"),
        "usable_fraction": ("Share of acquired data kept after cleaning", "fraction"),
        "retention_days": ("Days data is kept", "days"),
        "cleaning_price_per_gb": ("Price of cleaning", f"{CUR}/GB"),
        "labelling_person_days_per_month": ("Labelling work", "person-days/month"),
        "role": ("Role in people.roles that labels (default: the first role)", None),
        "read_gb_per_day": ("Data read back per day (retrieval fees)", "GB/day"),
        "storage_tiers": ("Storage tiers it may be kept on", None),
    },
    "RoleSpec": {
        "day_rate": ("Cost of one person-day", f"{CUR}/person-day"),
        "currency": ("Currency of day_rate (default: the scenario's)", None),
        "catalog": ("Row of the labor catalog to take the day rate from", None),
        "source": ("Where the day rate comes from", None),
    },
    "AutomationLevel": {
        "name": ("Name of the automation level", None),
        "fixed_cost_per_month": ("What the level costs to run", f"{CUR}/month"),
        "person_day_multiplier": ("Factor on maintenance person-days", "ratio"),
    },
    "People": {
        "roles": ("Roles by name, each with a day rate", None),
        "training_person_days_per_month": ("Training work", "person-days/month"),
        "training_role": ("Role that trains (default: the first role)", None),
        "automation_levels": ("Automation levels to choose from", None),
    },
    "FusionConfig": {
        "name": ("Name of the fusion configuration", None),
        "members": ("Models it runs", None),
        "method": ("How outputs combine (cascade: stages run in turn)", None),
        "weights": ("Weights of the members (weighted fusion)", "relative weight"),
        "stage_fractions": ("Share of requests that reach each member (cascade)", "fraction"),
        "quality": ("Quality of the configuration (default: its best member's)", "score"),
        "complexity": ("Fusion complexity F of the founding document", "fraction"),
        "unit_cost_per_day": ("Cost per day per unit of complexity", f"{CUR}/day"),
        "maintenance_person_days_per_month": (
            "Maintenance work of the fusion layer",
            "person-days/month",
        ),
        "role": ("Role that maintains the fusion layer", None),
        "instance": ("Instance type that runs the fusion layer", None),
        "replicas": ("Replicas of the fusion layer", "replicas"),
    },
    "Constraints": {
        "quality_floor": ("Lowest quality of the chosen configuration", "score"),
        "e2e_latency_ms": ("p99 end-to-end latency limit over the pipeline stages", "ms"),
        "e2e_models": (
            "Models in the pipeline the end-to-end limit covers (default: every member of "
            "the chosen fusion configuration); a model beside the pipeline is left out",
            None,
        ),
        "quotas": ("Most instances of a type", "instances"),
        "budget_per_day": ("Most the deployment may cost", f"{CUR}/day"),
        "utilisation_max": ("Highest peak utilisation of a replica", "fraction"),
        "max_cold_start_s": ("Longest artifact load when a replica starts", "s"),
        "owned_storage_gb": ("Capacity of owned storage tiers (no price, a limit)", "GB"),
    },
    "HardwareRow": {
        "name": ("Row name (catalog key)", None),
        "instance_type": ("Value of the node label node.kubernetes.io/instance-type", None),
        "provider": ("Cloud provider", None),
        "region": ("Provider region", None),
        "compute_class": ("cpu, gpu or accelerator", None),
        "accelerator": ("Row of the accelerators catalog", None),
        "accel_count": ("Accelerators per instance", "devices"),
        "accel_mem_gb": ("Memory of one accelerator", "GB"),
        "vcpus": ("Virtual CPUs", "vCPUs"),
        "memory_gib": ("Host memory", "GiB"),
        "currency": ("Currency of the prices", None),
        "price_on_demand_per_hour": ("On-demand price", "currency/instance-hour"),
        "price_reserved_1yr_per_hour": (
            "One-year reserved price, per hour of the term",
            "currency/instance-hour",
        ),
        "price_reserved_3yr_per_hour": (
            "Three-year reserved price, per hour of the term (the shipped catalog has none)",
            "currency/instance-hour",
        ),
        "price_spot_per_hour": ("Spot price", "currency/instance-hour"),
        **provenance("price"),
    },
    "StorageRow": {
        "tier": ("Tier name (catalog key)", None),
        "provider": ("Cloud provider (on-prem: none)", None),
        "region": ("Provider region", None),
        "kind": ("object, block, ...", None),
        "currency": ("Currency of the prices", None),
        "price_per_gb_month": ("Storage price", "currency/GB-month"),
        "retrieval_per_gb": ("Retrieval price", "currency/GB"),
        "min_storage_days": ("Minimum storage duration billed", "days"),
        "read_mb_s": ("Read throughput of one client stream", "MB/s"),
        "first_byte_s": ("Latency to the first byte", "s"),
        **provenance("price"),
    },
    "PrecisionRow": {
        "precision": ("Precision name (catalog key)", None),
        "bytes_per_param": ("Bytes per weight", "bytes/parameter"),
        "compute_dtype": ("Accelerator datatype the math runs in", None),
        "quality_delta_rel": ("Relative quality change against the checkpoint", "fraction"),
        "measured_speedup_vs_fp16": ("Measured speed-up over fp16", "ratio"),
        **provenance("figure"),
    },
    "CompressionRow": {
        "compression": ("File compression name (catalog key)", None),
        "size_factor": ("Compressed over original size, every weight width", "ratio"),
        "size_factor_32bit": ("Compressed over original size of 32-bit weights", "ratio"),
        "size_factor_16bit": ("Compressed over original size of 16-bit weights", "ratio"),
        "size_factor_8bit": ("Compressed over original size of 8-bit weights", "ratio"),
        "size_factor_4bit": ("Compressed over original size of 4-bit weights", "ratio"),
        "decompress_mb_s": ("Decompression speed", "MB/s"),
        **provenance("figure"),
    },
    "CatalogOverrides": {
        "pricing": ("Price plan of every instance (a fleet: fleet.plans per type)", None),
        "regions": (
            "Provider regions instances and storage come from "
            "(default: us-east-1 when USD, else every region)",
            None,
        ),
        "calibration_instance": ("Instance type that prices calibration GPU-hours", None),
        "hardware": ("Hardware rows added or changed", None),
        "storage": ("Storage rows added or changed", None),
        "precision": ("Precision rows added or changed", None),
        "compression": ("File compression rows added or changed", None),
    },
    "OptionSettings": {
        "batch_sizes": ("Batch sizes tried", "requests/batch"),
        "extra_replicas": ("Replicas tried above the utilisation minimum", "replicas"),
        "max_replicas": ("Most replicas of a model", "replicas"),
        "backups": ("Backup counts tried", "copies"),
        "file_compressions": ("File compressions tried", None),
        "roofline_efficiency": (
            "Share of peak compute and bandwidth a roofline estimate gets",
            "fraction",
        ),
        "overhead_ms": ("Fixed time per batch added to a roofline estimate", "ms"),
        "memory_usable_fraction": ("Share of accelerator memory the weights may use", "fraction"),
        "host_reserve_gb": ("Host memory kept for the system", "GB"),
        "estimate_unprofiled": ("Estimate instances a profiled model has no profile for", None),
        "autoscale": ("Replicas follow the hourly profile (billed per hour run)", None),
        "llm_concurrency": ("Sequences per engine tried for LLMs", "sequences"),
        "llm_compute_efficiency": ("Share of peak compute an LLM estimate gets", "fraction"),
        "llm_memory_efficiency": ("Share of memory bandwidth an LLM estimate gets", "fraction"),
        "llm_step_overhead_ms": ("Fixed time per decode step", "ms"),
        "llm_allreduce_latency_us": ("Latency of one all-reduce between accelerators", "us"),
        "kv_cache_memory_fraction": (
            "Share of memory left by the weights the KV cache may use",
            "fraction",
        ),
        "dispatch": ("How requests reach replicas (the queueing model follows it)", None),
        "service_cv": (
            "Coefficient of variation of service times (lognormal; 0: fixed)",
            "ratio",
        ),
        "max_queue_delay_ms": (
            "A batcher's longest wait for a batch to fill (default: none)",
            "ms",
        ),
        "latency_every_hour": (
            "Check latency at every hour of the profile, not only the peak",
            None,
        ),
        "image_pull_s": (
            "Container image pull of a new replica (default ESTIMATE: ~5-10 GB at ~150-250 MB/s)",
            "s",
        ),
        "runtime_init_s": (
            "Server and device runtime start, weights onto the devices (default ESTIMATE)",
            "s",
        ),
    },
    "Fleet": {
        "plans": ("Purchase plans allowed per instance type", None),
        "max_types_per_model": ("Most instance types behind one model", "types"),
        "min_share": ("Smallest share of a model's load on a type it uses", "fraction"),
        "spot_interruption_fraction": (
            "Share of spot capacity that may be gone at once; the SLO must hold without it",
            "fraction",
        ),
        "scale_up_lag_min": ("Time an added instance needs before it serves", "min"),
        "partitions": (
            "Offer the catalog's accelerator partitions (MIG slices; the nodes need the GPU "
            "operator's MIG manager)",
            None,
        ),
        "timezone": (
            "IANA time zone of the hourly profiles: the clock of the exported schedules",
            None,
        ),
    },
    "DeploymentSpec": {
        "models": ("The deployment of each model of the fusion configuration", None),
        "fusion": ("Fusion configuration (default: the first)", None),
        "data_tiers": ("Storage tier of each data source", None),
        "automation": ("Automation level", None),
    },
    "ModelChoice": {
        "instance": ("Instance type", None),
        "replicas": ("Replicas at the peak", "replicas"),
        "precision": ("Precision (default: the checkpoint's)", None),
        "batch": ("Batch size (an LLM: sequences per engine)", "requests/batch"),
        "tier": ("Storage tier of the artifact", None),
        "backups": ("Backup copies of the artifact", "copies"),
        "compression": ("File compression of the artifact", None),
        "autoscale": ("Replicas follow the hourly profile", None),
        "capacity_qps": ("Per-replica capacity the autoscaler sizes by", "requests/s"),
        "tensor_parallel": ("Accelerators per LLM engine", "accelerators"),
    },
}


def annotate(schema: dict) -> dict:
    """Add ``description`` and ``x-unit`` to every documented property of the JSON Schema
    (in place; returned for chaining)."""
    defs = schema.get("$defs", {})
    for name, node in [("Scenario", schema), *defs.items()]:
        docs = FIELD_DOCS.get(name, {})
        for field, prop in node.get("properties", {}).items():
            if field in docs:
                text, unit = docs[field]
                prop["description"] = text
                if unit:
                    prop["x-unit"] = unit
    return schema
