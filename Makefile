# The two set-up commands of the README: `make synth` (main job) and `make test`.
# Each one builds what it needs from nothing: a virtualenv with the pinned Python
# dependencies and, for synth, the pinned CDK CLI from package.json.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
PYTEST_ARGS ?= -n 2 --dist loadgroup

# Offline, quiet, reproducible: no telemetry, no Node end-of-life banner, no version reporting.
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: synth test test-live bench bench-synth bench-runtime bench-lambda deps clean demo

deps: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## Synthesize every stack of the sample config into cdk.out (offline, cdk-nag packs on).
## Lambda bundling (pip) is skipped unless BUNDLE=1; templates and asset hashes are the same either way.
synth: deps
	MESH_SKIP_BUNDLING=$(if $(BUNDLE),0,1) $(CDK) synth --no-notices --quiet --no-version-reporting
	@echo "Synthesized: $$(ls cdk.out/*.template.json | wc -l) templates in cdk.out/"

## Run the offline test suite (snapshots, assertions, cdk-nag, cfn-lint, runtime).
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

## Opt-in tests against a real AWS account (skip cleanly without credentials).
test-live: $(VENV)/.installed
	$(PY) -m pytest tests/live -m live --run-live

## Tell the mesh's story in the in-process emulation (two tenants, a worker in another account, forget).
demo: $(VENV)/.installed
	$(PY) -m runtime.testing.demo

bench-synth: $(VENV)/.installed
	$(PY) benchmarks/synth_scale.py

bench-runtime: $(VENV)/.installed
	$(PY) benchmarks/runtime_hot_path.py

bench-lambda: $(VENV)/.installed
	$(PY) benchmarks/lambda_cold_start.py

bench: bench-synth bench-runtime bench-lambda

clean:
	rm -rf cdk.out .pytest_cache
