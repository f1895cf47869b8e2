# The README's two commands: `make demo` and `make test` (ruff, mypy, pytest, the docs build).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test docs bench fuzz clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed-run
	$(BIN)/evtchn demo

test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The reference pages (docs/, MkDocs Material) into build/site/.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Every benchmark runs even when one misses its target; then the target fails, naming the misses.
# bench_toolstack compares with libvirt's test driver: libvirt-python builds against libvirt's headers
# (Debian: libvirt-dev, pkg-config), so it is installed here when they are present.
bench: $(VENV)/.installed-test
	@if ! $(BIN)/python -c 'import libvirt' 2>/dev/null && pkg-config --exists libvirt 2>/dev/null; then \
		$(BIN)/pip install --quiet libvirt-python; fi
	@failed=""; for b in bench/bench_*.py; do \
		echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "bench: missed:$$failed" >&2; exit 1; fi

# >= 100 000 hostile inputs over every surface (tests/fuzz/deep.py); exits 1 on an uncaught exception or hang
fuzz: $(VENV)/.installed-test
	$(BIN)/python -m tests.fuzz.deep --inputs 100000

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
