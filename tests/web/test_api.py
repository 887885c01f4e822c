"""The REST API on real replays (BANKNIFTY 1-minute, 2019): logins, roles, CSRF, rate limits,
the numbers it serves against the store, the editor's validation at the right line, saving,
panic confirmation, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rig import PASSWORDS, Rig, build

from mixbot.store.repository import Store


def test_no_credentials_is_401_json(rig: Rig) -> None:
    """Every API endpoint but the token needs a login: 401 with a JSON code and message."""
    for path in ("/api/v1/bots", "/api/v1/bots/r1/trades", "/api/v1/backtests"):
        r = rig.client.get(path)
        assert r.status_code == 401
        assert r.json["code"] == "unauthorized" and r.json["message"]
    r = rig.client.get("/api/v1/bots", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_token_then_bots_lists_both_with_the_stores_numbers(rig: Rig) -> None:
    """A bearer token from /auth/token reads the bots; r1's row agrees with its store."""
    r = rig.client.post("/api/v1/auth/token", json={"username": "admin", "password": "x" * 9})
    assert r.status_code == 401
    headers = rig.token("admin")
    r = rig.client.get("/api/v1/bots", headers=headers)
    assert r.status_code == 200
    rows = {b["bot_id"]: b for b in r.json["bots"]}
    assert set(rows) == {"r1", "r2"}
    store = Store(f"sqlite:///{rig.folder / 'store.sqlite'}", "r1", "paper")
    trades = store.trades()
    assert trades, "the replay of 2019-01-01..10 closes trades"
    assert rows["r1"]["trades_closed"] == len(trades)
    assert abs(rows["r1"]["realized_pnl_total"] - sum(t["pnl_net"] for t in trades)) < 0.01
    assert rows["r1"]["status"] == "finished" and rows["r2"]["status"] == "never run"
    assert r.json["totals"]["bots"] == 2


def test_viewer_reads_but_gets_403_on_writes(rig: Rig) -> None:
    """A viewer reads everything and is refused every action with 403."""
    headers = rig.token("watcher")
    assert rig.client.get("/api/v1/bots/r1", headers=headers).status_code == 200
    for path in ("/api/v1/bots/r1/stop", "/api/v1/bots/r1/pause", "/api/v1/bots/r1/start"):
        r = rig.client.post(path, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden"
    r = rig.client.put("/api/v1/bots/r1/config", headers=headers, json={"text": "{}"})
    assert r.status_code == 403


def _session_login(rig: Rig, user: str) -> tuple[object, str]:
    """A test client logged in through the /login form; returns it and its CSRF token."""
    c = rig.app.test_client()
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": user, "password": PASSWORDS[user], "csrf_token": token})
    assert r.status_code == 302
    page = c.get("/").get_data(as_text=True)
    meta = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return c, meta


def test_session_write_needs_the_csrf_header(rig: Rig) -> None:
    """With the session cookie, a POST without X-CSRFToken is 400; with it, it goes through
    and the bot's audit trail names the user."""
    c, csrf = _session_login(rig, "admin")
    r = c.post("/api/v1/bots/r2/pause")  # type: ignore[attr-defined]
    assert r.status_code == 400
    r = c.post("/api/v1/bots/r2/pause", headers={"X-CSRFToken": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.json["command"] == "pause"
    r = c.post("/login", data={"username": "admin", "password": "x"})  # type: ignore[attr-defined]
    assert r.status_code == 400  # the login form is protected too


def test_command_is_queued_with_the_users_name(rig: Rig) -> None:
    """stop through the API queues a control command carrying the web user's name."""
    from mixbot.store.control import ControlChannel
    from mixbot.store.db import open_engine

    r = rig.client.post("/api/v1/bots/r1/stop", headers=rig.token("admin"))
    assert r.status_code == 200
    url = f"sqlite:///{rig.folder / 'store.sqlite'}"
    ch = ControlChannel(open_engine(url), "r1", "paper", url)
    row = ch.get(r.json["id"])
    assert row is not None and row["command"] == "stop" and row["source"] == "web"
    assert (row["args"] or {}).get("user") == "admin"


def test_login_failures_are_rate_limited(data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """After web.login_rate_limit failed logins from one address: 429; success does not count."""
    monkeypatch.chdir(tmp_path)
    rig = build(tmp_path, data_dir, run_first=False, login_rate_limit="3 per minute")
    for _ in range(5):
        rig.token("admin")  # successes are not counted
    bad = {"username": "admin", "password": "wrong-password"}
    codes = [rig.client.post("/api/v1/auth/token", json=bad).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_editor_validation_points_at_the_line(rig: Rig) -> None:
    """The editor's validation gives the messages of `mixbot validate` at the right line."""
    from mixbot.config.validate import validate_file

    headers = rig.token("admin")
    text = rig.client.get("/api/v1/bots/r1/config", headers=headers).json["text"]
    lines = text.splitlines()
    n = next(i for i, ln in enumerate(lines) if '"position_size"' in ln)
    lines[n] = re.sub(r'"position_size": [^,}]+', '"position_size": "half"', lines[n])
    bad = "\n".join(lines) + "\n"
    r = rig.client.post("/api/v1/bots/r1/config/validate", headers=headers, json={"text": bad})
    assert r.status_code == 200 and r.json["ok"] is False
    hits = [p for p in r.json["problems"] if p["path"] == "$.trading.position_size"]
    assert hits and hits[0]["line"] == n + 1
    cli = validate_file(str(rig.configs / "r1.json"), text=bad)
    assert [p.message for p in cli.errors] == [
        p["message"] for p in r.json["problems"] if p["severity"] == "error"
    ]
    r = rig.client.put("/api/v1/bots/r1/config", headers=headers, json={"text": bad})
    assert r.status_code == 422 and r.json["detail"]["problems"]


def test_save_writes_atomically_with_a_backup(rig: Rig) -> None:
    """A valid change is saved with a backup of the old file, and audited with the user."""
    headers = rig.token("admin")
    path = rig.configs / "r2.json"
    old = path.read_text()
    doc = json.loads(old)
    doc["description"] = "edited in the browser"
    new = json.dumps(doc, indent=2) + "\n"
    r = rig.client.put("/api/v1/bots/r2/config", headers=headers, json={"text": new})
    assert r.status_code == 200, r.json
    assert path.read_text() == new
    assert Path(r.json["backup"]).read_text() == old
    doc["bot_id"] = "other"
    r = rig.client.put("/api/v1/bots/r2/config", headers=headers, json={"text": json.dumps(doc)})
    assert r.status_code == 422 and path.read_text() == new


def test_panic_needs_the_bot_id_typed(rig: Rig) -> None:
    """Panic without the bot id typed back is refused (422); with it, it is queued."""
    headers = rig.token("admin")
    r = rig.client.post("/api/v1/bots/r2/panic", headers=headers, json={"confirm": "r1"})
    assert r.status_code == 422
    r = rig.client.post("/api/v1/bots/r2/panic", headers=headers, json={"confirm": "r2"})
    assert r.status_code == 200 and r.json["command"] == "panic"


def test_chart_markers_are_the_trades(rig: Rig) -> None:
    """The chart's bars span the replayed days and there is one entry and one exit marker per
    closed trade, at the trade's prices."""
    headers = rig.token("admin")
    chart = rig.client.get("/api/v1/bots/r1/chart", headers=headers).json
    trades = rig.client.get("/api/v1/bots/r1/trades", headers=headers).json
    bars = chart["bars"]
    assert bars["time"] and bars["time"][0] >= "2019-01-01" and bars["time"][-1] < "2019-01-11"
    assert all(lo <= hi for lo, hi in zip(bars["low"], bars["high"], strict=True))
    from mixbot.web.charts import MAX_BARS, wall

    assert len(bars["time"]) < MAX_BARS  # the whole replay fits: every trade is charted
    exits = sorted(m["price"] for m in chart["markers"] if m["kind"] == "exit")
    assert exits == sorted(t["exit_price"] for t in trades)
    entries = sorted((m["time"], m["price"]) for m in chart["markers"] if m["kind"] == "entry")
    assert entries == sorted((wall(t["entry_time"]), t["entry_price"]) for t in trades)
    for m in chart["markers"]:
        assert bars["time"][0] <= m["time"] <= bars["time"][-1]


def test_equity_has_drawdown(rig: Rig) -> None:
    """Drawdown is the fall below the running peak of the stored equity, in percent."""
    points = rig.client.get("/api/v1/bots/r1/equity", headers=rig.token("admin")).json
    assert points
    peak = 0.0
    for p in points:
        peak = max(peak, p["value"])
        assert abs(p["drawdown_pct"] - (peak - p["value"]) / peak * 100) < 1e-3


def test_unknown_bot_is_404(rig: Rig) -> None:
    r = rig.client.get("/api/v1/bots/nope", headers=rig.token("admin"))
    assert r.status_code == 404 and r.json["code"] == "not_found"


def test_metrics_in_prometheus_format(rig: Rig) -> None:
    """/metrics parses as Prometheus text and counts r1's fills as its store does."""
    from prometheus_client.parser import text_string_to_metric_families

    text = rig.client.get("/metrics").get_data(as_text=True)
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    store = Store(f"sqlite:///{rig.folder / 'store.sqlite'}", "r1", "paper")
    fills = [s for s in fams["mixbot_fills"].samples if s.labels.get("bot_id") == "r1"]
    assert fills and fills[0].value == len(store.fills())
    assert "mixbot_outbox_depth" in fams and "mixbot_feed_state" in fams
    assert rig.client.get("/healthz").json == {"ok": True, "bots": 2}


def test_metrics_need_a_login_off_loopback(rig: Rig) -> None:
    rig.app.config["MIXBOT_PUBLIC"] = True
    try:
        assert rig.client.get("/metrics").status_code == 401
        assert rig.client.get("/metrics", headers=rig.token("watcher")).status_code == 200
    finally:
        rig.app.config["MIXBOT_PUBLIC"] = False


def test_security_headers(rig: Rig) -> None:
    r = rig.client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in r.get_data(as_text=True)  # no inline scripts
    c, _ = _session_login(rig, "watcher")
    cookie = c.get_cookie("mixbot_session")  # type: ignore[attr-defined]
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_openapi_documents_every_api_route(rig: Rig) -> None:
    doc = rig.client.get("/api/v1/openapi.json").json
    documented = {p for p in doc["paths"]}
    for rule in rig.app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            assert path in documented, path


def test_start_is_audited_with_the_user(rig: Rig) -> None:
    """start (taken by the supervisor, which writes no audit row) is audited by the API."""
    r = rig.client.post("/api/v1/bots/r1/start", headers=rig.token("admin"))
    assert r.status_code == 200 and r.json["command"] == "start"
    audit = rig.client.get("/api/v1/bots/r1/audit", headers=rig.token("watcher")).json
    mine = [a for a in audit if a["kind"] == "start_requested"]
    assert mine and "admin" in mine[-1]["message"] and mine[-1]["data"]["by"] == "admin"


def test_an_unusable_store_is_a_json_503(data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A store file that is not a database: the API answers 503 JSON naming the file, not a
    traceback."""
    monkeypatch.chdir(tmp_path)
    rig = build(tmp_path, data_dir, run_first=False)
    (tmp_path / "store.sqlite").write_bytes(b"this is not an SQLite database" * 100)
    r = rig.client.get("/api/v1/bots/r2/equity", headers=rig.token("admin"))
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.json["code"] == "store_unavailable" and "store.sqlite" in r.json["message"]


def test_session_plus_a_bogus_bearer_header_still_needs_csrf(rig: Rig) -> None:
    """A cookie-authenticated POST cannot skip the CSRF check by adding any Bearer header."""
    c, _ = _session_login(rig, "admin")
    r = c.post("/api/v1/bots/r2/pause", headers={"Authorization": "Bearer bogus"})  # type: ignore[attr-defined]
    assert r.status_code == 400


def test_viewer_cannot_validate_and_log_tail_stays_in_the_folder(rig: Rig) -> None:
    """Validation (it reads the server's files) is an operator's; a log file outside the
    folder mixbot serve runs in is not served."""
    r = rig.client.post(
        "/api/v1/bots/r1/config/validate", headers=rig.token("watcher"), json={"text": "{}"}
    )
    assert r.status_code == 403
    headers = rig.token("admin")
    path = rig.configs / "r2.json"
    old = path.read_text()
    doc = json.loads(old)
    doc["logging"] = {"log_file": "/etc/passwd"}
    r = rig.client.put("/api/v1/bots/r2/config", headers=headers, json={"text": json.dumps(doc)})
    try:
        assert r.status_code == 200
        r = rig.client.get("/api/v1/bots/r2/log", headers=rig.token("watcher"))
        assert r.status_code == 403 and "root:" not in r.get_data(as_text=True)
    finally:
        path.write_text(old)


def test_openapi_document_needs_a_login_off_loopback(rig: Rig) -> None:
    assert rig.client.get("/api/v1/openapi.json").status_code == 200  # loopback: tools read it
    rig.app.config["MIXBOT_PUBLIC"] = True
    try:
        assert rig.client.get("/api/v1/openapi.json").status_code == 401
        assert rig.client.get("/api/v1/openapi.json", headers=rig.token()).status_code == 200
    finally:
        rig.app.config["MIXBOT_PUBLIC"] = False


def test_trades_csv_download_is_the_cli_csv(rig: Rig, tmp_path: Path) -> None:
    """The bot page's CSV download has the bytes `mixbot trades --csv` writes for the bot."""
    import subprocess
    import sys

    c, _ = _session_login(rig, "watcher")
    r = c.get("/bots/r1/trades.csv")  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.mimetype == "text/csv"
    out = tmp_path / "cli.csv"
    env = {"MIXBOT_DATABASE_URL": f"sqlite:///{rig.folder / 'store.sqlite'}", "PATH": "/usr/bin"}
    subprocess.run(
        [sys.executable, "-m", "mixbot", "trades", str(rig.configs / "r1.json"), "--csv", str(out)],
        cwd=rig.folder,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert r.get_data() == out.read_bytes()
    assert len(out.read_text().splitlines()) > 1
