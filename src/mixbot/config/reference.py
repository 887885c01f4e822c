"""The config reference in Markdown, generated from the schema and the mixin registry.

``mixbot schema --markdown`` prints it; the README embeds it between markers and a test
fails when the README's copy is out of date.
"""

from __future__ import annotations

import json
from typing import Any

from mixbot.config.schema import base_schema


def _type(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(json.dumps(v) for v in node["enum"])
    t = node.get("type", "")
    if "$ref" in node:
        return node["$ref"].split("/")[-1]
    return " \\| ".join(t) if isinstance(t, list) else str(t)


def _default(node: dict[str, Any]) -> str:
    if "default" not in node:
        return "*required*" if node.get("_required") else ""
    return f"`{json.dumps(node['default'])}`"


def _rows(
    props: dict[str, Any], required: list[str], prefix: str, defs: dict[str, Any]
) -> list[str]:
    out: list[str] = []
    for name, node in props.items():
        if name == "$schema":
            continue
        path = f"{prefix}{name}"
        if (
            "$ref" in node
            and node["$ref"].split("/")[-1] in defs
            and "properties" in defs[node["$ref"].split("/")[-1]]
        ):
            target = defs[node["$ref"].split("/")[-1]]
            out.append(
                f"| `{path}` | object | {'*required*' if name in required else ''} | {node.get('description', '')} |"
            )
            out += _rows(target["properties"], target.get("required", []), path + ".", defs)
            continue
        node = {**node, "_required": name in required}
        desc = node.get("description", "").replace("|", "\\|")
        if node.get("type") == "object" and "properties" in node:
            out.append(
                f"| `{path}` | object | {_default(node) if 'default' in node else ('*required*' if name in required else '')} | {desc} |"
            )
            out += _rows(node["properties"], node.get("required", []), path + ".", defs)
        else:
            out.append(f"| `{path}` | {_type(node)} | {_default(node)} | {desc} |")
    return out


def markdown() -> str:
    """The whole reference: config fields, then each mixin's params."""
    from mixbot.strategy import registry

    schema = base_schema()
    lines = ["| field | type | default | meaning (units) |", "|---|---|---|---|"]
    lines += _rows(schema["properties"], schema.get("required", []), "", schema.get("$defs", {}))
    for kind in ("entry", "exit"):
        lines += ["", f"#### {kind.capitalize()} mixins (`strategy.{kind}_logic`)", ""]
        for name in registry.names(kind):  # type: ignore[arg-type]
            spec = registry.get(kind, name)  # type: ignore[arg-type]
            doc = " ".join((spec.cls.__doc__ or "").split())
            lines += [
                f"**{name}**: {doc}",
                "",
                "| param | type | default | meaning (units) |",
                "|---|---|---|---|",
            ]
            for pname, node in spec.params_schema["properties"].items():
                lines.append(
                    f"| `{pname}` | {_type(node)} | {_default(node)} | {node.get('description', '')} |"
                )
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
