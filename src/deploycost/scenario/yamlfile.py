"""Reading input files with bounded time and memory: scenarios, deployments, sweep specs.

* only regular files are read (a FIFO, a device or a folder is refused before opening), up
  to ``DEPLOYCOST_MAX_INPUT_MB`` megabytes (default 20; a scenario with thousands of models
  is a few MB);
* YAML is first scanned as an event stream (libyaml when present): nesting deeper than
  ``MAX_DEPTH``, more than ``MAX_ALIASES`` aliases and aliases expanding to more than
  ``MAX_EXPANDED_VALUES`` values are refused before anything is built, so an alias bomb or
  a 100,000-deep list costs milliseconds;
* numbers read as users write them: ``2e6`` is a number (YAML 1.1 wants ``2.0e+6``),
  ``0100`` is one hundred (not octal 64), ``1:40`` is text (not sexagesimal 100);
* a key given twice in one mapping is an error (YAML would keep the last silently);
* an integer beyond the float range becomes a marker that the schema rejects, naming the
  field, instead of a conversion traceback.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from deploycost.errors import ScenarioError

DEFAULT_MAX_INPUT_MB = 20.0
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_EXPANDED_VALUES = 1_000_000  # values after alias expansion
MAX_INT_DIGITS = 308  # beyond this an integer exceeds the float range

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0[0-9_]+)$")
_HEX = re.compile(r"^[-+]?0x[0-9a-fA-F_]+$")
_FLOAT = re.compile(
    r"^[-+]?(?:(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"
    r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)


class TooLargeInteger:
    """An integer literal beyond the float range; the schema reports it against its field."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a {self.digits:,}-digit integer (beyond the float range)"


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class _Loader(_BASE):
    """Safe loading with the number rules above and duplicate keys refused."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _NUMBER_TAGS]
        for first, resolvers in _BASE.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = key_node.value
                if key in seen and key != "<<":
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} is given twice in one mapping (first at line "
                        f"{seen[key].start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int | float | TooLargeInteger:
    text = loader.construct_scalar(node).replace("_", "")
    if _HEX.match(text):
        return int(text, 16)
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        return TooLargeInteger(digits)
    return int(text, 10)  # 0100 is one hundred: leading zeros are not octal here


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    text = loader.construct_scalar(node).replace("_", "").lower()
    if text.endswith((".inf", ".nan")):
        return yaml.SafeLoader.construct_yaml_float(loader, node)
    return float(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _HEX, list("-+0"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def max_input_bytes() -> int:
    """The input size limit: ``DEPLOYCOST_MAX_INPUT_MB`` (default 20) megabytes."""
    raw = os.environ.get("DEPLOYCOST_MAX_INPUT_MB", "")
    try:
        mb = float(raw) if raw else DEFAULT_MAX_INPUT_MB
    except ValueError:
        mb = DEFAULT_MAX_INPUT_MB
    return int(mb * 1e6) if mb > 0 else int(DEFAULT_MAX_INPUT_MB * 1e6)


def read_input(path: str | Path) -> str:
    """The text of a regular file within the size limit; ScenarioError otherwise."""
    path = Path(path)
    limit = max_input_bytes()
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ScenarioError([f"cannot read file: {exc.strerror or exc}"], str(path)) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ScenarioError([f"cannot read file: {kind} (a FIFO, device or folder)"], str(path))
    if info.st_size > limit:
        raise ScenarioError(
            [
                f"file is {info.st_size / 1e6:,.1f} MB, over the {limit / 1e6:g} MB input "
                f"limit (set DEPLOYCOST_MAX_INPUT_MB to raise it)"
            ],
            str(path),
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ScenarioError([f"cannot read file: {exc.strerror or exc}"], str(path)) from None
    if len(data) > limit:
        raise ScenarioError([f"file is over the {limit / 1e6:g} MB input limit"], str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [f"cannot read file: not UTF-8 text ({exc.reason})"], str(path)
        ) from None


def _refuse(source: str, event: yaml.Event, what: str) -> None:
    raise ScenarioError([f"{what} at line {event.start_mark.line + 1}"], source)


def _check_structure(text: str, source: str) -> None:
    """Refuse deep nesting, many aliases and large alias expansions from the event stream,
    before any object is built (an alias bomb's 9^8 values are counted, never made)."""
    sizes: dict[str, int] = {}  # anchor -> values it expands to
    stack: list[list] = [[None, 0]]  # per open collection: its anchor, values inside
    aliases = 0
    try:
        for event in yaml.parse(text, Loader=_BASE):
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 0])
                if len(stack) - 1 > MAX_DEPTH:
                    _refuse(source, event, f"nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, inside = stack.pop()
                if anchor:
                    sizes[anchor] = inside + 1
                stack[-1][1] += inside + 1
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                stack[-1][1] += 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    _refuse(source, event, f"more than {MAX_ALIASES} YAML aliases (*name)")
                stack[-1][1] += sizes.get(event.anchor, 1)
            if stack[0][1] + sum(level[1] for level in stack[1:]) > MAX_EXPANDED_VALUES:
                _refuse(
                    source,
                    event,
                    f"YAML aliases expand to more than {MAX_EXPANDED_VALUES:,} values",
                )
    except yaml.YAMLError as exc:
        # newer libyaml stops deep flow collections itself, while scanning ahead
        if "nesting depth" in str(exc):
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ScenarioError(
                [f"nesting deeper than {MAX_DEPTH} levels{where}"], source
            ) from None
        return  # the loader reports the syntax error with its position


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with the bounds and number rules of this module."""
    _check_structure(text, source)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([f"not valid YAML{where}: {problem}"], source) from None
    except RecursionError:
        raise ScenarioError([f"nesting deeper than {MAX_DEPTH} levels"], source) from None


_PATH = re.compile(r"^[A-Za-z_]\w*(?:\[[^\]]*\]|\.[A-Za-z_]\w*)*")
_SEGMENT = re.compile(r"\[([^\]]*)\]|\.?([A-Za-z_]\w*)")
_UNKNOWN_KEY = re.compile(r"unknown key '([^']+)'")


def _child(node, key: str, by_name: bool):
    """The value node under ``key`` of a mapping node, or the item of a sequence node
    (``by_name``: the mapping whose ``name`` is ``key``; else a position); None if absent."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
        return None
    if isinstance(node, yaml.SequenceNode):
        if not by_name and key.isdigit() and int(key) < len(node.value):
            item = node.value[int(key)]
            return item, item
        for item in node.value:
            found = _child(item, "name", False)
            if found is not None and isinstance(found[1], yaml.ScalarNode):
                if found[1].value == key:
                    return item, item
    return None


def locate(problem: str, root) -> tuple[int, int] | None:
    """(line, column), 1-based, of the field a problem line names (``models[a].size_gb
    must be ...``), or of its deepest part the file has; None when it names nothing."""
    match = _PATH.match(problem)
    if root is None or match is None:
        return None
    node, found = root, None
    for bracket, dotted in _SEGMENT.findall(match.group(0)):
        step = _child(node, bracket or dotted, by_name=bool(bracket))
        if step is None:
            break
        found, node = step[0], step[1]
    unknown = _UNKNOWN_KEY.search(problem)
    if unknown and node is not None:
        step = _child(node, unknown.group(1), False)
        if step is not None:
            found = step[0]
    if found is None:
        return None
    return found.start_mark.line + 1, found.start_mark.column + 1


def with_locations(problems: list[str], text: str, source: str) -> list[str]:
    """Each problem prefixed with ``source:line:column`` where the file has the field."""
    try:
        root = yaml.compose(text, Loader=_Loader)  # noqa: S506 - composes, constructs nothing
    except yaml.YAMLError:
        return problems
    out = []
    for problem in problems:
        where = locate(problem, root)
        out.append(f"{source}:{where[0]}:{where[1]}: {problem}" if where else problem)
    return out
