# The two commands of the README: `make demo` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch/torchvision pair that lies on this machine's disk (hy3dgen needs torchvision, and PyPI's
# torchvision does not load beside the CPU-only torch 2.13.0 wheel); a GPU user overrides it (docs/how-to/gpus.md).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
export MESHMILL_HOME ?= $(CURDIR)/.meshmill

.PHONY: install demo test lint docs system-deps clean ui serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned, so that nothing installed after it can pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[test,eval,learned,formats,docs]'
	touch $@

install: $(VENV)/.installed

# Debian packages the tests use: PostgreSQL (a throwaway cluster per run), Blender (a real glTF
# client; python3-numpy is what its importer needs), Chromium (the Dagster UI and the viewer, driven
# by playwright-core) and Redis (the Celery workers' broker). SeaweedFS comes from PyPI.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v blender >/dev/null || missing="$$missing blender"; \
	[ -d /usr/lib/python3/dist-packages/numpy ] || missing="$$missing python3-numpy"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

# From the npm registry: three.js (the web app's viewer, served locally), the Khronos glTF-Validator
# and playwright-core (drives Debian's Chromium in the tests).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The main job on the bundled samples: ingest, then every image × two variants through the Dagster assets.
demo: install node_modules/.installed
	$(BIN)/meshmill variant add mobile --preset mobile
	$(BIN)/meshmill variant add desktop --preset desktop --texture-size 1024
	$(BIN)/meshmill convert samples --collection samples --tag demo --origin meshmill-samples --variant mobile --variant desktop
	$(BIN)/meshmill catalog find --collection samples
	@echo "GLBs and previews: $(MESHMILL_HOME)/blobs/outputs/   catalog: $(MESHMILL_HOME)/catalog.db"
	@echo "Look at them: make serve   (or .venv/bin/meshmill serve, then open http://127.0.0.1:8787)"
	@echo "Dagster UI:   make ui      (or .venv/bin/meshmill ui, then open http://127.0.0.1:3000)"

serve: install node_modules/.installed
	$(BIN)/meshmill serve

ui: install
	$(BIN)/meshmill ui

# The arrows between the packages (import-linter contracts in pyproject.toml), lint and format, then the suite.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The documentation site into site/: strict, so a broken link or anchor fails (tests/docs checks what it covers).
docs: install
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=$(CURDIR) $(BIN)/mkdocs build --strict

test: lint docs system-deps node_modules/.installed
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(MESHMILL_HOME) *.egg-info site
