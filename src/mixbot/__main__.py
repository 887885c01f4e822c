"""``python -m mixbot`` = the ``mixbot`` command."""

from mixbot.cli import main

raise SystemExit(main())
