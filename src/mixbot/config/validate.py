"""Validate a bot config and report ALL problems at once.

Order: read + parse (:mod:`mixbot.config.source`) -> JSON Schema (Draft 2020-12) ->
mixin names and params (registry) -> semantic checks (:mod:`mixbot.config.semantic`).
Every problem carries the file, a JSON path, the source line:column and, where one
can be guessed, a "did you mean ...?" hint. Nothing here raises on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mixbot.config import schema as schema_mod
from mixbot.config.problems import Problem, Report, did_you_mean, json_path
from mixbot.config.source import Source, read_source

_TYPE_NAMES = {
    "object": "an object {...}",
    "array": "a list [...]",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _convert(err: ValidationError, src: Source, prefix: tuple[str | int, ...]) -> list[Problem]:
    """Turn one jsonschema error into problems with positions and hints."""
    parts = (*prefix, *err.absolute_path)
    validator = err.validator
    schema = err.schema if isinstance(err.schema, dict) else {}
    inst = err.instance
    if validator == "additionalProperties" and isinstance(inst, dict):
        allowed = sorted(schema.get("properties", {}))
        out = []
        for key in sorted(k for k in inst if k not in allowed):
            line, col = src.locate((*parts, key), key=True)
            out.append(
                Problem(
                    src.file,
                    json_path((*parts, key)),
                    f"unknown key {key!r}",
                    line,
                    col,
                    did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}",
                )
            )
        return out
    line, col = src.locate(parts)
    path = json_path(parts)
    # A secret field holding a literal is a secret written in the file: never echo it.
    secret = tuple(str(p) for p in parts) in schema_mod.secret_fields()
    shown = "(value hidden: secret field)" if secret else _short(inst)
    if validator == "required":
        missing = str(err.message).split("'")[1] if "'" in err.message else err.message
        sub = schema.get("properties", {}).get(missing, {})
        desc = sub.get("description", "") if isinstance(sub, dict) else ""
        return [
            Problem(
                src.file,
                json_path((*parts, missing)),
                f"missing required field {missing!r}",
                line,
                col,
                desc[:120],
            )
        ]
    if validator == "enum":
        choices = [str(c) for c in err.validator_value]
        hint = did_you_mean(str(inst), choices) if isinstance(inst, str) else ""
        return [
            Problem(
                src.file,
                path,
                f"{shown} is not one of {', '.join(choices)}",
                line,
                col,
                hint,
            )
        ]
    if validator == "type":
        want = (
            err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        )
        names = " or ".join(_TYPE_NAMES.get(str(w), str(w)) for w in want)
        return [
            Problem(
                src.file,
                path,
                f"expected {names}, got {_json_type(inst)} {shown}",
                line,
                col,
                schema.get("description", "")[:120],
            )
        ]
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[
            str(validator)
        ]
        return [
            Problem(
                src.file,
                path,
                f"{shown} is out of range: must be {op} {err.validator_value}",
                line,
                col,
                schema.get("description", "")[:120],
            )
        ]
    if validator == "pattern" and "\\$\\{" in str(err.validator_value):
        return [
            Problem(
                src.file,
                path,
                "secrets must not be written in the config",
                line,
                col,
                'write a reference such as "${UPSTOX_ACCESS_TOKEN}" and set that '
                "environment variable (or put it in .env)",
            )
        ]
    message = f"invalid value {shown} ({validator})" if secret else err.message
    return [
        Problem(
            src.file,
            path,
            message if len(message) < 200 else message[:197] + "...",
            line,
            col,
        )
    ]


def _schema_problems(
    doc: Any, schema: dict[str, Any], src: Source, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    out: list[Problem] = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        out.extend(_convert(err, src, prefix))
    return out


def _mixin_problems(doc: dict[str, Any], src: Source) -> list[Problem]:
    from mixbot.strategy import registry

    out: list[Problem] = []
    strategy = doc.get("strategy")
    if not isinstance(strategy, dict):
        return out
    for kind, field in (("entry", "entry_logic"), ("exit", "exit_logic")):
        logic = strategy.get(field)
        if not isinstance(logic, dict) or not isinstance(logic.get("name"), str):
            continue
        name = logic["name"]
        known = registry.names(kind)  # type: ignore[arg-type]
        if name not in known:
            other = "exit" if kind == "entry" else "entry"
            hint = did_you_mean(name, known)
            if name in registry.names(other):  # type: ignore[arg-type]
                # Say so first: RSIBBEntryMixin is also "close" to RSIBBExitMixin.
                wrong_kind = f"{name} is an {other} mixin; use it in {other}_logic"
                hint = f"{wrong_kind}; as an {kind} mixin, {hint}" if hint else wrong_kind
            line, col = src.locate(("strategy", field, "name"))
            out.append(
                Problem(
                    src.file,
                    json_path(("strategy", field, "name")),
                    f"unknown {kind} mixin {name!r}",
                    line,
                    col,
                    hint or f"known {kind} mixins: {', '.join(known)}",
                )
            )
            continue
        params = logic.get("params", {})
        if not isinstance(params, dict):
            continue
        spec = registry.get(kind, name)  # type: ignore[arg-type]
        out.extend(_schema_problems(params, spec.params_schema, src, ("strategy", field, "params")))
    return out


def _fill_mixin_defaults(effective: dict[str, Any]) -> None:
    """Fill each known mixin's params defaults into ``effective`` (in place), so that the
    effective config shows every param the mixin will run with."""
    from mixbot.strategy import registry

    strategy = effective.get("strategy")
    if not isinstance(strategy, dict):
        return
    for kind, field in (("entry", "entry_logic"), ("exit", "exit_logic")):
        logic = strategy.get(field)
        if not isinstance(logic, dict) or not isinstance(logic.get("params"), dict):
            continue
        name = logic.get("name")
        if isinstance(name, str) and name in registry.names(kind):  # type: ignore[arg-type]
            spec = registry.get(kind, name)  # type: ignore[arg-type]
            logic["params"] = schema_mod.fill_defaults(logic["params"], spec.params_schema)


def validate_source(
    src: Source, base_dir: Path | None = None, env: dict[str, str] | None = None
) -> Report:
    """Validate a parsed config. Never raises on bad input: every finding is a Problem."""
    from mixbot.config import semantic

    report = Report(src.file)
    doc = src.doc
    report.problems.extend(_schema_problems(doc, schema_mod.base_schema(), src))
    report.problems.extend(_mixin_problems(doc, src))
    effective = schema_mod.fill_defaults(doc)
    _fill_mixin_defaults(effective)
    # A value the schema already rejected is not checked again by the semantic rules.
    seen = {p.path for p in report.problems}
    report.problems.extend(
        p for p in semantic.check(effective, src, base_dir=base_dir, env=env) if p.path not in seen
    )
    report.effective = effective
    return report


def validate_file(
    path: str | Path, text: str | None = None, env: dict[str, str] | None = None
) -> Report:
    """Read, parse and validate one config file (or ``text`` standing for it).

    ``env`` replaces os.environ for ``${VAR}`` look-ups (tests); by default the
    environment plus a ``.env`` file in the current directory is used.
    """
    from mixbot.config.secrets import load_dotenv_once

    if env is None:
        load_dotenv_once()
    src, problems = read_source(path, text)
    if src is None:
        return Report(str(path), problems)
    try:
        report = validate_source(src, base_dir=Path.cwd(), env=env)
    except RecursionError:
        return Report(
            str(path), [Problem(str(path), "$", "structure too deeply nested to validate")]
        )
    # Parser-level findings (NaN, repeated keys) first; a value they reject is not reported twice.
    seen = {p.path for p in problems}
    report.problems = problems + [p for p in report.problems if p.path not in seen]
    return report
