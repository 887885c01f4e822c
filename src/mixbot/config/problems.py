"""Validation problems: what is wrong, where, and how to fix it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem found in a config file.

    Attributes:
        file: the config file as given by the user.
        path: JSON path of the offending value, ``$`` for the whole document
            (e.g. ``$.broker.type``, ``$.trading.symbols[1]``).
        message: what is wrong, in plain words.
        line, column: 1-based position in the source, or None when unknown.
        hint: how to fix it (e.g. "did you mean 'type'?"), or "".
        severity: "error" (makes the config invalid) or "warning".
    """

    file: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None
    hint: str = ""
    severity: str = "error"

    def render(self) -> str:
        """One line: ``file:line:col: severity: path: message (hint)``."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        text = f"{where}: {self.severity}: {self.path}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of all fields."""
        return asdict(self)


@dataclass
class Report:
    """All problems of one file, plus the effective config when it parsed."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    effective: dict[str, Any] | None = None

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity error."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors


def json_path(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """Render path parts as ``$.a.b[2]``."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p.isidentifier():
            out += f".{p}"
        else:
            out += f"[{p!r}]"
    return out


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """A "did you mean ...?" hint for a misspelt name, or "" when nothing is close."""
    import difflib

    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f"did you mean {match[0]!r}?" if match else ""
