"""Reading a config file: bytes -> JSON document plus a map of source positions.

Every failure becomes a :class:`~mixbot.config.problems.Problem` with the file name and,
where the JSON parser knows it, the line and column; nothing here raises on bad input.
"""

from __future__ import annotations

import json
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
            pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
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


def read_source(path: str | Path, text: str | None = None) -> tuple[Source | None, list[Problem]]:
    """Read and parse a config file (or ``text`` standing for it).

    Returns:
        ``(source, [])`` on success, ``(None, [problem])`` when the file cannot be used:
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
            return None, [
                Problem(
                    name,
                    "$",
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    line=line,
                    column=1,
                    hint="save the file as UTF-8",
                )
            ]
    elif len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None, [Problem(name, "$", "text is larger than 1 MB; a bot config is a few kB")]
    if not text.strip():
        return None, [
            Problem(name, "$", "file is empty", hint="start from config/trading/0001.json")
        ]
    if _depth(text) > MAX_DEPTH:
        return None, [
            Problem(name, "$", f"JSON nested deeper than {MAX_DEPTH} levels; not a bot config")
        ]
    try:
        doc = json.loads(text)
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
        return None, [Problem(name, "$", f"not valid JSON: {exc}")]
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
    return Source(name, doc, positions), []
