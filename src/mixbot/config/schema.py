"""The bot config JSON Schema: loading, default filling and export for editors.

The hand-written ``bot.schema.json`` inside this package is the single source of truth, but
for the venue names: :func:`base_schema` fills the ``broker.type`` / ``data.data_source``
enums from the venue registry.
:func:`export_schema` adds each registered mixin's parameter schema (as ``if name == X
then params: {...}``) so that editors complete mixin params too; ``mixbot schema
--export`` writes it to ``config/schema/bot.schema.json`` and a test fails when the
committed copy drifts.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "bot.schema.json"

#: Fields whose value is a secret: must be a ${ENV_VAR} reference, masked in output.
SECRET_FIELDS: tuple[tuple[str, ...], ...] = (
    ("broker", "access_token"),
    ("broker", "sandbox_token"),
    ("notifications", "telegram", "bot_token"),
    ("notifications", "email", "smtp_password"),
)


#: What a secret field holds: one ``${ENV_VAR}`` reference.
SECRET_REF_PATTERN = "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$"


@lru_cache(maxsize=1)
def base_schema() -> dict[str, Any]:
    """The packaged schema with the venue enums filled in (parsed once; callers must not
    mutate it).

    ``broker.type`` and ``data.data_source`` list every name the venue registry
    (:mod:`mixbot.venues.registry`) knows, reserved ones included; the packaged file leaves
    those enums out so that a venue is added in one place.
    """
    from mixbot.venues import registry as venues

    text = resources.files("mixbot.config").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    props = result["properties"]
    props["broker"]["properties"]["type"] = {
        "enum": venues.broker_types(),
        **props["broker"]["properties"]["type"],
    }
    props["data"]["properties"]["data_source"] = {
        "enum": venues.data_sources(),
        **props["data"]["properties"]["data_source"],
    }
    for venue in venues.venues():
        if venue.config_schema is not None:
            if venue.name in props:
                raise ValueError(f"venue {venue.name}: its config section clashes with a key")
            section = props[venue.name] = copy.deepcopy(venue.config_schema)
            for name in venue.secret_fields:  # a secret is a ${VAR} reference, never a value
                field = section.setdefault("properties", {}).setdefault(name, {})
                field.setdefault("type", "string")
                field["pattern"] = SECRET_REF_PATTERN
    return result


def secret_fields() -> tuple[tuple[str, ...], ...]:
    """Every secret field's path: :data:`SECRET_FIELDS` plus each venue section's
    ``secret_fields`` (``("binance", "api_secret")``)."""
    from mixbot.venues import registry as venues

    extra = tuple((v.name, f) for v in venues.venues() for f in v.secret_fields)
    return SECRET_FIELDS + extra


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = schema["$defs"][ref.split("/")[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return merged
    return node


def fill_defaults(doc: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a deep copy of ``doc`` with every schema default filled in.

    Missing properties that have a ``default`` are added; sections whose default is
    ``{}`` are created and filled recursively. Values present in ``doc`` are kept as
    they are, even when invalid (validation reports them separately).
    """
    root = schema or base_schema()
    out = copy.deepcopy(doc)

    def walk(node: dict[str, Any], value: Any) -> None:
        node = _resolve(root, node)
        props = node.get("properties")
        if not isinstance(value, dict) or not isinstance(props, dict):
            return
        for name, sub in props.items():
            sub_r = _resolve(root, sub)
            if name not in value and "default" in sub_r:
                value[name] = copy.deepcopy(sub_r["default"])
            if name in value:
                walk(sub_r, value[name])

    walk(root, out)
    return out


def export_schema() -> dict[str, Any]:
    """The editor schema: the base schema plus each registered mixin's params schema."""
    from mixbot.strategy import registry

    schema = copy.deepcopy(base_schema())
    for kind, field in (("entry", "entry_logic"), ("exit", "exit_logic")):
        names = registry.names(kind)  # type: ignore[arg-type]
        branches = []
        for name in names:
            spec = registry.get(kind, name)  # type: ignore[arg-type]
            branches.append(
                {
                    "if": {"properties": {"name": {"const": name}}},
                    "then": {"properties": {"params": spec.params_schema}},
                }
            )
        schema["$defs"][f"{kind}_mixin"] = {
            "allOf": [
                {"$ref": "#/$defs/mixin"},
                {"properties": {"name": {"enum": names}}},
                *branches,
            ]
        }
        schema["properties"]["strategy"]["properties"][field]["$ref"] = f"#/$defs/{kind}_mixin"
    return schema


def export_text() -> str:
    """:func:`export_schema` as the exact text of ``config/schema/bot.schema.json``."""
    return json.dumps(export_schema(), indent=2, ensure_ascii=False) + "\n"
