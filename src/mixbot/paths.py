"""Where mixbot finds things on disk.

The real market data used by the demo, tests and benchmarks is never copied into
the repository: it is read from a folder named by the ``MIXBOT_DATA`` environment
variable (``TRADEBOT_SAMPLE_DATA`` is accepted too), defaulting to
``../shared/data`` relative to the repository root when that folder exists.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root when running from a checkout (src layout: src/mixbot/paths.py).
REPO_ROOT = Path(__file__).resolve().parents[2]

DATA_ENV_VARS = ("MIXBOT_DATA", "TRADEBOT_SAMPLE_DATA")


def sample_data_dir() -> Path | None:
    """Return the folder of real market data, or None when none is available.

    Looks at ``$MIXBOT_DATA``, then ``$TRADEBOT_SAMPLE_DATA``, then
    ``<repo>/../shared/data`` and ``<cwd>/../shared/data``. A variable that is set
    but points nowhere is returned as is, so the caller's error names that path.
    """
    for var in DATA_ENV_VARS:
        value = os.environ.get(var)
        if value:
            return Path(value).expanduser()
    for base in (REPO_ROOT, Path.cwd()):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return None


def expand_data_path(path: str, base: Path | None = None) -> Path:
    """Expand a config file path.

    A leading ``@data/`` is replaced by :func:`sample_data_dir` (``${...}`` is reserved for
    secrets, see :mod:`mixbot.config.secrets`);
    a relative path is taken relative to ``base`` (normally the current directory).
    """
    data = sample_data_dir()
    if data is not None:
        if path.startswith("@data/"):
            path = str(data / path[len("@data/") :])
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    return p
