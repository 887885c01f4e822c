# mixbot: two commands for a fresh machine (Python 3.11+).
#   make demo   - create .venv if missing, install, run the main job on the example configs
#   make test   - create .venv, install dev extras, lint, type-check and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test venv install install-dev lint typecheck pytest clean readme

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/mixbot demo

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install-dev
	$(BIN)/mypy src/mixbot

pytest: install-dev
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Refresh the generated parts: editor schema and the README's config reference.
readme: install
	$(BIN)/mixbot schema --export
	$(BIN)/python -c "import re,pathlib; from mixbot.config.reference import markdown; p=pathlib.Path('README.md'); t=p.read_text(); b,e='<!-- BEGIN CONFIG REFERENCE -->','<!-- END CONFIG REFERENCE -->'; p.write_text(t.split(b)[0]+b+'\n'+markdown()+e+t.split(e)[1])"
