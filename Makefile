# The two set-up commands of the README: `make synth` and `make test`. Each builds what it needs from nothing:
# a virtualenv with the pinned Python dependencies and the pinned CDK CLI from package.json, after checking that
# Python (>= 3.11) and Node.js (>= 20) are there. `make help` lists the targets.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
PYTEST_ARGS ?= -n 2 --dist loadgroup
# `make synth BUNDLE=1` bundles the Lambda code (pip) into a deployable assembly.
BUNDLING := $(filter 1 yes true,$(BUNDLE))

# Offline, quiet, reproducible: no telemetry, no Node end-of-life banner, no version reporting.
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# A .venv that exists but is broken (made by an old Python, or its Python is gone) is rebuilt even when its
# stamp looks up to date.
VENV_FORCE := $(if $(filter ok missing,$(shell sh scripts/dev-env venv-state $(VENV))),,FORCE)

.DEFAULT_GOAL := deps
.PHONY: help deps venv synth test lint test-live bench bench-synth bench-runtime bench-lambda clean demo FORCE

help: ## List the targets (this text)
	@echo "Usage: make <target> [PYTHON=python3.12] [BUNDLE=1] [PYTEST_ARGS=...]"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z-]+:[^#]*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: $(VENV)/.installed node_modules/.installed ## Check Python and Node, build .venv and node_modules (the default)

venv: $(VENV)/.installed ## Create, update or repair .venv only

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml $(VENV_FORCE)
	@sh scripts/dev-env check-node
	@sh scripts/dev-env ensure-venv "$(VENV)" "$(PYTHON)"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@sh scripts/dev-env check-node
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: deps ## Synthesize the sample config into cdk.out (cdk-nag on; BUNDLE=1 bundles a deployable assembly)
	@rm -f cdk.out/manifest.json cdk.out/*.template.json cdk.out/*.assets.json cdk.out/*.metadata.json
	MESH_SKIP_BUNDLING=$(if $(BUNDLING),0,1) $(CDK) synth --no-notices --quiet --no-version-reporting $(if $(BUNDLING),,--ignore-errors)
	@echo "Synthesized: $$(ls cdk.out/*.template.json | wc -l) templates in cdk.out/"
	@$(if $(BUNDLING),true,echo "Review only: Lambda code not bundled, so 'cdk deploy --app cdk.out' refuses it. Deploy with 'npx cdk deploy', or 'make synth BUNDLE=1'.")

test: deps lint ## Run ruff and mypy, then the offline test suite (what CI runs)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed ## ruff check and mypy (also the first step of make test)
	@status=0; $(PY) -m ruff check . || status=1; $(PY) -m mypy || status=1; exit $$status

test-live: $(VENV)/.installed ## Opt-in tests against a deployed mesh (skip cleanly without AWS credentials)
	$(PY) -m pytest tests/live -m live --run-live

demo: $(VENV)/.installed ## Tell the mesh's story offline: two tenants, a worker in another account, recall, forget
	$(PY) -m runtime.testing.demo

bench-synth: deps ## Synth-scale benchmark (benchmarks/README.md)
	$(PY) benchmarks/synth_scale.py

bench-runtime: $(VENV)/.installed ## Runtime hot-path benchmark
	$(PY) benchmarks/runtime_hot_path.py

bench-lambda: $(VENV)/.installed ## Lambda cold-start benchmark
	$(PY) benchmarks/lambda_cold_start.py

bench: bench-synth bench-runtime bench-lambda ## All three benchmarks

clean: ## Remove cdk.out and build leftovers (keeps .venv and node_modules)
	rm -rf cdk.out .pytest_cache build *.egg-info

FORCE:
