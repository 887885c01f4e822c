"""The host's Telegram poller: ``getUpdates`` long polling with python-telegram-bot, one per
host for all its bots (two pollers of one token make Telegram answer "Conflict: terminated
by other getUpdates request"), answering through :class:`~mixbot.notify.commands.CommandCenter`.

At start: ``deleteWebhook`` (polling and a webhook exclude each other) and ``setMyCommands``
(the menu Telegram clients show). Then ``getUpdates(offset, timeout)`` in a loop: messages
with a ``bot_command`` and inline-button presses (``callback_query``) are answered; the
offset moves past every update and is kept in ``<audit folder>/telegram.offset`` after each
batch, so a restarted host does not answer an update again (Telegram forgets an update once
a later offset is requested; a kill between answering and saving repeats that batch only).

Replies are sent in HTML parse mode, split under Telegram's 4,096-character limit (a
``<pre>`` block cut in two is closed and reopened), and sent again as plain text if
Telegram refuses the markup. Network errors back off (1 s doubling to 30 s) on the
poller's clock; no error ends the poller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from mixbot.clock import SYSTEM_CLOCK, Clock
from mixbot.config.settings import TelegramSettings
from mixbot.notify.commands import COMMANDS, CommandCenter, Reply
from mixbot.notify.telegram import api_base, bot_token

log = logging.getLogger("mixbot.telegram")

#: Telegram's limit on one message's text (characters).
LIMIT = 4096
#: A command older than this (seconds) when it is read is not run (the host was down).
STALE_S = 120.0


def split_html(text: str, limit: int = LIMIT - 96) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line ends; a ``<pre>``
    block that is cut is closed at the end of one piece and reopened in the next."""
    pieces: list[str] = []
    cur = ""
    in_pre = False
    lines: list[str] = []
    for line in text.split("\n"):  # a line longer than a piece is cut (at the limit)
        lines += [line[i : i + limit] for i in range(0, max(len(line), 1), limit)]
    for line in lines:
        add = ("\n" if cur else "") + line
        if len(cur) + len(add) > limit and cur:
            pieces.append(cur + ("</pre>" if in_pre else ""))
            cur = ("<pre>" if in_pre else "") + line
        else:
            cur += add
        in_pre = (in_pre or "<pre>" in line) and "</pre>" not in line.split("<pre>")[-1]
    if cur:
        pieces.append(cur)
    return pieces


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class TelegramPoller(threading.Thread):
    """Polls and answers in a background thread until :meth:`stop`.

    Args:
        settings: the host's ``telegram`` section (token resolved here).
        center: answers the commands.
        audit_file: JSON-lines audit of every command (default ``logs/audit/telegram.jsonl``).
        poll_timeout_s: ``getUpdates`` long-poll timeout (seconds).
        clock: time source of the backoff waits.
    """

    def __init__(
        self,
        settings: TelegramSettings,
        center: CommandCenter,
        audit_file: Path | None = None,
        poll_timeout_s: float = 10.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name="mixbot-telegram", daemon=True)
        from telegram import Bot

        self._token = bot_token(settings)
        self.bot = Bot(self._token, base_url=f"{api_base()}/bot")
        self.center = center
        self.audit_file = audit_file or Path("logs") / "audit" / "telegram.jsonl"
        self.poll_timeout_s = poll_timeout_s
        self.clock = clock
        self._stop_event = threading.Event()
        self.ready = threading.Event()  # set once the command menu is registered
        center.audit = self.audit

    # ------------------------------------------------------------------ audit
    def audit(
        self,
        user: int,
        role: str | None,
        command: str,
        args: list[str],
        outcome: str,
        bots: list[str],
    ) -> None:
        """Append one audit record (UTC time, user, role, command, args, outcome, bots) and,
        for each bot named, an audit event in its store."""
        rec = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "user": user,
            "role": role,
            "command": command,
            "args": args,
            "outcome": outcome,
            "bots": bots,
        }
        self.audit_file.parent.mkdir(parents=True, exist_ok=True)
        with self.audit_file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        for b in bots:
            ref = self.center.refs.get(b)
            store = self.center.service.store(ref) if ref is not None else None
            if store is None:
                continue
            try:
                store.event("telegram_command", f"/{command} by {user} ({role}): {outcome}", rec)
            except Exception as exc:  # noqa: BLE001 - the command ran; its answer must still go
                log.error("telegram: audit event of %s not stored: %s", b, exc)

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        finally:
            try:
                loop.run_until_complete(self.bot.shutdown())
            except Exception:  # noqa: BLE001
                pass
            loop.close()

    async def _main(self) -> None:
        from telegram import BotCommand

        wait = 1.0
        while not self._stop_event.is_set():
            try:
                await self.bot.delete_webhook()
                await self.bot.set_my_commands(
                    [BotCommand(n, s.help[:256]) for n, s in COMMANDS.items()]
                )
                break
            except Exception as exc:  # noqa: BLE001
                log.warning("telegram: cannot register the command menu: %s", self._scrub(exc))
                if self.clock.wait(self._stop_event, wait):
                    return
                wait = min(30.0, wait * 2)
        self.ready.set()
        offset = self._load_offset()
        wait = 1.0
        while not self._stop_event.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=int(self.poll_timeout_s),
                    allowed_updates=["message", "callback_query"],
                )
                wait = 1.0
            except Exception as exc:  # noqa: BLE001 - network, 5xx, Conflict: back off, go on
                log.warning(
                    "telegram: getUpdates failed: %s; again in %.0f s", self._scrub(exc), wait
                )
                if self.clock.wait(self._stop_event, wait):
                    return
                wait = min(30.0, wait * 2)
                continue
            for u in updates:
                offset = u.update_id + 1
                try:
                    await self._handle(u)
                except Exception as exc:  # noqa: BLE001 - one bad update never stops the poller
                    log.error("telegram: update %s: %s", u.update_id, self._scrub(exc))
            if updates:
                try:
                    self._save_offset(offset)
                except OSError as exc:  # a full disk must not end the poller
                    log.error("telegram: cannot keep the update offset: %s", exc)

    @property
    def offset_file(self) -> Path:
        """Where the next ``getUpdates`` offset is kept between runs."""
        return self.audit_file.with_name("telegram.offset")

    def _load_offset(self) -> int:
        try:
            return int(self.offset_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _save_offset(self, offset: int) -> None:
        tmp = self.offset_file.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(str(offset))
        tmp.replace(self.offset_file)

    async def _handle(self, u: Any) -> None:
        if u.callback_query is not None:
            q = u.callback_query
            await q.answer()
            replies = self.center.handle_button(q.from_user.id, q.data or "")
            chat = q.message.chat.id if q.message else q.from_user.id
            mid = q.message.message_id if q.message else None
            for r in replies:
                await self._send(chat, r, edit_id=mid if r.edit else None)
            return
        msg = u.message
        if msg is None or msg.from_user is None or not msg.text:
            return
        age = self.clock.time() - msg.date.timestamp()
        if age > STALE_S:  # sent while the host was down: acting on it now could surprise
            self.audit(
                msg.from_user.id,
                self.center.users.get(msg.from_user.id),
                msg.text.split()[0].lstrip("/"),
                [],
                f"ignored: {age:.0f} s old",
                [],
            )
            await self._send(
                msg.chat.id,
                Reply(
                    f"Ignored {html.escape(msg.text.split()[0])}: sent {age / 60:.0f} min ago "
                    "while mixbot was not running. Send it again."
                ),
            )
            return
        for r in self.center.handle_text(msg.from_user.id, msg.text):
            await self._send(msg.chat.id, r)

    async def _send(self, chat: int, r: Reply, edit_id: int | None = None) -> None:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.constants import ParseMode
        from telegram.error import BadRequest

        markup = None
        if r.buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in r.buttons]
            )
        if r.photo is not None:
            await self.bot.send_photo(
                chat, r.photo, caption=r.html[:1024], parse_mode=ParseMode.HTML
            )
            return
        pieces = split_html(r.html)
        for i, piece in enumerate(pieces):
            kb = markup if i == len(pieces) - 1 else None
            try:
                if edit_id is not None and i == 0:
                    await self.bot.edit_message_text(
                        piece, chat, edit_id, parse_mode=ParseMode.HTML, reply_markup=kb
                    )
                else:
                    await self.bot.send_message(
                        chat, piece, parse_mode=ParseMode.HTML, reply_markup=kb
                    )
            except BadRequest as exc:
                if "parse" not in str(exc).lower():
                    raise
                await self.bot.send_message(chat, _plain(piece), reply_markup=kb)

    def _scrub(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}".replace(self._token, "***")

    def stop(self, timeout: float = 15.0) -> None:
        """End after the current ``getUpdates`` (at most ``poll_timeout_s``)."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
