"""Run the README's commands, as written and in order, in a fresh virtual environment.

    python scripts/check_readme.py [--skip-tests]

Copies the checkout (tracked files) to a temporary folder, creates a virtual environment,
runs the two set-up commands (the ```bash blocks under "Set-up"; the test command last,
unless --skip-tests) and every `$ ` line of the "Walkthrough" section, and fails on the
first non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}")
    following = text.find("\n## ", start + 3)
    return text[start : following if following != -1 else len(text)]


def commands(readme: str) -> tuple[list[str], list[str]]:
    setup = re.findall(r"```bash\n(.*?)\n```", section(readme, "Set-up"), re.S)
    walk = [
        line[2:] for line in section(readme, "Walkthrough").splitlines() if line.startswith("$ ")
    ]
    return [s.strip() for s in setup], walk


def run(command: str, cwd: Path, env: dict) -> None:
    start = time.perf_counter()
    proc = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - start
    print(f"[{'ok' if proc.returncode == 0 else 'FAILED'} {took:6.1f} s] {command}", flush=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup, walk = commands(readme)
    if len(setup) != 2:
        sys.exit(f"expected two set-up commands in the README, found {len(setup)}")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "deploycost"
        files = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.split(b"\0")
        for name in filter(None, files):
            source, target = ROOT / name.decode(), copy / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                target.symlink_to(os.readlink(source))
            else:
                target.write_bytes(source.read_bytes())
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        env = {
            **os.environ,
            "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}",
            "VIRTUAL_ENV": str(env_dir),
        }
        run(setup[0], copy, env)
        for command in walk:
            run(command, copy, env)
        if not args.skip_tests:
            run(setup[1], copy, env)
    print(f"README: {1 + len(walk) + (0 if args.skip_tests else 1)} commands ran as written")


if __name__ == "__main__":
    main()
