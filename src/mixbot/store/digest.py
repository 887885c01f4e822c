"""A comparable digest of a bot's stored session, for crash tests and audits.

Two runs of the same config on the same data, one uninterrupted and one killed and
restarted any number of times, must have equal digests: same orders (by client tag, with
requested and filled quantity and price and final status), same fills, same trades, same
equity curve and the same final checkpoint. Wall-clock timestamps are left out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mixbot.store.repository import Store

ORDER_FIELDS = (
    "tag",
    "role",
    "side",
    "order_type",
    "qty_requested",
    "price_requested",
    "qty_filled",
    "avg_fill_price",
    "status",
    "bar_index",
)
FILL_FIELDS = ("order_tag", "seq", "side", "qty", "price", "commission", "fill_time")
TRADE_SKIP = {"id", "bot_pk"}


def digest(store: Store) -> dict[str, Any]:
    """The session's orders, fills, trades, equity and final checkpoint as plain tuples."""
    ck = store.load_checkpoint()
    return {
        "orders": [tuple(r[f] for f in ORDER_FIELDS) for r in store.orders()],
        "fills": [tuple(r[f] for f in FILL_FIELDS) for r in store.fills()],
        "trades": [tuple(v for k, v in r.items() if k not in TRADE_SKIP) for r in store.trades()],
        "equity": [(r["bar_index"], r["bar_time"], r["cash"], r["value"]) for r in store.equity()],
        "checkpoint": None if ck is None else (ck["bar_index"], ck["cash"], ck["state"]),
    }


def compare(reference: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Differences between two digests.

    Returns a dict with ``equal`` (bool), ``duplicate_orders`` (tags present more than once),
    ``lost_fills`` / ``extra_fills`` (fills of the reference missing from / added in the
    other), ``mismatched`` (names of parts that differ) and ``first_difference`` per part.
    """
    tags = Counter(o[0] for o in other["orders"])
    dup = sorted(t for t, n in tags.items() if n > 1)
    ref_fills, oth_fills = Counter(reference["fills"]), Counter(other["fills"])
    lost = sorted((ref_fills - oth_fills).elements(), key=str)
    extra = sorted((oth_fills - ref_fills).elements(), key=str)
    mismatched, first = [], {}
    for part in ("orders", "fills", "trades", "equity", "checkpoint"):
        a, b = reference[part], other[part]
        if a != b:
            mismatched.append(part)
            if isinstance(a, list) and isinstance(b, list):
                diff = next(
                    (i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b))
                )
                first[part] = {
                    "index": diff,
                    "reference": a[diff] if diff < len(a) else None,
                    "other": b[diff] if diff < len(b) else None,
                }
            else:
                first[part] = {"reference": a, "other": b}
    return {
        "equal": not mismatched,
        "duplicate_orders": dup,
        "lost_fills": lost,
        "extra_fills": extra,
        "mismatched": mismatched,
        "first_difference": first,
    }
