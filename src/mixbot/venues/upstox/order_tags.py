"""Upstox order tags and the algo identifier: the rules a config must meet before a live
session starts (:func:`config_problems`, run by ``mixbot validate``) and the last check
before an order leaves (:func:`check_tag`).

- **Tag length**: Upstox refuses a ``tag`` longer than 40 characters (error ``UDAPI1119``,
  "Tag length cannot be greater than 40"; the local simulator enforces the same rule. The
  public API reference only says "tag: string"). mixbot's tags are
  ``<bot_id>:<bar index>:<role>`` plus ``:r<n>`` for an exit re-sent at MARKET, so the
  bot id may have at most :data:`MAX_BOT_ID` characters (bar indices up to 7 digits, roles
  up to 5 characters, up to 99 re-sends).
- **Tag characters**: letters, digits and ``_ . - :`` only (:data:`TAG_CHARS`; the bot id's
  schema pattern keeps to them). Upstox documents no character set; these are the ones
  every Indian broker API accepts in tags.
- **Algo id**: exchange rules make every algo order carry the exchange's algo identifier
  (SEBI circular SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013 of 4 February 2025; NSE circular
  NSE/INVG/67858 of 5 May 2025: registered algos get their own id, unregistered ones below
  10 orders per second the broker's generic id). mixbot sends ``broker.algo_name`` as the
  ``X-Algo-Name`` header of each order, so it is required for the real-money ``upstox``
  broker (not for ``upstox_sandbox``, whose orders never reach an exchange).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: Upstox's limit on an order tag (characters).
TAG_MAX = 40
#: Characters of a tag.
TAG_CHARS = re.compile(r"^[A-Za-z0-9_.:-]+$")
#: ``:<7-digit bar>:<5-character role>:r<2 digits>``: what mixbot adds to the bot id.
TAG_SUFFIX_MAX = 1 + 7 + 1 + 5 + 4
#: The longest bot id whose tags fit :data:`TAG_MAX`.
MAX_BOT_ID = TAG_MAX - TAG_SUFFIX_MAX


def check_tag(tag: str) -> str | None:
    """Why Upstox would refuse ``tag`` (a sentence), or None when it is fine."""
    if len(tag) > TAG_MAX:
        return f"order tag {tag!r} has {len(tag)} characters; Upstox accepts at most {TAG_MAX}"
    if not TAG_CHARS.match(tag):
        return f"order tag {tag!r} has characters other than letters, digits and _ . - :"
    return None


def config_problems(doc: dict[str, Any], bot_id: str) -> Iterator[tuple[tuple[str, ...], str, str]]:
    """``(json path parts, problem, hint)`` of a config (defaults filled) whose broker is an
    Upstox one: the bot id's length for the tags, and ``broker.algo_name`` for real orders."""
    btype = (doc.get("broker") or {}).get("type")
    if btype not in ("upstox", "upstox_sandbox"):
        return
    if len(bot_id) > MAX_BOT_ID:
        yield (
            ("bot_id",),
            f"bot id {bot_id!r} has {len(bot_id)} characters: its Upstox order tags "
            f"(<bot_id>:<bar>:<role>) would pass Upstox's limit of {TAG_MAX} characters; "
            f"a bot on Upstox may have at most {MAX_BOT_ID}",
            f'set a shorter "bot_id" (at most {MAX_BOT_ID} characters)',
        )
    algo = (doc.get("broker") or {}).get("algo_name")
    if btype == "upstox" and not (isinstance(algo, str) and algo.strip()):
        yield (
            ("broker", "algo_name"),
            "broker.algo_name is required for the live upstox broker: exchange rules (SEBI "
            "circular SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013, NSE/INVG/67858) make every "
            "algo order carry the exchange's algo identifier, which mixbot sends as X-Algo-Name",
            'set "algo_name" to the Algo ID your broker gave this strategy (for an unregistered '
            "algo below 10 orders/s, the broker's generic algo id)",
        )
