# The two commands of the README: `make demo` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build that lies on this machine's disk; a GPU user overrides it (see README, "GPU users").
TORCH_SPEC ?= torch==2.13.0
export MESHMILL_HOME ?= $(CURDIR)/.meshmill

.PHONY: install demo test system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned, so that nothing installed after it can pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# What the tests start for themselves: a throwaway PostgreSQL cluster (SeaweedFS comes from PyPI).
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL (Debian package postgresql)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql; \
	fi

demo: install
	$(BIN)/meshmill ingest samples --collection samples --tag demo --origin meshmill-samples
	$(BIN)/meshmill catalog find --collection samples
	@echo "catalog: $(MESHMILL_HOME)/catalog.db   blobs: $(MESHMILL_HOME)/blobs"

test: install system-deps
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(MESHMILL_HOME) *.egg-info
