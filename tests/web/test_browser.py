"""The web GUI in a real browser (Playwright driving Debian's Chromium) against a real
``mixbot serve --idle`` with two BANKNIFTY 1-minute replay bots (r1, r2) and two users
(admin: operator, watcher: viewer).

The tests run in file order and share one serve process, one browser and the admin's
logged-in page: login -> dashboard -> start r1 -> r1's chart -> editor -> panic r2 ->
CSRF -> backtest -> viewer -> no credentials. Screenshots go to reports/screenshots/ (git-ignored).
Every wait is an upper bound (Playwright's expect / wait_for), never a sleep.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mixbot.paths import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright for Python cannot be imported",
    exc_type=ImportError,
)
from browser_rig import USERS, Serve  # noqa: E402

expect = sync_api.expect
SHOTS = REPO_ROOT / "reports" / "screenshots"
#: upper bounds (ms): a replay with trades, a page with plotly, a quick UI reaction
SLOW, PAGE, QUICK = 90_000, 45_000, 20_000
POSITIVE = re.compile(r"^\s*[1-9]\d*\s*$")


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Serve]:
    """One ``mixbot serve --idle`` for the module (stopped with SIGTERM at the end)."""
    srv = Serve(tmp_path_factory.mktemp("serve"), data_dir).start()
    try:
        yield srv
    finally:
        code = srv.stop()
        print(f"mixbot serve exited {code}:\n{srv.output()}")  # shown when a test fails
        assert code == 0, f"mixbot serve did not stop cleanly on SIGTERM (exit {code})"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium (headless) for the module."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield b
        finally:
            b.close()


def _context(browser: Any, serve: Serve) -> Any:
    ctx = browser.new_context(base_url=serve.url, viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(PAGE)
    return ctx


def _login(page: Any, name: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", USERS[name][0])
    page.click("form.login button[type=submit]")


@pytest.fixture(scope="module")
def admin(browser: Any, serve: Serve) -> Iterator[Any]:
    """The operator's page, logged in through the login form (one context for the module)."""
    ctx = _context(browser, serve)
    try:
        page = ctx.new_page()
        _login(page, "admin")
        yield page
    finally:
        ctx.close()


def _shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    return path


def _fetch(page: Any, path: str, csrf: bool) -> dict[str, Any]:
    """A POST ``fetch`` from the page (with or without the X-CSRFToken header): status, body."""
    return page.evaluate(  # type: ignore[no-any-return]
        """async ([path, csrf]) => {
            const headers = csrf
              ? {"X-CSRFToken": document.querySelector("meta[name=csrf-token]").content}
              : {};
            const r = await fetch(path, {method: "POST", headers});
            let body = null;
            try { body = await r.json(); } catch (e) { body = null; }
            return {status: r.status, body};
        }""",
        [path, csrf],
    )


# ---------------------------------------------------------------------- the operator
def test_login_lands_on_dashboard(admin: Any, serve: Serve) -> None:
    """The login form (username, password; filled by the ``admin`` fixture) logs the operator
    in and lands on the dashboard, with an HttpOnly session cookie."""
    expect(admin).to_have_url(serve.url + "/")
    expect(admin.locator("#user-name")).to_have_text("admin")
    expect(admin.locator("body")).to_have_attribute("data-role", "operator")
    expect(admin.locator("h1")).to_have_text("Bots")
    cookies = {c["name"]: c for c in admin.context.cookies()}
    assert cookies["mixbot_session"]["httpOnly"], cookies


def test_dashboard_lists_both_bots(admin: Any) -> None:
    """The dashboard shows one row per bot config (r1 and r2), idle, with operator buttons."""
    for bot_id in ("r1", "r2"):
        row = admin.locator(f'tr[data-bot-id="{bot_id}"]')
        expect(row).to_be_visible()
        expect(row.locator('button[data-cmd="start"]')).to_be_visible()
    expect(admin.locator("#bots tbody tr")).to_have_count(2)


def test_start_shows_trades_live(admin: Any) -> None:
    """Start on r1's row runs its replay, and the row's trades cell turns positive without a
    page load (a marker set on ``window`` before the click survives): the live update path."""
    admin.evaluate("window.__marker = 1")
    admin.locator('tr[data-bot-id="r1"] button[data-cmd="start"]').click()
    expect(admin.locator("#flash")).to_contain_text("start sent to r1", timeout=QUICK)
    trades = admin.locator('tr[data-bot-id="r1"] td.trades')
    expect(trades).to_have_text(POSITIVE, timeout=SLOW)
    assert admin.evaluate("window.__marker") == 1, "the dashboard reloaded"
    expect(admin.locator('tr[data-bot-id="r2"] td.trades')).to_have_text(re.compile(r"^\s*0?\s*$"))
    _shot(admin, "dashboard.png")


def test_bot_page_chart_has_markers(admin: Any) -> None:
    """r1's page draws its candlestick chart with trade markers (``data-markers`` > 0 and
    plotly's scatter points) and lists the trades."""
    admin.goto("/bots/r1")
    chart = admin.locator("#chart")
    expect(chart).to_have_attribute("data-markers", POSITIVE, timeout=PAGE)
    points = admin.locator("#chart .scatterlayer .point")
    expect(points.first).to_be_attached(timeout=PAGE)
    assert points.count() > 0
    expect(admin.locator("#trades tbody tr").first).to_be_attached(timeout=PAGE)
    expect(admin.locator("#bot-status")).not_to_have_text("…")
    _shot(admin, "bot.png")


def test_editor_flags_line_and_saves(admin: Any, serve: Serve) -> None:
    """The editor points an invalid value at its line (``line N`` in the problems list) and
    saves a valid change to the file on disk (the flash says saved)."""
    admin.goto("/bots/r1/edit")
    text = admin.locator("#config-text")
    expect(text).not_to_have_value("", timeout=PAGE)
    expect(admin.locator("#validity")).to_have_text(re.compile(r"^valid"), timeout=PAGE)

    doc = json.loads(text.input_value())
    doc["trading"]["position_size"] = "lots"
    bad = json.dumps(doc, indent=2) + "\n"
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if '"position_size"' in ln)
    text.fill(bad)
    problem = admin.locator("#problems li", has_text="position_size")
    expect(problem).to_have_count(1, timeout=QUICK)
    expect(problem.locator("a")).to_have_text(re.compile(rf"^line {line}:"))
    expect(admin.locator("#validity")).to_have_text(re.compile(r"error"))
    problem.locator("a").click()  # selects that line in the textarea
    chosen = text.evaluate("t => t.value.slice(t.selectionStart, t.selectionEnd)")
    assert chosen == bad.splitlines()[line - 1]
    expect(admin.locator("#gutter")).to_contain_text(f"\u25cf{line:>4}")
    _shot(admin, "editor.png")

    doc["trading"]["position_size"] = 0.4
    doc["description"] = "edited in the browser test"
    text.fill(json.dumps(doc, indent=2) + "\n")
    expect(admin.locator("#problems li.error")).to_have_count(0, timeout=QUICK)
    admin.click("#save")
    expect(admin.locator("#flash")).to_have_text(re.compile(r"^saved "), timeout=QUICK)
    on_disk = json.loads(serve.files["r1"].read_text())
    assert on_disk["description"] == "edited in the browser test"
    assert on_disk["trading"]["position_size"] == 0.4


def test_panic_needs_confirmation(admin: Any, serve: Serve) -> None:
    """On r2's page Panic stays disabled until the bot id is typed; then it sends the panic
    (the flash says so), queued in the store as a web command of user admin because r2 never
    ran, and the bot's status still reads fine from the API."""
    admin.goto("/bots/r2")
    panic, confirm = admin.locator("#panic"), admin.locator("#panic-confirm")
    expect(panic).to_be_disabled()
    confirm.fill("r")
    expect(panic).to_be_disabled()
    confirm.fill("r2")
    expect(panic).to_be_enabled()
    panic.click()
    expect(admin.locator("#flash")).to_contain_text("panic sent (queued)", timeout=QUICK)
    expect(panic).to_be_disabled()
    resp = admin.request.get("/api/v1/bots/r2")
    assert resp.status == 200, resp.text()
    row = resp.json()["row"]
    assert (row["bot_id"], row["running"]) == ("r2", False)
    pending = serve.pending("r2")  # r2 never ran: the command waits in the store
    assert [(c["command"], c["source"]) for c in pending] == [("panic", "web")], pending
    assert "admin" in str(pending[0]["args"]), pending


def test_post_without_csrf_token_is_refused(admin: Any) -> None:
    """A logged-in POST from the page without the X-CSRFToken header gets 400."""
    admin.goto("/")
    res = _fetch(admin, "/api/v1/bots/r1/pause", csrf=False)
    assert res["status"] == 400, res
    assert res["body"]["code"] == "bad_request", res


# ---------------------------------------------------------------------- others
def test_backtest_page_runs_a_job_against_buy_and_hold(admin: Any) -> None:
    """The backtest page runs r2's config over two days as a background job with a progress
    bar, then shows its metrics next to buy-and-hold of the same instrument and the chart."""
    page = admin
    page.goto("/backtests")
    page.select_option("#bt-bot", "r2")
    page.fill("#bt-from", "2019-01-02")
    page.fill("#bt-to", "2019-01-03")
    page.click("#bt-form button[type=submit]")
    expect(page.locator("#bt-progress")).to_be_visible(timeout=QUICK)
    expect(page.locator("#bt-result")).to_be_visible(timeout=SLOW)
    rows = page.locator("#bt-metrics tbody tr")
    expect(rows.first).to_contain_text("Total return")
    bh = rows.first.locator("td").nth(2).inner_text()
    assert re.fullmatch(r"-?\d+\.\d{2}", bh.strip()), bh  # buy-and-hold's return, a number
    expect(page.locator("#bt-equity .scatterlayer .trace")).to_have_count(3, timeout=PAGE)
    _shot(page, "backtest.png")


def test_viewer_sees_no_operator_buttons(browser: Any, serve: Serve) -> None:
    """A viewer's dashboard and bot page show no command buttons and no Panic, and the API
    refuses a viewer's command (403) even with a valid CSRF token."""
    ctx = _context(browser, serve)
    try:
        page = ctx.new_page()
        _login(page, "watcher")
        expect(page).to_have_url(serve.url + "/")
        expect(page.locator("body")).to_have_attribute("data-role", "viewer")
        expect(page.locator('tr[data-bot-id="r1"]')).to_be_visible()
        expect(page.locator('tr[data-bot-id="r2"]')).to_be_visible()
        expect(page.locator("button[data-cmd]")).to_have_count(0)
        res = _fetch(page, "/api/v1/bots/r1/stop", csrf=True)
        assert res["status"] == 403, res
        assert res["body"]["code"] == "forbidden", res
        page.goto("/bots/r1")
        expect(page.locator("#bot-status")).not_to_have_text("…")
        expect(page.locator("#panic")).to_have_count(0)
        expect(page.locator("button[data-cmd]")).to_have_count(0)
    finally:
        ctx.close()


def test_api_without_credentials_is_401(serve: Serve) -> None:
    """The API without a session or token answers 401 with a JSON error carrying a code."""
    req = urllib.request.Request(serve.url + "/api/v1/bots", headers={"Accept": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 401
    body = json.loads(err.value.read())
    assert body["code"] == "unauthorized", body
