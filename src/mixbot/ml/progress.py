"""Progress bars of ``mixbot train``: one per stage (folds), trial and epoch (rich, on stderr)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class TrainProgress:
    """Three rich bars: ``stage`` (tuner, folds, final), ``trials`` and ``epochs``.

    With ``enabled`` False every method is a no-op (tests, ``--no-progress``).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._prog: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._prog = Progress(
                TextColumn("{task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
            )
            self._prog.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._prog is not None:
            self._prog.__exit__(*exc)

    def bar(self, key: str, label: str, total: int) -> None:
        """Start (or restart) bar ``key`` at 0 of ``total``."""
        if self._prog is None:
            return
        if key in self._tasks:
            self._prog.reset(self._tasks[key], total=total, description=label, note="")
        else:
            self._tasks[key] = self._prog.add_task(label, total=total, note="")

    def step(self, key: str, note: str = "", advance: int = 1) -> None:
        """Advance bar ``key``; ``note`` is shown beside it."""
        if self._prog is not None and key in self._tasks:
            self._prog.update(self._tasks[key], advance=advance, note=note)

    def epoch_start(self, total: int, label: str) -> Callable[[int, dict[str, float]], None]:
        """Restart the epoch bar; returns the Keras epoch hook that advances it."""
        self.bar("epochs", f"  epochs ({label})", total)

        def on_epoch(epoch: int, logs: dict[str, float]) -> None:
            loss = logs.get("val_loss")
            self.step("epochs", f"val_loss {loss:.4f}" if loss is not None else "")

        return on_epoch
