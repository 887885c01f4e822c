"""mixbot's exception hierarchy.

Borrowed from freqtrade's habit: one base class, then a split between
"the user must fix something, stop with a message" (:class:`ConfigError`,
:class:`DataFileError`) and "temporary, retry" (:class:`TemporaryError`).
The CLI turns every :class:`MixbotError` into a clear message and an exit code,
never a traceback.
"""

from __future__ import annotations


class MixbotError(Exception):
    """Base class of every error mixbot raises on purpose."""


class ConfigError(MixbotError):
    """A bot config is unusable: the message names the file, the field and the fix."""


class DataFileError(MixbotError):
    """A market-data file cannot be read.

    Attributes:
        path: the file.
        line: 1-based line number in the file, or None when the problem is not tied to a line.
        problem: what is wrong and, where possible, how to fix it.
    """

    def __init__(self, path: object, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class TemporaryError(MixbotError):
    """A transient failure (network, venue busy): the caller may retry with backoff."""


class BotHalted(MixbotError):
    """The bot stopped trading on purpose (drawdown limit, kill switch); the message says why."""


class StoreError(MixbotError):
    """The database cannot be used (corrupt, locked, read-only, not a mixbot store, ...).

    The message names the database and the fix; nothing was overwritten.
    """
