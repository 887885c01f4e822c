"""The mixin registry: name -> mixin class and its parameter schema.

A mixin is one file in ``mixbot/strategy/entry/`` or ``mixbot/strategy/exit/`` whose
class is decorated with :func:`register`; the package ``__init__`` of that folder
imports the file (the one registration line). The validator reads
:attr:`MixinSpec.params_schema` to check ``entry_logic.params`` / ``exit_logic.params``
without importing Backtrader.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["entry", "exit"]

_REGISTRY: dict[Kind, dict[str, MixinSpec]] = {"entry": {}, "exit": {}}
_LOADED = False


@dataclass(frozen=True)
class MixinSpec:
    """One registered mixin.

    Attributes:
        name: the class name users write in ``entry_logic.name`` / ``exit_logic.name``.
        kind: ``"entry"`` or ``"exit"``.
        cls: the mixin class.
        params_schema: JSON Schema (Draft 2020-12) object schema of its params, with defaults.
        summary: first line of the class docstring.
    """

    name: str
    kind: Kind
    cls: type
    params_schema: dict[str, Any]
    summary: str


def register(kind: Kind) -> Callable[[type], type]:
    """Class decorator: register a mixin class under its ``__name__``.

    The class must define ``PARAMS``: a dict of JSON Schema property schemas, each with a
    ``default`` and a ``description`` stating the unit.

    Raises:
        ValueError: the name is already registered or a param lacks a default/description.
    """

    def deco(cls: type) -> type:
        name = cls.__name__
        params: dict[str, Any] = getattr(cls, "PARAMS", {})
        for pname, pschema in params.items():
            if "default" not in pschema or "description" not in pschema:
                raise ValueError(f"{name}.PARAMS[{pname!r}] needs a default and a description")
        if name in _REGISTRY[kind]:
            raise ValueError(f"{kind} mixin {name} registered twice")
        schema = {
            "type": "object",
            "additionalProperties": False,
            "properties": params,
        }
        doc = (cls.__doc__ or "").strip().splitlines()
        _REGISTRY[kind][name] = MixinSpec(name, kind, cls, schema, doc[0] if doc else "")
        return cls

    return deco


def load_builtin() -> None:
    """Import the built-in mixin packages so that their classes register (idempotent)."""
    global _LOADED
    if not _LOADED:
        importlib.import_module("mixbot.strategy.entry")
        importlib.import_module("mixbot.strategy.exit")
        _LOADED = True


def names(kind: Kind) -> list[str]:
    """Sorted names of the registered mixins of one kind."""
    load_builtin()
    return sorted(_REGISTRY[kind])


def get(kind: Kind, name: str) -> MixinSpec:
    """The spec of a registered mixin.

    Raises:
        KeyError: no such mixin of that kind.
    """
    load_builtin()
    return _REGISTRY[kind][name]


def defaults(spec: MixinSpec) -> dict[str, Any]:
    """The mixin's params with every default filled in."""
    return {k: v["default"] for k, v in spec.params_schema["properties"].items()}
