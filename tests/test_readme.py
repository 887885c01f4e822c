"""The README's config reference is the one generated from the schema."""

from __future__ import annotations

from pathlib import Path

from mixbot.config.reference import markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- BEGIN CONFIG REFERENCE -->", "<!-- END CONFIG REFERENCE -->"


def embedded() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def test_readme_reference_is_current() -> None:
    assert embedded() == markdown(), "README config reference is stale: run `make readme`"


def test_readme_quick_start_has_exactly_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
