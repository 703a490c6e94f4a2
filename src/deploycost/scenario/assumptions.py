"""What an answer rests on besides the scenario's own figures: defaults it did not state,
and catalog rows marked ESTIMATE. Listed in every output; ``solve --strict`` refuses an
answer that rests on any (with the estimates of ``optimize.solve``)."""

from __future__ import annotations

from deploycost.catalog import width_class
from deploycost.scenario.schema import DeploymentSpec, Scenario


def stated_defaults(scn: Scenario) -> list[str]:
    """Inputs the file leaves to a default that move the answer."""
    out = []
    if "currency" not in scn.model_fields_set:
        out.append(f"currency: {scn.currency} (default; state `currency`)")
    wl = scn.workload
    given = wl.model_fields_set
    if "queries_per_day" not in given:
        out.append(f"workload.queries_per_day: {wl.queries_per_day:,.0f} (default)")
    if "peak_qps" not in given and "peak_to_mean" not in given and not wl.day_types:
        out.append(
            f"workload peak: {wl.peak_to_mean:g} x the mean rate, "
            f"{wl.peak_qps_resolved:,.1f} queries/s (default peak_to_mean)"
        )
    if wl.hourly_profile is None and (scn.options.autoscale or scn.options.latency_every_hour):
        out.append("workload.hourly_profile: flat over the 24 hours (default)")
    if scn.catalog.regions is None and scn.regions is not None:
        out.append(f"catalog.regions: {', '.join(scn.regions)} (the default for {scn.currency})")
    if scn.catalog.calibration_instance is None and any(
        m.compression_effort.calibration_gpu_hours_per_retrain > 0 for m in scn.models
    ):
        out.append(
            f"catalog.calibration_instance: {scn.calibration_instance} (default; prices the "
            f"calibration GPU-hours of quantisation)"
        )
    for model in scn.models:
        stated = model.model_fields_set
        llm_limits = model.is_llm and model.llm.ttft_p99_ms and model.llm.tpot_p99_ms
        if "latency_slo_ms" not in stated and not llm_limits:
            out.append(f"{model.name}: latency_slo_ms {model.latency_slo_ms:g} ms (default)")
        if "retrains_per_month" not in stated:
            out.append(f"{model.name}: retrains_per_month {model.retrains_per_month:g} (default)")
    return out


def used_catalog_rows(scn: Scenario, spec: DeploymentSpec) -> dict[str, list[str]]:
    """Per catalog table, the rows a deployment uses (its instances, the fusion layer's
    included; artifact and data tiers; precisions; file compressions), sorted."""
    models = spec.models.values()
    fusion = {f.instance for f in scn.fusion_configs if f.name == spec.fusion and f.instance}
    used = {
        "hardware": {c.instance for c in models} | fusion,
        "storage": {c.tier for c in models} | set(spec.data_tiers.values()),
        "precision": {c.precision for c in models},
        "compression": {c.compression for c in models},
    }
    return {kind: sorted(r for r in rows if r is not None) for kind, rows in used.items()}


def catalog_estimates(scn: Scenario, spec: DeploymentSpec) -> list[str]:
    """Catalog rows a deployment uses whose figures are estimates (``rows_estimates``)."""
    models = spec.models
    served = {name: c.precision for name, c in models.items() if c.precision}
    stored = {(c.precision, c.compression) for c in models.values() if c.precision}
    return rows_estimates(scn, used_catalog_rows(scn, spec), served, stored)


def rows_estimates(
    scn: Scenario,
    used: dict[str, list[str]],
    served: dict[str, str],
    stored: set[tuple[str, str]],
) -> list[str]:
    """Of the catalog rows ``used`` (per table), those marked ESTIMATE (in the note or the
    source); the file compressions whose factor at the width of the weights they store
    (``stored``: (precision, compression) pairs) is listed in ``estimated_widths``; and the
    models ``served`` (model -> precision) at a catalog quality change."""
    cat = scn.resolved_catalog
    out = []
    for kind, rows in used.items():
        if kind == "compression":
            continue  # its estimates depend on the weight width: below
        table = cat.table(kind).set_index(cat.table(kind).columns[0])
        for row in (r for r in rows if r in table.index):
            text = " ".join(str(table.at[row, c]) for c in ("note", "source") if c in table.columns)
            if "ESTIMATE" in text:
                note = table.at[row, "note"] if "note" in table.columns else text
                out.append(f"catalog {kind} {row}: {note}")
    out += _catalog_quality_deltas(scn, served)
    for precision, compression in sorted(stored):
        if compression in cat.compression.index and cat.compression_estimated(
            precision, compression
        ):
            out.append(
                f"catalog compression {compression} at {precision}: size of "
                f"{width_class(float(cat.precision.at[precision, 'bytes_per_param']))} weights "
                f"not measured ({cat.compression.at[compression, 'note']})"
            )
    return out


def _catalog_quality_deltas(scn: Scenario, served: dict[str, str]) -> list[str]:
    """Models with a quality figure requantised to a precision whose quality change comes
    from the catalog (measured on other models) rather than from
    ``models[].quality_deltas``."""
    precision = scn.resolved_catalog.precision
    out = []
    for model in scn.models:
        if model.name not in served or not model.quality:
            continue
        at = served[model.name]
        delta = float(precision.at[at, "quality_delta_rel"])
        published = float(precision.at[model.checkpoint_precision, "quality_delta_rel"])
        if at in model.quality_deltas or delta == published:
            continue  # measured on this model, or no change from the published checkpoint
        out.append(
            f"{model.name}: quality change at {at} {delta:+.2%} from the catalog "
            f"({precision.at[at, 'source']}), not measured on this model; state "
            f"models[{model.name}].quality_deltas"
        )
    return out


def service_estimates(scn: Scenario, choices) -> list[str]:
    """What the service times of ``choices`` ((model, instance, precision, measured LLM
    token profile) tuples) rest on when it is not a measurement, per model."""
    opts = scn.options
    out = []
    for model, instance, precision, llm_measured in choices:
        spec = scn.model(model)
        if spec.is_llm and llm_measured:
            continue
        if spec.is_llm:
            shape = spec.llm.architecture or "its inline shape"
            out.append(
                f"{model}: prefill and decode times estimated from {shape} and the "
                f"{instance} roofline (compute efficiency {opts.llm_compute_efficiency:g}, "
                f"memory efficiency {opts.llm_memory_efficiency:g}); no measured token profile"
                + _accelerator_estimate(scn, instance)
            )
        elif not any(p.instance == instance and p.precision == precision for p in spec.profiles):
            out.append(
                f"{model}: service time on {instance} {precision} estimated from the "
                f"roofline (efficiency {opts.roofline_efficiency:g}); no measured profile"
                + _accelerator_estimate(scn, instance)
            )
        else:
            out += [
                f"{model}: profile on {instance} {precision} batch {p.batch}: "
                + p.source[p.source.index("ESTIMATE") :]
                for p in spec.profiles
                if p.instance == instance and p.precision == precision and "ESTIMATE" in p.source
            ]
    return out


def _accelerator_estimate(scn: Scenario, instance: str) -> str:
    """The accelerator figures a roofline on ``instance`` uses, when they are an estimate
    (e.g. the A10G's, taken from the A10 datasheet)."""
    cat = scn.resolved_catalog
    if instance not in cat.hardware.index:
        return ""
    acc = cat.hardware.at[instance, "accelerator"]
    if acc not in cat.accelerators.index:
        return ""
    row = cat.accelerators.loc[acc]
    if "ESTIMATE" not in f"{row.get('note', '')} {row.get('source', '')}":
        return ""
    return f"; its {acc} peak and bandwidth figures are an ESTIMATE ({row['note']})"
