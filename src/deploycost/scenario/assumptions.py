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
    """Catalog rows the deployment uses whose figures are marked ESTIMATE (in the note or
    the source); for a file compression, when the width class of the weights it
    compresses is listed in ``estimated_widths``."""
    cat = scn.resolved_catalog
    out = []
    for kind, rows in used_catalog_rows(scn, spec).items():
        if kind == "compression":
            continue  # its estimates depend on the weight width: below
        table = cat.table(kind).set_index(cat.table(kind).columns[0])
        for row in (r for r in rows if r in table.index):
            text = " ".join(str(table.at[row, c]) for c in ("note", "source") if c in table.columns)
            if "ESTIMATE" in text:
                note = table.at[row, "note"] if "note" in table.columns else text
                out.append(f"catalog {kind} {row}: {note}")
    out += _catalog_quality_deltas(scn, spec)
    pairs = {(c.precision, c.compression) for c in spec.models.values() if c.precision}
    for precision, compression in sorted(pairs):
        if compression in cat.compression.index and cat.compression_estimated(
            precision, compression
        ):
            out.append(
                f"catalog compression {compression} at {precision}: size of "
                f"{width_class(float(cat.precision.at[precision, 'bytes_per_param']))} weights "
                f"not measured ({cat.compression.at[compression, 'note']})"
            )
    return out


def _catalog_quality_deltas(scn: Scenario, spec: DeploymentSpec) -> list[str]:
    """Models with a quality figure requantised to a precision whose quality change comes
    from the catalog (measured on other models) rather than from
    ``models[].quality_deltas``."""
    precision = scn.resolved_catalog.precision
    out = []
    for model in scn.models:
        choice = spec.models.get(model.name)
        if choice is None or not model.quality:
            continue
        served = choice.precision or model.checkpoint_precision
        delta = float(precision.at[served, "quality_delta_rel"])
        published = float(precision.at[model.checkpoint_precision, "quality_delta_rel"])
        if served in model.quality_deltas or delta == published:
            continue  # measured on this model, or no change from the published checkpoint
        out.append(
            f"{model.name}: quality change at {served} {delta:+.2%} from the catalog "
            f"({precision.at[served, 'source']}), not measured on this model; state "
            f"models[{model.name}].quality_deltas"
        )
    return out
