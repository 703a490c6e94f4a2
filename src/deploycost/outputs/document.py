"""The parts every export document shares, and writing one set of files.

``document_head`` opens each document (schema and program versions, a sha256 of the
canonical inputs, the solver's status and gap); ``write_set`` writes a document as
``recommended.yaml``/``.json`` with its manifests into a fresh sibling folder renamed into
place, so a kill leaves the old set or the new one, never a mix.
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

from deploycost.errors import DeployCostError
from deploycost.files import atomic_write, exchange, exclusive, folder_mode, io_error
from deploycost.optimize.limits import BY_FAMILY
from deploycost.optimize.result import SolveResult
from deploycost.scenario.schema import Scenario
from deploycost.version import __version__

SCHEMA_VERSION = 1


def clean(value):
    """Plain Python types with rounding that is stable across platforms (a missing value,
    NaN or NA, as None)."""
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(f"{float(value):.12g}") if np.isfinite(value) else None
    return value


def rows_of(frame: pd.DataFrame, names: list[str]) -> list[dict]:
    return clean(frame.loc[names].to_dict(orient="records"))


def inputs_digest(scn: Scenario, names: dict[str, list[str]]) -> str:
    """sha256 of the canonical JSON of the scenario and the catalog rows it used."""
    cat = scn.resolved_catalog
    payload = {
        "scenario": scn.model_dump(mode="json"),
        "catalog": {kind: rows_of(cat.table(kind), rows) for kind, rows in names.items()},
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


def check_exportable(result: SolveResult) -> None:
    """Refuse to export a result without a plan, saying how the solve ended."""
    if result.plan is None:
        raise DeployCostError(
            f"nothing to export: the solve ended {result.status.value}: "
            + "; ".join(result.explanation)
        )


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
        recover_swap(out_dir)
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
    """Write ``files`` into a fresh sibling folder, then put it at ``out_dir``: exchanged
    with an earlier export in one step where the system can (Linux ``renameat2``), so a
    complete export sits at ``out_dir`` at every instant; else the earlier one is moved
    aside first (a run killed between the two renames is recovered by the next,
    ``recover_swap``). The earlier export is deleted after."""
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
        os.chmod(fresh, folder_mode())  # mkdtemp makes it private; an export is not
        if out_dir.exists() and exchange(fresh, out_dir):
            old, fresh = fresh, None  # the earlier export now sits where fresh was
        else:
            if out_dir.exists():
                old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.old-"))
                os.replace(out_dir, old)
            os.replace(fresh, out_dir)
    except OSError as exc:
        if old is not None and not out_dir.exists():
            os.replace(old, out_dir)  # put the earlier export back
            old = None
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        raise io_error(out_dir, exc) from None
    except BaseException:
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def recover_swap(out_dir: Path) -> None:
    """Undo what a killed export left beside ``out_dir``: with no folder at ``out_dir`` the
    newest earlier export moved aside goes back; the rest (unfinished or superseded sets,
    hidden ``.NAME.new-*`` and ``.NAME.old-*`` folders) is deleted."""
    parent = out_dir.parent
    aside = sorted(
        parent.glob(f".{out_dir.name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    if not out_dir.exists() and aside:
        os.replace(aside.pop(0), out_dir)
    for leftover in [*aside, *parent.glob(f".{out_dir.name}.new-*")]:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)


def or_none(value) -> float | None:
    """A figure, or None where it is missing (None or NaN)."""
    return None if value is None or value != value else float(value)


def llm_fields(hw, row) -> dict:
    """An LLM's serving configuration on an instance of catalog row ``hw`` (its engines:
    accelerators / tensor-parallel degree, as costed), TTFT, TPOT, tokens and their cost,
    from a row of ``SolveResult.llm`` (a deployment's or a fleet's)."""
    return {
        "tensor_parallel": int(row.tensor_parallel),
        "engines_per_instance": int(hw.accel_count) // int(row.tensor_parallel),
        "sequences_per_engine": int(row.sequences_per_engine),
        **_llm_figures(row),
    }


def _llm_figures(row) -> dict:
    return {
        "ttft_p99_ms": float(row.ttft_p99_ms),
        "ttft_limit_ms": or_none(row.ttft_limit_ms),
        "tpot_ms": float(row.tpot_ms),
        "tpot_limit_ms": or_none(row.tpot_limit_ms),
        "input_tokens_per_day": float(row.input_tokens_per_day),
        "output_tokens_per_day": float(row.output_tokens_per_day),
        "cost_per_1m_input_tokens": float(row.per_1m_input_tokens),
        "cost_per_1m_output_tokens": float(row.per_1m_output_tokens),
        "cost_per_1k_queries": float(row.per_1k_queries),
        "performance_basis": str(row.basis),
    }


def limits_section(result: SolveResult) -> dict:
    """Value, bound and slack of every coupled limit, as the audit computed them (a
    deployment's or a fleet's: the registry's export slots)."""
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
