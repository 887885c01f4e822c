"""Property tests: mutated configs and random text never make the validator raise.

Every problem must name the file and carry a JSON path starting with ``$``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixbot.config.problems import Report
from mixbot.config.validate import validate_file

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "config" / "trading").rglob("*.json"))
BASES = [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES]
NAME = "fuzzed.json"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["paper", "upstox", "csv", "1d", "4h", "${X}", "09:15", "RSIBBEntryMixin"])
)
json_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=12,
)
keys = st.text(max_size=15) | st.sampled_from(["type", "name", "params", "symbol", "enabled"])


def _containers(doc: Any, parts: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = []
    if isinstance(doc, (dict, list)):
        out.append((parts, doc))
        items = doc.items() if isinstance(doc, dict) else enumerate(doc)
        for k, v in items:
            out += _containers(v, (*parts, k))
    return out


def _retype(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return 0


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        targets = _containers(doc)
        _, node = draw(st.sampled_from(targets))
        op = draw(st.sampled_from(["delete", "replace", "add", "retype"]))
        if isinstance(node, dict):
            if op == "add" or not node:
                node[draw(keys)] = draw(json_values)
                continue
            key = draw(st.sampled_from(sorted(node)))
        else:
            if op == "add" or not node:
                node.append(draw(json_values))
                continue
            key = draw(st.integers(min_value=0, max_value=len(node) - 1))
        if op == "delete":
            del node[key]
        elif op == "replace":
            node[key] = draw(json_values)
        else:
            node[key] = _retype(node[key])
    return doc


def _assert_well_formed(report: Report) -> None:
    assert report.file == NAME
    for p in report.problems:
        assert p.file == NAME
        assert p.path.startswith("$"), p
        assert p.message.strip(), p
        assert p.severity in ("error", "warning")
        assert p.line is None or (p.line >= 1 and (p.column or 1) >= 1), p
        assert "Traceback" not in p.render()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated(), indent=st.sampled_from([None, 2]))
def test_mutated_configs_never_raise(doc: dict[str, Any], indent: int | None) -> None:
    report = validate_file(NAME, text=json.dumps(doc, indent=indent), env={})
    _assert_well_formed(report)
    if not report.ok:
        assert report.errors[0].path.startswith("$")


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_random_text_never_raises(text: str) -> None:
    _assert_well_formed(validate_file(NAME, text=text, env={}))


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from([json.dumps(b, indent=2) for b in BASES]),
    cut=st.integers(min_value=0, max_value=3000),
    junk=st.text(alphabet='{}[]":,0123456789abc \n\\', max_size=8),
)
def test_damaged_text_never_raises(base: str, cut: int, junk: str) -> None:
    cut = min(cut, len(base))
    _assert_well_formed(validate_file(NAME, text=base[:cut] + junk + base[cut + 1 :], env={}))
