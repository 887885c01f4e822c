"""schemathesis against /api/v1/openapi.json: generated requests to every documented
operation, as an operator with a bearer token, on the rig's two bots. No response is a 500
and every response matches its documented status codes, content type and schema.

The stream (server-sent events, a response that stays open) is left out. Hypothesis runs a
bounded, derandomized number of examples per operation (the same cases each run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from rig import Rig, module_rig

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_rig(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """The rig (r1 ran, r2 never) with a login limit the fuzzing cannot reach; cwd its folder."""
    yield from module_rig(tmp_path_factory, data_dir, "fuzz", login_rate_limit="100000 per minute")


def test_api_conforms_to_its_openapi_document(fuzz_rig: Rig) -> None:
    """Every operation but the stream, 12 generated cases each; all failures reported."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_rig.app)
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if op.path != "/api/v1/stream"]
    assert len(ops) >= 25, [op.path for op in ops]
    headers = fuzz_rig.token("admin")
    failures: list[str] = []
    for op in ops:

        @given(case=op.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            resp = case.call(headers=headers)
            case.validate_response(resp, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # every operation's failure, reported together
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)
