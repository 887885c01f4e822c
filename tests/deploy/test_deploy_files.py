"""The deployment files: deploy/mixbot.service passes `systemd-analyze verify` (and a broken copy
does not), compose.yaml wires mixbot to its PostgreSQL service, the Dockerfile copies no secrets
and runs as a non-root user. Docker is not needed: the files are parsed, not built."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from mixbot.paths import REPO_ROOT

UNIT = REPO_ROOT / "deploy" / "mixbot.service"
COMPOSE = REPO_ROOT / "compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (package systemd)"
)
#: words of systemd's complaints about a unit file ("Unknown key ..., ignoring", "Failed to
#: parse ...", "Invalid ...", "Special user nobody configured, this is not safe!", ...)
COMPLAINT = re.compile(
    r"unknown|invalid|failed|ignoring|not safe|not executable|missing|error|bad|deprecated",
    re.IGNORECASE,
)


# --- systemd unit --------------------------------------------------------------------------


def _sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """``{section: [(key, value), ...]}`` of a unit file (keys may repeat)."""
    out: dict[str, list[tuple[str, str]]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            out.setdefault(section, [])
            continue
        key, _, value = line.partition("=")
        out[section].append((key.strip(), value.strip()))
    return out


def _one(sections: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    values = [v for k, v in sections.get(section, []) if k == key]
    assert len(values) == 1, f"[{section}] {key}= set {len(values)} times: {values}"
    return values[0]


def _run_user() -> tuple[str, str]:
    """An existing user and its group for the verified copy ('nobody' draws a warning)."""
    for name in ("daemon", pwd.getpwuid(os.getuid()).pw_name):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name
    pytest.skip("no user to run the verified unit as")


def _verifiable(tmp_path: Path, text: str) -> str:
    """The unit with ExecStart's binary and User=/Group= replaced by ones that exist here
    (`systemd-analyze verify` checks that the binary is executable)."""
    stub = tmp_path / "bin" / "mixbot"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    user, group = _run_user()
    text, n = re.subn(r"(?m)^ExecStart=/opt/mixbot/\.venv/bin/mixbot ", f"ExecStart={stub} ", text)
    assert n == 1, "ExecStart= does not start /opt/mixbot/.venv/bin/mixbot"
    text = re.sub(r"(?m)^User=.*$", f"User={user}", text)
    return re.sub(r"(?m)^Group=.*$", f"Group={group}", text)


def _verify(tmp_path: Path, text: str, name: str = "mixbot.service") -> tuple[int, list[str], str]:
    """Run `systemd-analyze verify` on ``text`` saved as ``name``: (rc, complaints about that
    file, whole output). Works without systemd as PID 1 (a container): --man=no skips the
    man-page lookups of Documentation=, --recursive-errors=no reports only this unit's errors
    (not those of the postgresql.service / network-online.target it orders itself after)."""
    folder = tmp_path / "units"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="info", SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")
    assert SYSTEMD_ANALYZE is not None
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", "--recursive-errors=no", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    complaints = [ln for ln in output.splitlines() if name in ln and COMPLAINT.search(ln)]
    return proc.returncode, complaints, output


@pytest.fixture()
def verify_works(tmp_path: Path) -> None:
    """Skip when `systemd-analyze verify` cannot check even a trivial unit on this machine."""
    rc, complaints, output = _verify(
        tmp_path,
        "[Unit]\nDescription=probe\n\n[Service]\nExecStart=/bin/sh -c true\n",
        name="mixbot-probe.service",
    )
    if rc != 0 or complaints:
        pytest.skip(f"systemd-analyze verify does not work here (rc {rc}): {output.strip()}")


@needs_systemd_analyze
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, verify_works: None) -> None:
    rc, complaints, output = _verify(tmp_path, _verifiable(tmp_path, UNIT.read_text()))
    assert rc == 0, output
    assert complaints == [], output


@needs_systemd_analyze
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Restart=on-failure", "Restart=sometimes"),  # bad value: "Failed to parse ..., ignoring"
        ("RestartSec=5", "RestartSecs=5"),  # typo in a key: "Unknown key ..., ignoring"
        ("ProtectSystem=strict", "ProtectSystem=very"),  # bad value of a hardening setting
    ],
)
def test_verify_catches_a_broken_unit(
    tmp_path: Path, verify_works: None, old: str, new: str
) -> None:
    text = _verifiable(tmp_path, UNIT.read_text())
    assert old in text
    rc, complaints, output = _verify(tmp_path, text.replace(old, new))
    assert rc != 0 or complaints, f"{new}: not reported by systemd-analyze verify:\n{output}"


@needs_systemd_analyze
def test_verify_catches_a_missing_binary(tmp_path: Path, verify_works: None) -> None:
    """This is why the verified copy points ExecStart= at a stub: the real path is absent here."""
    text = _verifiable(tmp_path, UNIT.read_text())
    text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=/nonexistent/mixbot", text)
    rc, _, output = _verify(tmp_path, text)
    assert rc != 0, output


def test_unit_runs_mixbot_serve_as_an_unprivileged_user() -> None:
    s = _sections(UNIT.read_text())
    exec_start = _one(s, "Service", "ExecStart").split()
    assert exec_start[:3] == ["/opt/mixbot/.venv/bin/mixbot", "serve", "--forever"]
    assert exec_start[3:] == [
        "--settings",
        "/etc/mixbot/mixbot.json",
        "/opt/mixbot/config/trading/",
    ]
    assert _one(s, "Service", "User") == "mixbot"
    assert _one(s, "Service", "Group") == "mixbot"
    assert _one(s, "Service", "WorkingDirectory") == "/opt/mixbot"
    assert _one(s, "Service", "EnvironmentFile") == "-/etc/mixbot/mixbot.env"
    assert _one(s, "Service", "Restart") == "on-failure"
    assert _one(s, "Service", "KillSignal") == "SIGTERM"
    # the supervisor's own stop takes up to stop_timeout_s (10 s by default)
    assert int(_one(s, "Service", "TimeoutStopSec")) > 10
    assert _one(s, "Service", "NoNewPrivileges") == "yes"
    assert _one(s, "Service", "ProtectSystem") == "strict"
    writable = set(_one(s, "Service", "ReadWritePaths").split())
    assert writable == {f"/opt/mixbot/{d}" for d in ("data", "logs", "reports", "config")}
    assert "postgresql.service" in _one(s, "Unit", "After").split()
    assert _one(s, "Install", "WantedBy") == "multi-user.target"


# --- compose.yaml ---------------------------------------------------------------------------


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's ``environment`` as a dict, from the list or the mapping form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {k: (v if sep else None) for k, sep, v in (str(e).partition("=") for e in env)}
    assert isinstance(env, dict)
    return {str(k): None if v is None else str(v) for k, v in env.items()}


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return doc


def test_compose_has_mixbot_and_postgres() -> None:
    services = _compose()["services"]
    assert {"mixbot", "postgres"} <= set(services)
    assert str(services["postgres"]["image"]).startswith("postgres:")
    assert services["mixbot"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "healthcheck" in services["postgres"]
    # the web GUI is published on the loopback interface only
    assert all(str(p).startswith("127.0.0.1:") for p in services["mixbot"]["ports"])


def test_compose_database_url_points_at_the_postgres_service() -> None:
    services = _compose()["services"]
    pg = _environment(services["postgres"])
    url = _environment(services["mixbot"])["MIXBOT_DATABASE_URL"]
    assert url is not None and url.startswith("postgresql+psycopg://"), url
    # the password is a ${POSTGRES_PASSWORD...} interpolation, the one postgres gets
    assert "${POSTGRES_PASSWORD" in url and "${POSTGRES_PASSWORD" in str(pg["POSTGRES_PASSWORD"])
    parts = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", url))
    assert parts.hostname == "postgres"
    assert parts.port in (None, 5432)
    assert parts.username == pg["POSTGRES_USER"]
    assert parts.path == f"/{pg['POSTGRES_DB']}"


def test_compose_passes_secrets_through_and_mounts_data_read_only() -> None:
    mixbot = _compose()["services"]["mixbot"]
    env = _environment(mixbot)
    for var in ("MIXBOT_WEB_SECRET", "MIXBOT_WEB_ADMIN_HASH"):
        # from the host environment: no value written into the compose file
        value = env.get(var, "missing")
        assert value is None or value.startswith("${"), f"{var}: {value}"
    assert env["MIXBOT_DATA"] == "/data"
    volumes = [str(v) for v in mixbot["volumes"]]
    assert any(v.endswith(":/data:ro") for v in volumes), volumes


# --- Dockerfile -----------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """``[(INSTRUCTION, arguments)]`` of a Dockerfile (comments dropped, continuations joined)."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line:
            word, _, args = line.partition(" ")
            out.append((word.upper(), args.strip()))
    return out


def test_dockerfile_copies_no_env_file_and_runs_as_non_root() -> None:
    ins = _instructions(DOCKERFILE.read_text())
    assert ins[0][0] == "FROM" and ins[0][1].startswith("python:3.11"), ins[0]
    for word, args in ins:
        if word in ("COPY", "ADD"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            assert not any(".env" in Path(s).name for s in sources), f"{word} {args}"
    users = [args for word, args in ins if word == "USER"]
    assert users, "no USER instruction: the container would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    assert ("EXPOSE", "5000") in ins
    cmd = [args for word, args in ins if word == "CMD"][-1]
    assert '"serve"' in cmd and '"--forever"' in cmd, cmd


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    entries = {ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()}
    assert {".env", ".venv", ".git", "data", "logs", "reports"} <= entries
    assert any("__pycache__" in e for e in entries)


def test_dockerfile_talib_note_matches_the_pin() -> None:
    """The Dockerfile relies on TA-Lib's binary wheel (no C build): a new pin needs a re-check."""
    pin = re.search(r"(?m)^TA-Lib==(\S+)", (REPO_ROOT / "requirements.txt").read_text())
    assert pin is not None
    assert f"TA-Lib=={pin.group(1)}" in DOCKERFILE.read_text()
