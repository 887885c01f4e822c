"""Equity-curve pictures for Telegram (``/chart``) and the daily summary email (matplotlib,
Agg backend, no display needed)."""

from __future__ import annotations

import io
from typing import Any


def equity_png(curve: list[dict[str, Any]], title: str) -> bytes:
    """A PNG (800x400 px) of ``curve`` (service-layer equity points: ``bar_index``, ``value``
    in INR) titled ``title``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.add_subplot()
    ax.plot([p["bar_index"] for p in curve], [p["value"] for p in curve])
    ax.set_title(title)
    ax.set_xlabel("bar")
    ax.set_ylabel("INR")
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
