"""Order tags and the algo id on Upstox: refused by `mixbot validate` before a session, the
last check before an order leaves, the simulator's own limit, and tags that never repeat
after `--fresh`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT
from mixbot.store.repository import Store
from mixbot.venues.upstox.execution.orders import OrderApi
from mixbot.venues.upstox.order_tags import MAX_BOT_ID, TAG_MAX, TAG_SUFFIX_MAX

LIVE = REPO_ROOT / "config" / "trading" / "live" / "upstox_sim_orders.json"
ENV = {"UPSTOX_ACCESS_TOKEN": "t", "UPSTOX_SANDBOX_TOKEN": "s"}


def _validate(tmp_path: Path, **changes: Any) -> list[Any]:
    doc = json.loads(LIVE.read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            if value is None:
                doc[section].pop(field, None)
            else:
                doc[section][field] = value
        else:
            doc[section] = value
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(doc, indent=1))
    return validate_file(path, text=path.read_text(), env=ENV).errors


def test_the_example_live_config_is_valid(tmp_path: Path) -> None:
    assert _validate(tmp_path) == []


def test_a_bot_id_too_long_for_upstox_tags_names_the_limit(tmp_path: Path) -> None:
    assert MAX_BOT_ID + TAG_SUFFIX_MAX == TAG_MAX == 40
    assert _validate(tmp_path, bot_id="b" * MAX_BOT_ID) == []
    errors = _validate(tmp_path, bot_id="b" * (MAX_BOT_ID + 1))
    assert [e.path for e in errors] == ["$.bot_id"]
    assert f"at most {MAX_BOT_ID}" in errors[0].message and "40 characters" in errors[0].message


@pytest.mark.parametrize("algo", [None, "", "  "])
def test_live_upstox_broker_needs_an_algo_name(tmp_path: Path, algo: str | None) -> None:
    errors = _validate(tmp_path, broker__algo_name=algo)
    assert [e.path for e in errors] == ["$.broker.algo_name"]
    assert "SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013" in errors[0].message
    assert "Algo ID" in errors[0].hint


def test_sandbox_orders_need_no_algo_name(tmp_path: Path) -> None:
    errors = _validate(
        tmp_path,
        broker={"type": "upstox_sandbox", "sandbox_token": "${UPSTOX_SANDBOX_TOKEN}"},
    )
    assert errors == []


@pytest.mark.parametrize(
    "tag, why",
    [("x" * 41, "at most 40"), ("bot 1:5:entry", "letters, digits"), ("b:5:ent|ry", "letters")],
)
def test_a_tag_upstox_would_refuse_is_never_sent(tag: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        OrderApi.place_body(
            instrument_key="NSE_EQ|INE002A01018",
            side="BUY",
            qty=1,
            order_type="MARKET",
            product="I",
            tag=tag,
        )
    body = OrderApi.place_body(
        instrument_key="NSE_EQ|INE002A01018",
        side="BUY",
        qty=1,
        order_type="MARKET",
        product="I",
        tag="b" * MAX_BOT_ID + ":1234567:entry:r99",
    )
    assert len(body["tag"]) == TAG_MAX


def test_fresh_session_numbers_bars_after_the_erased_one(tmp_path: Path) -> None:
    """A live bot started again with --fresh must not send a tag it sent before (the venue's
    order book may still hold it today): its bars start after every bar the erased session
    used, and again after a second --fresh."""
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    s = Store(url, "b", "live")
    try:
        s.register("h", "c.json")
        assert not s.bot_row()["bar_base"]
        s.record_intent(
            "b:812:entry",
            symbol="X",
            role="entry",
            side="BUY",
            order_type="Limit",
            qty=1.0,
            price=10.0,
            bar_index=812,
            bar_time=None,
        )
        s.register("h", "c.json", fresh=True)
        assert s.bot_row()["bar_base"] == 813 and s.orders() == []
        s.register("h", "c.json", fresh=True)  # nothing traded in between: still after 812
        assert s.bot_row()["bar_base"] == 813
    finally:
        s.close()
