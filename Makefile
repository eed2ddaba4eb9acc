# OSCAR — every target installs what it needs first (scripts/setup.sh is idempotent).
PY := .venv/bin/python
PYTEST := $(PY) -m pytest
export PYTHONPATH := $(CURDIR)
LOCALE := oscar/data/locale
PO := $(LOCALE)/fr/LC_MESSAGES/oscar.po

.PHONY: setup demo test lint test-unit test-storage test-net test-vm bench clean image pot po

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

lint: setup
	$(PY) -m ruff check oscar tests bench bench/save_restore bench/tui bench/deploy bootimage scripts
	$(PY) -m mypy
	msgfmt -c --check-format -o /dev/null $(PO)

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

# Translations: `make pot` extracts every message (code and menus) with its places;
# `make po` merges them into the French catalogue, where translators work (new and changed
# messages arrive fuzzy: translate them and remove the flag), then compiles it.
pot: setup
	$(PY) scripts/pot.py

po: pot
	msgmerge --quiet --update --backup=none --previous $(PO) $(LOCALE)/oscar.pot
	msgfmt -c --check-format --statistics -o $(PO:.po=.mo) $(PO)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
