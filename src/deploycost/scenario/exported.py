"""An export's own ``recommended.yaml`` read back as a deployment: ``deploycost export``
writes the chosen deployment under ``deployment`` with the names a reader expects
(``artifact_tier``, ``file_compression``, the figures it was sized at); ``evaluate`` and
``diff`` take that file as it is."""

from __future__ import annotations

from typing import Any

# recommended.yaml's name for a choice -> DeploymentSpec's (the rest are the same)
RENAMED = {"artifact_tier": "tier", "file_compression": "compression"}
CHOICE_KEYS = (
    "instance",
    "replicas",
    "precision",
    "batch",
    "artifact_tier",
    "backups",
    "file_compression",
    "autoscale",
    "tensor_parallel",
)


def is_export(raw: Any) -> bool:
    """Whether ``raw`` is an export document (it carries its schema version)."""
    return isinstance(raw, dict) and "schema_version" in raw and "deploycost_version" in raw


def is_fleet_document(raw: Any) -> bool:
    """Whether ``raw`` is a fleet's export document (it lists pools, not a deployment)."""
    return is_export(raw) and "pools" in raw


def deployment_of(raw: dict) -> Any:
    """The deployment an export document states, as a deployment mapping; a fleet's
    document (``pools``), or one without a deployment, is returned as it is for the
    deployment check to refuse by name."""
    dep = raw.get("deployment")
    if not isinstance(dep, dict) or not isinstance(dep.get("models"), dict):
        return raw
    models = {}
    for name, entry in dep["models"].items():
        if not isinstance(entry, dict):
            models[name] = entry
            continue
        choice = {RENAMED.get(k, k): entry[k] for k in CHOICE_KEYS if k in entry}
        if entry.get("autoscale") and "autoscale_capacity_qps" in entry:
            choice["capacity_qps"] = entry["autoscale_capacity_qps"]
        models[name] = choice
    out = {"models": models}
    for key in ("fusion", "automation", "data_tiers"):
        if key in dep:
            out[key] = dep[key]
    return out
