"""``python -m mixbot`` = the ``mixbot`` command."""

from mixbot.cli import console

console()
