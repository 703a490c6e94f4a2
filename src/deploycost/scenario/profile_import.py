"""Measured LLM serving results read into token profiles (``llm.profiles`` rows).

Two formats, told apart by content:

* the JSON that vLLM's ``benchmark_serving.py --save-result`` writes: ``completed``
  requests, ``total_input_tokens`` / ``total_output_tokens``, ``output_throughput``
  (tokens/s), ``max_concurrency`` (the client's cap on requests in flight), and the TTFT /
  TPOT statistics ``p99_ttft_ms``, ``p99_tpot_ms`` (``mean_*`` when the p99 is absent). One
  vLLM server is taken as one engine.
* MLPerf Inference LoadGen's ``mlperf_log_summary.txt``: ``key : value`` lines; samples and
  tokens per second (``Completed ...`` in Server, plain in Offline), the 99th percentile first
  token latency and time to output token in nanoseconds, and the mean latency. The figures
  are the whole system's; they are divided over its engines. In Server mode the sequences
  in flight per engine follow from Little's law (samples/s x mean latency / engines); the
  summary has no input lengths, so the caller gives them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from deploycost.errors import ScenarioError
from deploycost.scenario.yamlfile import read_input

NS_PER_MS = 1e6
LARGEST = 1e12  # counts, tokens, rates: the scenario schema's bound
LARGEST_NS = 1e15  # latencies in ns: eleven days
SMALLEST = 1e-6  # a positive figure smaller than this is a unit error, not a measurement


@dataclass(frozen=True)
class Measured:
    """What one result file says, before it is tied to an instance and precision."""

    format: str  # "vllm" or "mlperf"
    output_tokens_per_s: float  # whole system
    input_tokens: float | None  # mean per request
    output_tokens: float
    concurrency: float | None  # sequences in flight, whole system
    tpot_ms: float | None
    ttft_ms: float | None


def read_result(path: Path) -> Measured:
    """Read a vLLM benchmark JSON or an MLPerf summary; errors name the file and field."""
    text = read_input(path)  # a regular UTF-8 file within the input limit
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad JSON, 5,000-digit numbers, deep nests
        if text.lstrip().startswith(("{", "[")):
            raise ScenarioError(
                [f"{path} is not a JSON result deploycost can read ({str(exc)[:80]})"], str(path)
            ) from None
        doc = None
    if isinstance(doc, dict):
        return _vllm(doc, path)
    if "MLPerf Results Summary" in text:
        return _mlperf(text, path)
    raise ScenarioError(
        [
            f"{path} must be a vLLM benchmark_serving.py JSON result or an MLPerf "
            "mlperf_log_summary.txt, got neither"
        ],
        str(path),
    )


def _number(doc: dict, key: str, path: Path, problems: list[str], positive=True) -> float | None:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{path}: {key} must be a number, got {str(value)[:40]!r}")
        return None
    value = float(value) if abs(value) <= LARGEST else math.inf
    if not math.isfinite(value) or value > LARGEST:
        problems.append(f"{path}: {key} must be a finite number up to {LARGEST:g}, got {value:g}")
        return None
    if positive and value < SMALLEST:
        problems.append(f"{path}: {key} must be >= {SMALLEST:g}, got {value:g}")
        return None
    return value


def _vllm(doc: dict, path: Path) -> Measured:
    problems: list[str] = []
    completed = _number(doc, "completed", path, [], positive=False)
    if completed is None or completed <= 0:
        raise ScenarioError(
            [
                f"{path}: completed must be > 0 (a run with successful requests), got "
                f"{doc.get('completed')!r}"
            ],
            str(path),
        )
    tokens_in = _number(doc, "total_input_tokens", path, problems)
    tokens_out = _number(doc, "total_output_tokens", path, problems)
    throughput = _number(doc, "output_throughput", path, problems)

    def optional(*keys: str) -> float | None:
        for key in keys:
            if doc.get(key) is not None:
                return _number(doc, key, path, problems)
        return None

    concurrency = optional("max_concurrency")
    tpot = optional("p99_tpot_ms", "mean_tpot_ms")
    ttft = optional("p99_ttft_ms", "mean_ttft_ms")
    if problems:
        raise ScenarioError(problems, str(path))
    return Measured(
        "vllm",
        throughput,
        tokens_in / completed,
        tokens_out / completed,
        concurrency,
        tpot,
        ttft,
    )


SUMMARY_LINE = re.compile(r"^\s*([^:]+?)\s*:\s*(\S+)\s*$")


def _mlperf(text: str, path: Path) -> Measured:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = SUMMARY_LINE.match(line)
        if match:
            fields.setdefault(match.group(1).strip().lower(), match.group(2))
    problems: list[str] = []

    def number(*keys: str, required: bool = True) -> float | None:
        for key in keys:
            if key.lower() in fields:
                try:
                    value = float(fields[key.lower()][:40])
                except ValueError:
                    text = fields[key.lower()][:40]
                    problems.append(f"{path}: {key} must be a number, got {text!r}")
                    return None
                if not SMALLEST <= value <= LARGEST_NS:  # NaN fails both
                    problems.append(
                        f"{path}: {key} must be a number from {SMALLEST:g} to "
                        f"{LARGEST_NS:g}, got {value:g}"
                    )
                    return None
                return value
        if required:
            problems.append(f"{path}: {' or '.join(keys)} is required, got nothing")
        return None

    if fields.get("result is", "").upper() == "INVALID":
        problems.append(
            f"{path}: Result is must be VALID (a run that met its constraints), got INVALID"
        )
    samples = number("Completed samples per second", "Samples per second")
    tokens = number("Completed tokens per second", "Tokens per second")
    ttft = number("99.00 percentile first token latency (ns)", required=False)
    tpot = number("99.00 percentile time to output token (ns)", required=False)
    mean_latency = number("Mean latency (ns)", required=False)
    if problems:
        raise ScenarioError(problems, str(path))
    server = fields.get("scenario", "").lower() == "server"
    in_flight = samples * mean_latency / 1e9 if server and mean_latency else None
    return Measured(
        "mlperf",
        tokens,
        None,
        tokens / samples,
        in_flight,
        None if tpot is None else tpot / NS_PER_MS,
        None if ttft is None else ttft / NS_PER_MS,
    )
