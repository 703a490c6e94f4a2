"""What a sweep keeps on disk: the log of solves beside the output (``--resume`` repeats
none), and the results table written as one file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deploycost.errors import DeployCostError
from deploycost.files import atomic_open, atomic_write, io_error

STATE_MARKER = "deploycost-sweep-state"


STATE_FILES = {STATE_MARKER, "fingerprint", "solves.jsonl"}


@dataclass(frozen=True)
class PointResult:
    status: str  # "optimal" or "infeasible" (or "feasible" when a limit stopped it)
    spec: dict | None
    objective: float | None
    q: list | None = None  # a fleet's (6, P) component quantities


class Store:
    """Append-only log of solves next to the output, so that ``--resume`` repeats none.

    Each solve is one JSON line written with a single unbuffered ``write`` and synced; a
    line cut short by a kill is dropped when the log is read back.
    """

    def __init__(self, directory: Path | None, fingerprint: str) -> None:
        self.directory = directory
        self.solves: dict[str, PointResult] = {}
        if directory is None:
            return
        if directory.is_symlink() or (
            directory.exists()
            and any(directory.iterdir())
            and not (directory / STATE_MARKER).is_file()
        ):
            raise DeployCostError(
                f"{directory} exists and was not made by deploycost sweep; remove it or "
                f"use another --out"
            )
        try:
            self._open(directory, fingerprint)
        except OSError as exc:
            raise io_error(directory, exc) from None

    def _open(self, directory: Path, fingerprint: str) -> None:
        """Create or reopen the state folder, and read back the solves it logged."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / STATE_MARKER).write_text(
            "state of an interrupted deploycost sweep: --resume continues it\n", encoding="utf-8"
        )
        stamp = directory / "fingerprint"
        if stamp.exists() and stamp.read_text(encoding="utf-8") != fingerprint:
            raise DeployCostError(
                f"{directory} holds a sweep of other inputs; remove it or use another --out"
            )
        stamp.write_text(fingerprint, encoding="utf-8")
        log = directory / "solves.jsonl"
        if log.exists():
            good = 0
            with log.open("rb") as handle:
                for line in handle:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        break
                    if not line.endswith(b"\n"):
                        break
                    self.solves[entry["key"]] = PointResult(**entry["result"])
                    good += len(line)
            with log.open("r+b") as handle:
                handle.truncate(good)
        # unbuffered: each line goes out in one write, and a failed write leaves nothing
        # behind for close() to flush again
        self._log = log.open("ab", buffering=0)
        self._path = log

    def close(self) -> None:
        if self.directory is not None:
            self._log.close()

    def record(self, key: str, result: PointResult) -> None:
        self.solves[key] = result
        if self.directory is not None:
            try:
                line = json.dumps({"key": key, "result": result.__dict__}) + "\n"
                self._log.write(line.encode("utf-8"))
                os.fsync(self._log.fileno())
            except OSError as exc:
                raise io_error(self._path, exc) from None


def write_table(
    table: pd.DataFrame, path: Path, chunk_rows: int, state_dir: Path | None = None
) -> None:
    """Write CSV or Parquet atomically; CSV is assembled from atomically written chunks
    (kept in the state folder, so that a resumed run does not write them again)."""
    path = Path(path)
    if path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DeployCostError(
                "Parquet output needs pyarrow: pip install 'deploycost[parquet]' (or write .csv)"
            ) from None
        with atomic_open(path) as out:
            table.to_parquet(out, index=False)
        return
    parts = state_dir or Path(tempfile.mkdtemp(prefix="deploycost-"))
    try:
        parts.mkdir(parents=True, exist_ok=True)
        files = []
        for start in range(0, max(len(table), 1), chunk_rows):
            part = parts / f"rows-{start // chunk_rows:06d}.csv"
            if not part.exists():
                chunk = table.iloc[start : start + chunk_rows]
                atomic_write(part, chunk.to_csv(index=False, header=start == 0))
            files.append(part)
        with atomic_open(path) as out:
            for part in files:
                out.write(part.read_bytes())
    except OSError as exc:
        raise io_error(parts, exc) from None
    finally:
        if state_dir is None:
            shutil.rmtree(parts, ignore_errors=True)


def remove_state(state_dir: Path) -> None:
    """Delete a finished sweep's state folder: only one that ``Store`` made (it holds the
    marker), and only the files a sweep writes there; anything else stays."""
    state_dir = Path(state_dir)
    if state_dir.is_symlink() or not (state_dir / STATE_MARKER).is_file():
        return
    for path in state_dir.iterdir():
        if path.name in STATE_FILES or path.name.startswith(("rows-", ".rows-")):
            if path.is_file() and not path.is_symlink():
                path.unlink()
    try:
        state_dir.rmdir()
    except OSError:
        pass  # something that is not ours is in it: leave the folder
