"""Reading bar files as text and pointing at their lines, for :mod:`mixbot.feeds.loaders`.

:func:`_read_text` decodes a file as UTF-8 with line endings normalised to ``\\n``
(raising :class:`~mixbot.errors.DataFileError` for missing, empty, binary or non-UTF-8
files); the other helpers split it into CSV fields and data lines and build error messages
that name the 1-based line and show its text.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mixbot.errors import DataFileError

IntArray = npt.NDArray[np.int64]


def _read_text(path: Path) -> str:
    """Return the file's text with line endings normalised to ``\\n`` (LF, CRLF, CR)."""
    if not path.exists():
        raise DataFileError(path, "file not found")
    if path.is_dir():
        raise DataFileError(path, "is a folder, not a data file (use load_many for a folder)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DataFileError(path, "file is empty")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    norm = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"\x00" in norm[:65536]:
        line = norm[: norm.index(b"\x00")].count(b"\n") + 1
        raise DataFileError(path, "binary file (NUL bytes), not CSV text", line=line)
    try:
        return norm.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = norm[: exc.start].count(b"\n") + 1
        bad = norm[exc.start : exc.start + 1].hex()
        raise DataFileError(
            path,
            f"not UTF-8 text (byte 0x{bad} at offset {exc.start}); re-save the file as UTF-8",
            line=line,
        ) from exc


def _head_lines(text: str, n: int = 6) -> list[tuple[int, str]]:
    """The first ``n`` non-blank lines as (0-based line index, text)."""
    out: list[tuple[int, str]] = []
    pos = 0
    idx = 0
    while len(out) < n and pos <= len(text):
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        line = text[pos:end]
        if line.strip():
            out.append((idx, line))
        pos = end + 1
        idx += 1
    return out


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _short(text: str, limit: int = 80) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Lines:
    """Lazy access to raw lines of a text, for error messages."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: list[str] | None = None

    def get(self, lineno: int) -> str:
        if self._lines is None:
            self._lines = self._text.split("\n")
        return self._lines[lineno - 1] if 0 < lineno <= len(self._lines) else ""


def _fail(path: Path, lines: _Lines, lineno: int, problem: str) -> DataFileError:
    return DataFileError(path, f"{problem}: {_short(lines.get(lineno))!r}", line=lineno)


def _body(text: str, first_data_line: int) -> tuple[str, IntArray, int]:
    """Data part of the text, 1-based line number of each data line, blank-line count."""
    pos = 0
    for _ in range(first_data_line):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return "", np.zeros(0, dtype=np.int64), 0
        pos = nxt + 1
    body = text[pos:]
    stripped = body.rstrip("\n")
    if not stripped.strip():
        return "", np.zeros(0, dtype=np.int64), 0
    if re.search(r"(?:^|\n)[ \t]*(?:\n|$)", stripped) is None:
        n = stripped.count("\n") + 1
        return stripped, np.arange(n, dtype=np.int64) + first_data_line + 1, 0
    parts = stripped.split("\n")
    keep = [i for i, s in enumerate(parts) if s.strip()]
    blanks = len(parts) - len(keep)
    return (
        "\n".join(parts[i] for i in keep),
        np.asarray(keep, dtype=np.int64) + first_data_line + 1,
        blanks,
    )
