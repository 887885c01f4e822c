"""Telegram commands: what each one does, who may run it, and its answer.

:class:`CommandCenter` is the Telegram-free part: it takes a user id and a message text (or
an inline-button press) and returns :class:`Reply` objects; every read and every action goes
through the service layer (:class:`~mixbot.service.bots.BotService`), the same calls the
CLI and the web GUI make. :mod:`mixbot.notify.poller` carries updates and replies.

Rules:
- a user not in the settings' ``telegram.users`` gets "not authorised" and nothing else;
- a ``viewer`` asking for an operator command gets "needs operator";
- with one bot the bot argument may be left out; with several, a missing one is asked for
  with an inline keyboard of bot ids;
- ``/panic`` and ``/forceexit`` ask for confirmation with an inline button that expires
  after :data:`CONFIRM_S` seconds (on the center's clock);
- every command and its outcome is an audit record (``audit`` callback; the poller writes
  them to ``logs/audit/telegram.jsonl`` and to the bot's store when a bot is named).

Answers are HTML (Telegram's subset) with every value escaped; tables are ``<pre>`` blocks.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mixbot.clock import SYSTEM_CLOCK, Clock
from mixbot.notify import answers

#: Seconds a /panic or /forceexit confirmation button stays valid.
CONFIRM_S = 30.0


@dataclass
class Reply:
    """One answer: ``html`` text, optional inline ``buttons`` (rows of (label, callback
    data)), optional ``photo`` (PNG bytes, sent with ``html`` as its caption), and
    ``edit``: replace the message whose button was pressed instead of sending a new one."""

    html: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    photo: bytes | None = None
    edit: bool = False


@dataclass(frozen=True)
class Spec:
    """A command: one-line ``help``, whether it needs the ``operator`` role, whether it
    takes a bot (``bot``: ``"required"``, ``"optional"`` (all bots when left out), or
    ``""``), and whether it must be confirmed."""

    help: str
    operator: bool = False
    bot: str = ""
    confirm: bool = False


COMMANDS: dict[str, Spec] = {
    "help": Spec("what each command does"),
    "bots": Spec("every bot of this host and its state"),
    "status": Spec("a bot's state, cash, position and today's figures", bot="required"),
    "positions": Spec("open positions", bot="optional"),
    "orders": Spec("open orders", bot="optional"),
    "trades": Spec("last closed trades: /trades [bot] [n]", bot="optional"),
    "pnl": Spec("realised net PnL, total and today", bot="optional"),
    "daily": Spec("net PnL per day: /daily [n]"),
    "weekly": Spec("net PnL per ISO week"),
    "monthly": Spec("net PnL per month"),
    "balance": Spec("cash and value per bot"),
    "performance": Spec("trades, win rate and net PnL per bot"),
    "chart": Spec("the bot's equity curve as a picture", bot="required"),
    "logs": Spec("last lines of a bot's log: /logs bot [n]", bot="required"),
    "health": Spec("processes, heartbeats, feeds"),
    "version": Spec("mixbot and library versions"),
    "start": Spec("start a bot's process", operator=True, bot="required"),
    "stop": Spec("stop a bot after its current bar", operator=True, bot="required"),
    "pause": Spec("no new entries (exits still run)", operator=True, bot="required"),
    "resume": Spec("undo /pause", operator=True, bot="required"),
    "forceexit": Spec(
        "square off a bot's position: /forceexit bot [symbol]",
        operator=True,
        bot="required",
        confirm=True,
    ),
    "panic": Spec(
        "square off and halt: /panic bot or /panic all", operator=True, bot="required", confirm=True
    ),
}

#: Audit callback: (user id, role or None, command, args, outcome, bot ids concerned).
Audit = Callable[[int, str | None, str, list[str], str, list[str]], None]


class CommandCenter:
    """Answers commands for the bots ``refs`` (:class:`~mixbot.service.bots.BotRef`).

    Args:
        service: the service layer.
        refs: the host's bots.
        users: Telegram user id -> role (``viewer``/``operator``).
        audit: called once per command with its outcome.
        clock: time source of the confirmation expiry.
    """

    def __init__(
        self,
        service: Any,
        refs: list[Any],
        users: dict[int, str],
        audit: Audit | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.service = service
        self.refs = {r.bot_id: r for r in refs}
        self.users = users
        self.audit: Audit = audit or (lambda *a: None)
        self.clock = clock
        self._pending: dict[str, tuple[int, str, list[str], float]] = {}

    # ------------------------------------------------------------------ entry points
    def handle_text(self, user_id: int, text: str) -> list[Reply]:
        """The answers to a message ``text`` from ``user_id`` (non-commands get help)."""
        words = text.strip().split()
        if not words or not words[0].startswith("/"):
            return self._guard(user_id, "help", [])
        name = words[0][1:].split("@", 1)[0].lower()
        return self._guard(user_id, name, words[1:])

    def handle_button(self, user_id: int, data: str) -> list[Reply]:
        """The answers to an inline-button press with callback ``data``."""
        kind, _, rest = data.partition(":")
        if kind == "pick":  # pick:<command>:<bot>
            name, _, bot = rest.partition(":")
            return self._guard(user_id, name, [bot])
        role = self.users.get(user_id)
        if role is None:
            self.audit(user_id, None, "button", [kind], "refused: not authorised", [])
            return [Reply("Not authorised.")]
        item = self._pending.get(rest)
        if kind in ("ok", "no") and (item is None or item[0] != user_id):
            self.audit(user_id, role, "button", [kind], "refused: not valid", [])
            return [Reply("This confirmation is not valid (used or not yours).", edit=True)]
        if kind == "ok":  # ok:<token>
            return self._confirmed(user_id, rest)
        if kind == "no":
            self._pending.pop(rest, None)
            self.audit(user_id, role, item[1] if item else "button", [], "cancelled", [])
            return [Reply("Cancelled.", edit=True)]
        self.audit(user_id, role, "button", [kind], "refused: unknown button", [])
        return [Reply("Unknown button.", edit=True)]

    # ------------------------------------------------------------------ checks
    def _guard(self, user_id: int, name: str, args: list[str]) -> list[Reply]:
        role = self.users.get(user_id)
        if role is None:
            self.audit(user_id, None, name, args, "refused: not authorised", [])
            return [Reply("Not authorised.")]
        spec = COMMANDS.get(name)
        if spec is None:
            self.audit(user_id, role, name, args, "refused: unknown command", [])
            return [Reply(f"Unknown command /{html.escape(name)}. Send /help.")]
        if spec.operator and role != "operator":
            self.audit(user_id, role, name, args, "refused: needs operator", [])
            return [Reply(f"/{name} needs operator.")]
        args, bots, problem = self._bots(name, spec, args)
        if problem is not None:
            self.audit(
                user_id, role, name, args, "asked for a bot" if problem.buttons else "refused", []
            )
            return [problem]
        if spec.confirm:
            return [self._ask(user_id, name, args, bots)]
        return self._run(user_id, role, name, args, bots)

    def _bots(
        self, name: str, spec: Spec, args: list[str]
    ) -> tuple[list[str], list[str], Reply | None]:
        """Split the bot argument off ``args``: (rest, bot ids, or a Reply asking for one)."""
        if not spec.bot:
            return args, [], None
        if args and (args[0] in self.refs or (name == "panic" and args[0] == "all")):
            return args[1:], (list(self.refs) if args[0] == "all" else [args[0]]), None
        if args and not args[0].isdigit():
            known = ", ".join(self.refs) or "none"
            return args, [], Reply(f"No bot {html.escape(args[0])!s}. Bots: {html.escape(known)}")
        if len(self.refs) == 1:
            return args, list(self.refs), None
        if spec.bot == "optional":
            return args, list(self.refs), None
        rows = [[(b, f"pick:{name}:{b}")] for b in self.refs]
        if name == "panic":
            rows.append([("all bots", f"pick:{name}:all")])
        return args, [], Reply(f"/{name}: which bot?", buttons=rows)

    def _ask(self, user_id: int, name: str, args: list[str], bots: list[str]) -> Reply:
        token = secrets.token_hex(6)
        self._pending[token] = (user_id, name, [*bots, "--", *args], self.clock.monotonic())
        what = "square off and HALT" if name == "panic" else "square off"
        return Reply(
            f"<b>{what}</b> {html.escape(', '.join(bots))}? This button expires in "
            f"{CONFIRM_S:.0f} s.",
            buttons=[[("Yes, " + name, f"ok:{token}"), ("Cancel", f"no:{token}")]],
        )

    def _confirmed(self, user_id: int, token: str) -> list[Reply]:
        """Run a confirmed command (its owner pressed Yes: checked by :meth:`handle_button`)."""
        item = self._pending.pop(token)
        role = self.users[user_id]
        _, name, packed, asked_at = item
        split = packed.index("--")
        bots, args = packed[:split], packed[split + 1 :]
        if self.clock.monotonic() - asked_at > CONFIRM_S:
            self.audit(user_id, role, name, args, "expired", bots)
            return [Reply(f"/{name}: the confirmation expired; send the command again.", edit=True)]
        replies = self._run(user_id, role, name, args, bots)
        return [Reply(r.html, edit=True) for r in replies]

    # ------------------------------------------------------------------ running
    def _run(
        self, user_id: int, role: str, name: str, args: list[str], bots: list[str]
    ) -> list[Reply]:
        try:
            replies = answers.answer(self, role, name, args, [self.refs[b] for b in bots])
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - the user gets the reason, the host keeps running
            replies = [Reply(f"/{name} failed: {html.escape(str(exc))}")]
            outcome = f"failed: {exc}"
        self.audit(user_id, role, name, args, outcome, bots)
        return replies

    def help_text(self, role: str) -> str:
        """The /help answer for ``role``."""
        lines = [
            f"/{n} - {s.help}" + (" (operator)" if s.operator else "")
            for n, s in COMMANDS.items()
            if role == "operator" or not s.operator
        ]
        return "<b>mixbot commands</b>\n" + html.escape("\n".join(lines))
