"""The recommended configuration, as files: YAML and JSON, and Kubernetes manifests.

``recommendation(...)`` builds one ordered mapping with everything a reviewer or a
pipeline needs: schema and program versions, a sha256 of the canonical inputs (the
scenario and every catalog row used), the solver's status and gap, the deployment, a bill
of materials, the six-component cost per day, month and year, every price used with its
source and date, and the slack of each limit. Nothing in it depends on when or where it
runs, so the same inputs give byte-identical files.

``write_export`` writes ``recommended.yaml``, ``recommended.json`` and ``k8s/<model>.yaml``
(``outputs.k8s``: namespace, Deployment, Service, PodDisruptionBudget, and an autoscaler
when the scenario autoscales), each to a temporary file renamed into place, and refuses to
overwrite without ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from deploycost.cost.model import COMPONENTS
from deploycost.errors import DeployCostError
from deploycost.files import atomic_write, exclusive, io_error
from deploycost.optimize.limits import BY_FAMILY
from deploycost.optimize.solve import SolveResult
from deploycost.outputs.k8s import manifests
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.assumptions import used_catalog_rows
from deploycost.scenario.schema import Scenario
from deploycost.version import __version__

SCHEMA_VERSION = 1


def _clean(value):
    """Plain Python types with rounding that is stable across platforms."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(f"{float(value):.12g}") if np.isfinite(value) else None
    return value


def _rows(frame: pd.DataFrame, names: list[str]) -> list[dict]:
    table = frame.loc[names].reset_index(drop=True)
    return _clean(table.astype(object).where(table.notna(), None).to_dict(orient="records"))


def inputs_digest(scn: Scenario, names: dict[str, list[str]]) -> str:
    """sha256 of the canonical JSON of the scenario and the catalog rows it used."""
    cat = scn.resolved_catalog
    payload = {
        "scenario": scn.model_dump(mode="json"),
        "catalog": {kind: _rows(cat.table(kind), rows) for kind, rows in names.items()},
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def document_head(scn: Scenario, result, catalog_rows: dict[str, list[str]]) -> dict:
    """The first keys of every export document: versions, inputs digest, solver status."""
    return {
        "schema_version": SCHEMA_VERSION,
        "deploycost_version": __version__,
        "inputs_sha256": inputs_digest(scn, catalog_rows),
        "scenario": scn.name,
        "currency": scn.currency,
        "solver": {
            "status": result.status.value,
            "backend": result.backend,
            "gap": result.gap,
            "objective_per_day": result.objective_per_day,
        },
    }


def recommendation(scn: Scenario, result: SolveResult) -> dict:
    """The export document for a solved scenario (see the module docstring)."""
    if result.deployment is None:
        raise DeployCostError(
            f"nothing to export: the solve ended {result.status.value}: "
            + "; ".join(result.explanation)
        )
    spec = result.deployment
    evaluation = result.evaluation
    ledger = evaluation.ledger()
    prices = evaluation.prices.table.set_index("name")
    cat = scn.resolved_catalog
    catalog_rows = used_catalog_rows(scn, spec)

    by_price = ledger.groupby("price", sort=True).quantity_per_day.sum()
    bom: dict[str, dict] = {
        "instance_hours": {},
        "storage_gb": {},
        "retrieved_gb": {},
        "person_days": {},
    }
    for name, qty in by_price.items():
        kind, _, item = name.partition("[")
        item = item.rstrip("]")
        if not qty:
            continue
        if kind == "storage_gb_month":  # GB-months per day x 30.4 = GB kept on average
            bom["storage_gb"][item] = {"average_stored": qty * DAYS_PER_MONTH}
        elif kind in ("instance_hour", "retrieval_gb", "day_rate"):
            label = {
                "instance_hour": "instance_hours",
                "retrieval_gb": "retrieved_gb",
                "day_rate": "person_days",
            }[kind]
            bom[label][item] = {"per_day": qty, "per_month": qty * DAYS_PER_MONTH}
    totals = evaluation.components().iloc[0]
    models = result.models.set_index("model")
    used_prices = [n for n in prices.index if by_price.get(n, 0.0) != 0.0]
    doc = {
        **document_head(scn, result, catalog_rows),
        "deployment": {
            "regions": scn.regions,
            "fusion": spec.fusion,
            "automation": spec.automation,
            "data_tiers": dict(sorted(spec.data_tiers.items())),
            "models": {
                name: {
                    "instance": c.instance,
                    "region": _or_text(cat.hardware.at[c.instance, "region"]),
                    "replicas": c.replicas,
                    "precision": c.precision,
                    "batch": c.batch,
                    "artifact_tier": c.tier,
                    "backups": c.backups,
                    "file_compression": c.compression,
                    "autoscale": c.autoscale,
                    "p99_ms": models.at[name, "p99_ms"],
                    "slo_ms": models.at[name, "slo_ms"],
                    "latency_headroom_ms": models.at[name, "headroom_ms"],
                    "utilisation": models.at[name, "utilisation"],
                    "utilisation_max": scn.constraints.utilisation_max,
                    "peak_requests_per_s": models.at[name, "arrival_qps"],
                    "capacity_requests_per_s": models.at[name, "capacity_qps"],
                    **_llm_fields(scn, result, name, c),
                }
                for name, c in sorted(spec.models.items())
            },
        },
        "bill_of_materials": bom,
        "cost": {
            "per_day": {c: totals[c] for c in (*COMPONENTS, "total")},
            "per_month": {c: totals[c] * DAYS_PER_MONTH for c in (*COMPONENTS, "total")},
            "per_year": {c: totals[c] * DAYS_PER_YEAR for c in (*COMPONENTS, "total")},
            "per_model_per_day": {
                name: {
                    c.removesuffix("_per_day"): models.at[name, c]
                    for c in (
                        "compute_per_day",
                        "model_storage_per_day",
                        "compression_per_day",
                        "people_per_day",
                    )
                }
                for name in sorted(spec.models)
            },
        },
        "limits": _limits(result),
        "estimates": list(result.estimates),
        "defaults": list(result.defaults),
        "prices": [
            {
                "name": n,
                **{
                    k: prices.at[n, k]
                    for k in (
                        "kind",
                        "unit",
                        "value",
                        "native_value",
                        "native_currency",
                        "fx_rate",
                        "as_of",
                        "source",
                        "note",
                    )
                },
            }
            for n in used_prices
        ],
        "catalog_rows": {kind: _rows(cat.table(kind), rows) for kind, rows in catalog_rows.items()},
    }
    return _clean(doc)


def _limits(result: SolveResult) -> dict:
    """Value, bound and slack of every coupled limit, as the audit computed them."""
    limits: dict = {"binding": list(result.binding)}
    for limit in sorted(result.limits, key=lambda x: (x.family, x.key)):
        family = BY_FAMILY[limit.family]
        if family.export_name is None:
            continue  # per-model limits: in the deployment section (p99, utilisation)
        entry = {"limit": limit.limit, "value": limit.value, "slack": limit.slack}
        if family.integral:
            entry = {k: round(v) for k, v in entry.items()}
        if family.keyed:
            limits.setdefault(family.export_name, {})[limit.key] = entry
        else:
            limits[family.export_name] = entry
    return limits


def _llm_fields(scn: Scenario, result: SolveResult, name: str, choice) -> dict:
    """An LLM's serving configuration, TTFT/TPOT and what its tokens cost (empty for other
    models, so their entries do not change)."""
    if not scn.model(name).is_llm:
        return {}
    row = result.llm.set_index("model").loc[name]
    hw = scn.resolved_catalog.hardware.loc[choice.instance]
    return {
        "tensor_parallel": int(choice.tensor_parallel),
        "engines_per_instance": int(hw.accel_count) // int(choice.tensor_parallel),
        "sequences_per_engine": int(choice.batch),
        "ttft_p99_ms": float(row.ttft_p99_ms),
        "ttft_limit_ms": _or_none(row.ttft_limit_ms),
        "tpot_ms": float(row.tpot_ms),
        "tpot_limit_ms": _or_none(row.tpot_limit_ms),
        "input_tokens_per_day": float(row.input_tokens_per_day),
        "output_tokens_per_day": float(row.output_tokens_per_day),
        "cost_per_1m_input_tokens": float(row.per_1m_input_tokens),
        "cost_per_1m_output_tokens": float(row.per_1m_output_tokens),
        "cost_per_1k_queries": float(row.per_1k_queries),
        "performance_basis": str(row.basis),
    }


def _or_text(value) -> str | None:
    return value if isinstance(value, str) else None


def _or_none(value) -> float | None:
    return None if value is None or value != value else float(value)


MANAGED = "app.kubernetes.io/managed-by: deploycost"
WRITTEN_DIRS = {("k8s",), ("k8s", "schedules")}  # and k8s/schedules/<day type>


def _foreign_files(out_dir: Path) -> list[str]:
    """Files under ``out_dir`` that an export of deploycost did not write."""
    foreign = []
    for path in sorted(out_dir.rglob("*")):
        rel = path.relative_to(out_dir)
        if path.is_symlink() or (path.is_dir() and rel.parts[:2] not in WRITTEN_DIRS):
            foreign.append(str(rel))
        elif path.is_file() and rel.parts[0] == "k8s":
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix != ".yaml" or MANAGED not in text:
                foreign.append(str(rel))
        elif path.is_file() and str(rel) not in ("recommended.yaml", "recommended.json"):
            foreign.append(str(rel))
    return foreign


def write_export(
    scn: Scenario,
    result: SolveResult,
    out_dir: Path,
    force: bool = False,
    verification: dict | None = None,
) -> list[Path]:
    """Write the recommendation and manifests as one set under ``out_dir``; return the paths.

    The set is written into a fresh sibling folder and renamed into place, so a kill leaves
    the old set or the new one, never a mix, and manifests of models no longer deployed do
    not linger. ``--force`` replaces only a folder that holds nothing but an earlier export;
    a lock refuses a second export to the same folder while one runs. ``verification``
    (``simulate.verify.Verified.document``) is written as the document's last key.
    """
    check_out_dir(out_dir)
    doc = recommendation(scn, result)
    if verification is not None:
        doc["verification"] = verification
    return write_set(Path(out_dir), doc, manifests(scn, result), force)


def check_out_dir(out_dir: Path) -> None:
    out_dir = Path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise DeployCostError(f"--out must be a folder (not a file or a link), got {out_dir}")
    if not out_dir.parent.is_dir():
        raise DeployCostError(f"--out: the parent folder {out_dir.parent} does not exist")


def write_set(
    out_dir: Path, doc: dict, docs_by_name: dict[str, list[dict]], force: bool
) -> list[Path]:
    """``recommended.yaml``/``.json`` from ``doc`` and ``k8s/<name>.yaml`` per manifest
    set, written as one set (see ``write_export``)."""
    check_out_dir(out_dir)
    files = {
        Path("recommended.yaml"): yaml.safe_dump(
            doc, sort_keys=False, allow_unicode=True, width=100
        ),
        Path("recommended.json"): json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
    }
    for name, docs in docs_by_name.items():
        files[Path("k8s") / f"{name}.yaml"] = yaml.safe_dump_all(docs, sort_keys=False)
    with exclusive(out_dir, "export"):
        previous = out_dir.exists() and any(out_dir.iterdir())
        if previous:
            foreign = _foreign_files(out_dir)
            if foreign:
                raise DeployCostError(
                    f"--out {out_dir} holds files an export did not write "
                    f"({', '.join(foreign[:5])}); export into an empty folder or one holding "
                    f"only an earlier export"
                )
            if not force:
                raise DeployCostError(
                    f"would overwrite the earlier export in {out_dir}; pass --force"
                )
        _swap_in(out_dir, files)
    return [out_dir / rel for rel in files]


def _swap_in(out_dir: Path, files: dict[Path, str]) -> None:
    """Write ``files`` into a fresh sibling folder, then rename it to ``out_dir`` (moving an
    earlier export aside first and deleting it after)."""
    parent = out_dir.parent
    try:
        fresh = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.new-"))
    except OSError as exc:
        raise io_error(parent, exc) from None
    old = None
    try:
        (fresh / "k8s").mkdir()
        for rel, text in files.items():
            (fresh / rel).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(fresh / rel, text)
        os.chmod(fresh, 0o755)  # mkdtemp makes it private; an export is an ordinary folder
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.old-"))
            os.replace(out_dir, old)
        os.replace(fresh, out_dir)
    except OSError as exc:
        if old is not None and not out_dir.exists():
            os.replace(old, out_dir)  # put the earlier export back
            old = None
        shutil.rmtree(fresh, ignore_errors=True)
        raise io_error(out_dir, exc) from None
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
