"""``mixbot web passwd``: prompt for a password and print its werkzeug hash for
``web.users[].password_hash`` (through an environment variable: the settings hold only the
``${VAR}`` reference)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

EPILOG = """\
example:
  export MIXBOT_WEB_ADMIN_HASH="$(mixbot web passwd)"
  # config/mixbot.json:
  #   {"web": {"users": [{"name": "admin", "password_hash": "${MIXBOT_WEB_ADMIN_HASH}",
  #                        "role": "operator"}]}}
  # or put MIXBOT_WEB_ADMIN_HASH='...' (single quotes: the hash has $ signs) in .env
"""


def cmd_passwd(args: argparse.Namespace) -> int:
    from mixbot.web.users import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if password != getpass.getpass("again: "):
            print("mixbot web passwd: the two passwords differ; nothing printed", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("mixbot web passwd: use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``mixbot web`` and its ``passwd`` subcommand."""
    p = sub.add_parser("web", help="web GUI helpers (password hashes)")
    wsub = p.add_subparsers(dest="web_command", metavar="COMMAND", required=True)
    pw = wsub.add_parser(
        "passwd",
        help="print a password hash for web.users[].password_hash",
        description=(
            "Prompt for a password (twice) and print its werkzeug hash (scrypt) for "
            "web.users[].password_hash. The settings file holds only a ${VAR} reference: "
            "export the hash in that variable or put it in a git-ignored .env file."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pw.add_argument(
        "--stdin", action="store_true", help="read the password from standard input (scripts)"
    )
    pw.set_defaults(func=cmd_passwd)
