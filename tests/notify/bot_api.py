"""A local fake Telegram Bot API server (aiohttp) that real python-telegram-bot talks to
unchanged through its ``base_url`` (``MIXBOT_TELEGRAM_API``).

It answers ``POST /bot<token>/<method>`` the way the Bot API does: ``{"ok": true,
"result": ...}``, or errors ``{"ok": false, "error_code": 429, "description": ...,
"parameters": {"retry_after": N}}``; a 502 answers with an HTML body like a proxy would.
Methods: ``getMe``, ``deleteWebhook``, ``getUpdates`` (long polling with ``offset`` and
``timeout`` over updates queued by the test), ``sendMessage``, ``sendPhoto``,
``editMessageText``, ``answerCallbackQuery``, ``setMyCommands``. A wrong token gets 401.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token-for-the-local-server"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "mixbot", "username": "mixbot_test_bot"}


@dataclass
class Call:
    """One request: method name, its parameters (JSON-decoded) and when it came
    (``at``: monotonic seconds; ``wall``: epoch seconds)."""

    method: str
    params: dict[str, Any]
    at: float
    wall: float = 0.0


@dataclass
class BotApiServer:
    """The server; ``start()`` returns its base URL (for ``MIXBOT_TELEGRAM_API``)."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    _faults: list[tuple[int, Any]] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_id: int = 1000
    _message_id: int = 1
    down: bool = False  # every request answers 502 while set
    stall_s: float = 0.0  # every request waits this long before it is answered (a stalled server)
    reject_html: bool = False  # answer 400 "can't parse entities" to every HTML parse_mode

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ test controls
    def fail(self, times: int, status: int = 429, retry_after: int = 3) -> None:
        """The next ``times`` requests answer ``status`` (429 with ``retry_after``, or 502)."""
        with self._lock:
            self._faults += [(status, retry_after)] * times

    def sent(self, method: str = "sendMessage") -> list[Call]:
        """Successful calls of ``method``, in arrival order."""
        return [c for c in self.calls if c.method == method]

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue one update (its ``update_id`` is assigned) for ``getUpdates``."""
        with self._lock:
            self._update_id += 1
            self._updates.append({"update_id": self._update_id, **update})

    # ------------------------------------------------------------------ server
    def start(self) -> str:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_post("/bot{token}/{method}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stall_s = 0.0  # release held requests, so the server can shut down
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self._runner = None

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        out: dict[str, Any] = {}
        for k, v in form.items():
            if isinstance(v, str):
                try:
                    out[k] = json.loads(v)
                except ValueError:
                    out[k] = v
            else:
                out[k] = {"filename": v.filename, "size": len(v.file.read())}
        return out

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        held = 0.0
        while held < self.stall_s:  # stalled; stop() ends it by setting stall_s to 0
            await asyncio.sleep(0.05)
            held += 0.05
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if self.down or (fault is not None and fault[0] >= 500):
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        if fault is not None:
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {fault[1]}",
                "parameters": {"retry_after": fault[1]},
            }
            return web.json_response(body, status=429)
        if self.reject_html and params.get("parse_mode") == "HTML":
            body = {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: can't parse entities: unsupported start tag",
            }
            return web.json_response(body, status=400)
        result = await self._result(method, params)
        self.calls.append(Call(method, params, time.monotonic(), time.time()))
        return web.json_response({"ok": True, "result": result})

    async def _result(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("deleteWebhook", "setMyCommands", "answerCallbackQuery"):
            return True
        if method == "getUpdates":
            return await self._get_updates(int(p.get("offset") or 0), float(p.get("timeout") or 0))
        if method in ("sendMessage", "sendPhoto", "editMessageText"):
            return self._message(p)
        return True

    async def _get_updates(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + min(timeout, 2.0)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = list(self._updates)
            if ready or time.monotonic() >= deadline:
                return ready
            await asyncio.sleep(0.02)

    def _message(self, p: dict[str, Any]) -> dict[str, Any]:
        self._message_id += 1
        chat = p.get("chat_id")
        cid = int(chat) if isinstance(chat, int | str) and str(chat).lstrip("-").isdigit() else 0
        msg: dict[str, Any] = {
            "message_id": int(p.get("message_id") or self._message_id),
            "date": int(time.time()),
            "chat": {"id": cid, "type": "private" if cid > 0 else "group", "title": "g"},
            "from": BOT_USER,
        }
        if "text" in p:
            msg["text"] = str(p["text"])
        if "photo" in p:
            msg["photo"] = [{"file_id": "f1", "file_unique_id": "u1", "width": 1, "height": 1}]
        return msg


def command_update(user_id: int, text: str, chat_id: int | None = None) -> dict[str, Any]:
    """A ``message`` update as Telegram sends a command: text with a ``bot_command`` entity."""
    chat = user_id if chat_id is None else chat_id
    cmd_len = len(text.split()[0]) if text.startswith("/") else 0
    msg: dict[str, Any] = {
        "message_id": 10_000 + user_id % 1000,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private", "first_name": "u"},
        "from": {"id": user_id, "is_bot": False, "first_name": "u"},
        "text": text,
    }
    if cmd_len:
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": cmd_len}]
    return {"message": msg}


def button_update(user_id: int, data: str, message_id: int = 1) -> dict[str, Any]:
    """A ``callback_query`` update: ``user_id`` pressed the inline button ``data``."""
    return {
        "callback_query": {
            "id": f"cb{message_id}{user_id}",
            "from": {"id": user_id, "is_bot": False, "first_name": "u"},
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": "u"},
                "text": "?",
            },
        }
    }
