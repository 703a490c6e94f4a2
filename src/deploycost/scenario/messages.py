"""pydantic's validation errors as this project words them: ``path must <rule>, got
<value>``, with the path written the way the file writes it (``models[ranker].size_gb``)
and unknown keys with the nearest valid one."""

from __future__ import annotations

import difflib
import reprlib
import types
import typing
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from deploycost.scenario.models import ROW_KEY_PATTERN


def _rule(error: dict) -> str:
    ctx = error.get("ctx", {}) or {}
    kind = error["type"]
    simple = {
        "greater_than": "must be > {gt}",
        "greater_than_equal": "must be >= {ge}",
        "less_than": "must be < {lt}",
        "less_than_equal": "must be <= {le}",
        "finite_number": "must be a finite number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "int_type": "must be an integer",
        "int_from_float": "must be an integer",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "literal_error": "must be one of {expected}",
        "too_short": "must have at least {min_length} items",
        "too_long": "must have at most {max_length} items",
        "string_pattern_mismatch": "must match the pattern {pattern}",
    }
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == ROW_KEY_PATTERN:
        return "must be a name of 1 to 100 printable characters, without surrounding spaces"
    if kind in simple:
        shown = {
            k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in ctx.items()
        }
        try:
            return simple[kind].format(**shown)
        except (KeyError, IndexError):
            return simple[kind].split(" {")[0]
    return str(error.get("msg", kind)).lower()


_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 50


def _got(value: Any) -> str:
    """A short rendering of a bad value, never the whole of a large or alias-shared one."""
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    if origin in (typing.Union, types.UnionType, Annotated):
        return any(_is_mapping(a) for a in typing.get_args(annotation))
    return False


def _describe(loc: tuple, raw: Any, root: type[BaseModel]) -> tuple[str, type[BaseModel] | None]:
    """Turn a pydantic location into ``models[ranker].latency_slo_ms`` and the model there."""
    path = ""
    model: type[BaseModel] | None = root
    in_mapping = False
    node = raw
    for part in loc:
        if isinstance(part, int):
            name = (
                node[part].get("name")
                if isinstance(node, list) and isinstance(node[part], dict)
                else None
            )
            path += f"[{name}]" if isinstance(name, str) else f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if in_mapping:
            path += f"[{part}]"
            in_mapping = False
            node = node.get(part) if isinstance(node, dict) else None
            continue
        path += f".{part}" if path else str(part)
        field = model.model_fields.get(part) if model is not None else None
        node = node.get(part) if isinstance(node, dict) else None
        if field is None:
            model = None
            continue
        in_mapping = _is_mapping(field.annotation)
        model = _inner_model(field.annotation)
    return path, model


def format_errors(exc: ValidationError, raw: Any, root: type[BaseModel], prefix: str) -> list[str]:
    problems = []
    for error in exc.errors():
        # pydantic inserts union-member labels such as "list[float]" into the location
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        if error["type"] == "extra_forbidden":
            key = str(error["loc"][-1])  # the unknown key itself, whatever it contains
            parent_loc = tuple(
                p for p in error["loc"][:-1] if not (isinstance(p, str) and "[" in p)
            )
            parent_path, parent = _describe(parent_loc, raw, root)
            valid = sorted(parent.model_fields) if parent is not None else []
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = f"{prefix}{parent_path}" if parent_path else prefix.rstrip(".") or "top level"
            problems.append(f"{where}: unknown key '{key}'{hint}; valid keys: {', '.join(valid)}")
            continue
        path, _ = _describe(loc, raw, root)
        full = f"{prefix}{path}" if path else prefix.rstrip(".")
        if error["type"] == "missing":
            problems.append(f"{full} is required")
        else:
            problems.append(f"{full} {_rule(error)}, got {_got(error.get('input'))}")
    return problems
