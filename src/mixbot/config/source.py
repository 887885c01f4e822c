"""Reading a config file: bytes -> JSON document plus a map of source positions.

Every failure becomes a :class:`~mixbot.config.problems.Problem` with the file name and,
where the JSON parser knows it, the line and column; nothing here raises on bad input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from json_source_map import calculate

from mixbot.config.problems import Problem

#: Config files are small; anything larger is almost certainly the wrong file.
MAX_BYTES = 1_000_000
#: Deepest nesting a real config has is about 5; refuse junk long before recursion limits.
MAX_DEPTH = 32


@dataclass
class Source:
    """A parsed config document.

    Attributes:
        file: the file name as given.
        doc: the parsed JSON value (normally a dict).
        positions: JSON pointer (``/broker/type``) -> (line, column, key_line, key_column),
            all 1-based; key position is None for array items and the root.
    """

    file: str
    doc: Any
    positions: dict[str, tuple[int, int, int | None, int | None]]

    def locate(
        self, parts: list[str | int] | tuple[str | int, ...], key: bool = False
    ) -> tuple[int | None, int | None]:
        """Line and column of the value at ``parts`` (or of its key when ``key``), walking up
        to the nearest known ancestor when the exact path is absent (e.g. a missing key)."""
        parts = list(parts)
        while True:
            # json_source_map joins keys with "/" WITHOUT RFC 6901 escaping; match it.
            pointer = "".join("/" + str(p) for p in parts)
            pos = self.positions.get(pointer)
            if pos is not None:
                if key and pos[2] is not None:
                    return pos[2], pos[3]
                return pos[0], pos[1]
            if not parts:
                return None, None
            parts.pop()


def _depth(text: str) -> int:
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


def _pairs_hook(
    dups: list[tuple[dict[str, Any], list[str]]],
) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """``object_pairs_hook`` that builds dicts and records repeated keys in ``dups``."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        repeated: list[str] = []
        for key, value in pairs:
            if key in out and key not in repeated:
                repeated.append(key)
            out[key] = value
        if repeated:
            dups.append((out, repeated))  # keeps ``out`` alive so its id() stays unique
        return out

    return hook


def _walk(
    doc: Any, parts: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Yield ``(parts, value)`` for every value in ``doc``, the root first."""
    yield parts, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _walk(v, (*parts, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _walk(v, (*parts, i))


def _structure_problems(src: Source, dups: list[tuple[dict[str, Any], list[str]]]) -> list[Problem]:
    """Things ``json.loads`` accepts but JSON forbids or makes ambiguous: NaN, Infinity
    and numbers too large for a float (1e400), and keys repeated in one object (the last
    value would silently win)."""
    from mixbot.config.problems import json_path

    repeated = {id(d): keys for d, keys in dups}
    out: list[Problem] = []
    for parts, value in _walk(src.doc):
        if isinstance(value, float) and not math.isfinite(value):
            line, col = src.locate(parts)
            out.append(
                Problem(
                    src.file,
                    json_path(parts),
                    "NaN, Infinity and numbers too large for a float are not valid JSON",
                    line,
                    col,
                    "write a finite number",
                )
            )
        elif isinstance(value, dict) and id(value) in repeated:
            for key in repeated[id(value)]:
                line, col = src.locate((*parts, key), key=True)
                out.append(
                    Problem(
                        src.file,
                        json_path((*parts, key)),
                        f"key {key!r} appears more than once in this object; "
                        "only the last value would be used",
                        line,
                        col,
                        "remove the duplicates",
                    )
                )
    return out


def read_source(path: str | Path, text: str | None = None) -> tuple[Source | None, list[Problem]]:
    """Read and parse a config file (or ``text`` standing for it).

    Returns:
        ``(source, [])`` on success; ``(source, problems)`` when the document parsed but
        holds NaN/Infinity or a key repeated in one object (one problem each, with its
        position); ``(None, [problem])`` when the file cannot be used:
        missing, unreadable, empty, too large, not UTF-8, not JSON (with line:column),
        nested deeper than :data:`MAX_DEPTH`, or not a JSON object at the top.
    """
    name = str(path)
    if text is None:
        p = Path(path)
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            return None, [Problem(name, "$", "file not found", hint="check the path")]
        except OSError as exc:
            return None, [Problem(name, "$", f"cannot read file: {exc.strerror or exc}")]
        if p.is_dir():
            return None, [Problem(name, "$", "is a directory, not a config file")]
        if size > MAX_BYTES:
            return None, [
                Problem(
                    name,
                    "$",
                    f"file is {size / 1e6:.1f} MB; a bot config is a few kB",
                    hint="point mixbot at the bot's .json config, not a data file",
                )
            ]
        try:
            raw = p.read_bytes()
        except OSError as exc:
            return None, [Problem(name, "$", f"cannot read file: {exc.strerror or exc}")]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            column = exc.start - raw.rfind(b"\n", 0, exc.start)  # 1-based, in bytes
            return None, [
                Problem(
                    name,
                    "$",
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    line=line,
                    column=column,
                    hint="save the file as UTF-8",
                )
            ]
    elif len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None, [Problem(name, "$", "text is larger than 1 MB; a bot config is a few kB")]
    else:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None, [
            Problem(name, "$", "file is empty", hint="start from config/trading/0001.json")
        ]
    if _depth(text) > MAX_DEPTH:
        return None, [
            Problem(name, "$", f"JSON nested deeper than {MAX_DEPTH} levels; not a bot config")
        ]
    dups: list[tuple[dict[str, Any], list[str]]] = []
    try:
        doc = json.loads(text, object_pairs_hook=_pairs_hook(dups))
    except json.JSONDecodeError as exc:
        return None, [
            Problem(
                name,
                "$",
                f"not valid JSON: {exc.msg}",
                line=exc.lineno,
                column=exc.colno,
                hint="check for a missing comma, quote or brace just before this point",
            )
        ]
    except (RecursionError, ValueError) as exc:
        msg = str(exc)
        if "digits" in msg:  # int() refuses > 4300 digits; its advice is for programmers
            msg = "a number has too many digits"
        return None, [Problem(name, "$", f"not valid JSON: {msg}")]
    if not isinstance(doc, dict):
        return None, [
            Problem(
                name,
                "$",
                f"top level must be a JSON object {{...}}, found {type(doc).__name__}",
                line=1,
                column=1,
            )
        ]
    try:
        raw_map = calculate(text)
    except Exception:  # positions are a convenience; never fail validation on them
        raw_map = {}
    positions = {
        ptr: (
            e.value_start.line + 1,
            e.value_start.column + 1,
            e.key_start.line + 1 if e.key_start else None,
            e.key_start.column + 1 if e.key_start else None,
        )
        for ptr, e in raw_map.items()
    }
    src = Source(name, doc, positions)
    return src, _structure_problems(src, dups)
