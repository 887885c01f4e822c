"""yfinance itself (``yf.download``, ``Ticker.history``) downloads history from the simulator
through the redirecting session; nothing goes to Yahoo."""

from __future__ import annotations

from typing import Any

import pandas as pd
import yfinance as yf
from yahoo_rig import ist
from yfinance.data import YfData

from mixbot.venues.yahoo.hosts import configure_yfinance, rewrite, yahoo_session


def test_rewrite_keeps_path_and_query() -> None:
    base = "http://127.0.0.1:9"
    assert rewrite("https://fc.yahoo.com", base) == base
    assert rewrite("https://query2.finance.yahoo.com/v8/finance/chart/X?a=1", base) == (
        base + "/v8/finance/chart/X?a=1"
    )
    assert rewrite("https://guce.yahoo.com/consent", base) == base + "/consent"
    assert rewrite("https://example.com/yahoo.com", base) == "https://example.com/yahoo.com"
    assert rewrite("https://query1.finance.yahoo.com/x", None).startswith("https://query1")


def test_yf_download_and_history_through_the_session(make_sim: Any) -> None:
    sim = make_sim("2019-01-01", "2019-02-28")
    sim.clock.set_time(ist("2019-02-20", "12:00"))
    folder = configure_yfinance()
    session = yahoo_session()
    yd = YfData(session=session)  # forget the process-wide cookie and crumb of earlier tests
    yd._cookie = yd._crumb = None
    frame = yf.download(
        "RELIANCE.NS", start="2019-01-02", end="2019-01-09", session=session,
        progress=False, auto_adjust=False, actions=False,
    )  # fmt: skip
    assert list(frame.index.date.astype(str)) == [
        "2019-01-02", "2019-01-03", "2019-01-04", "2019-01-07", "2019-01-08",
    ]  # fmt: skip
    hist = yf.Ticker("BANKNIFTY.NS", session=session).history(
        start="2019-02-19", end="2019-02-20", interval="5m", auto_adjust=False
    )
    assert len(hist) == 75  # 09:15 .. 15:25 IST, the bar STARTS
    assert str(hist.index[0].tz) == "Asia/Kolkata"
    assert hist.index[0] == pd.Timestamp("2019-02-19 09:15", tz="Asia/Kolkata")
    # the simulator saw yfinance's cookie, crumb and chart calls; its caches are ours
    assert sim.ctx.counts["chart"] >= 2 and sim.ctx.counts["crumb"] >= 1
    # (fc.yahoo.com's cookie, or the consent form when yfinance switched to its csrf strategy)
    assert sim.ctx.counts["cookie"] + sim.ctx.counts["consent"] >= 1
    assert (folder / "tkr-tz.db").exists()
    assert str(folder).endswith("sim")
