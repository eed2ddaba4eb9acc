# OSCAR — every target installs what it needs first (scripts/setup.sh is idempotent).
PY := .venv/bin/python
PYTEST := $(PY) -m pytest
export PYTHONPATH := $(CURDIR)

.PHONY: setup demo test lint test-unit test-storage test-net test-vm bench clean image

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

lint: setup
	$(PY) -m ruff check oscar tests bench bench/save_restore bench/tui bench/deploy bootimage scripts
	$(PY) -m mypy

test: setup lint
	$(PYTEST) -m "unit or storage or net or vm" --durations=40 tests

test-unit: setup
	$(PYTEST) -m unit tests

test-storage: setup
	$(PYTEST) -m storage tests

test-net: setup
	$(PYTEST) -m net tests

test-vm: setup
	$(PYTEST) -m vm tests

image: setup
	bootimage/build.py

bench: setup
	$(PY) bench/save_restore
	$(PY) bench/tui
	$(PY) bench/deploy

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
