"""The scenario-format reference, generated from the JSON Schema (never written by hand)."""

from __future__ import annotations

import json

from deploycost.scenario.schema import scenario_json_schema

BOUNDS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("minLength", "at least {} characters"),
    ("pattern", "matches `{}`"),
)


def _type(node: dict) -> str:
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in node:
        kinds = [_type(n) for n in node["anyOf"] if n.get("type") != "null"]
        nullable = any(n.get("type") == "null" for n in node["anyOf"])
        return " or ".join(kinds) + (" or null" if nullable else "")
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(node.get('items', {}))}"
    if (
        kind == "object"
        and "additionalProperties" in node
        and isinstance(node["additionalProperties"], dict)
    ):
        return f"mapping of name to {_type(node['additionalProperties'])}"
    return {
        "number": "number",
        "integer": "integer",
        "string": "string",
        "boolean": "true/false",
        "object": "mapping",
    }.get(kind, kind)


def _rules(node: dict) -> str:
    rules = [text.format(node[key]) for key, text in BOUNDS if key in node]
    for option in node.get("anyOf", []):
        rules += [text.format(option[key]) for key, text in BOUNDS if key in option]
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        rules += [
            f"each {text.format(node['items'][k])}" for k, text in BOUNDS if k in node["items"]
        ]
    return "; ".join(rules)


def _table(model: dict, required: list[str]) -> list[str]:
    lines = [
        "| key | meaning | unit | type | default | rule |",
        "|---|---|---|---|---|---|",
    ]
    for key, node in model.get("properties", {}).items():
        value = node.get("default")
        if key in required:
            default = "required"
        elif isinstance(value, dict) and value and "$ref" in node:
            default = "see its table"
        else:
            default = "`" + json.dumps(value) + "`" if "default" in node else ""
        lines.append(
            f"| `{key}` | {node.get('description', '')} | {node.get('x-unit', '')} | "
            f"{_type(node)} | {default} | {_rules(node)} |"
        )
    return lines


def scenario_reference() -> str:
    """Markdown: the top-level keys, then one table per nested object."""
    schema = scenario_json_schema()
    out = [
        "# Scenario file reference",
        "",
        "Generated from the JSON Schema by `deploycost schema --markdown`; "
        "`deploycost schema` prints the schema itself for editors. Unknown keys are "
        "rejected; money is in the scenario `currency` unless a row gives its own.",
        "",
        "## Scenario (top level)",
        "",
        *_table(schema, schema.get("required", [])),
    ]
    for name, model in sorted(schema["$defs"].items()):
        out += ["", f"## {name}", ""]
        if model.get("description"):
            out += [" ".join(model["description"].split()), ""]
        out += _table(model, model.get("required", []))
    return "\n".join(out) + "\n"
