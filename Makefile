# Atelier: two entry points, `make dev` and `make test`. Everything else is a helper.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
# The infrastructure linters live in a venv of their own (their pins conflict with moto's).
INFRA_VENV ?= $(VENV)/infra
PYTHON ?= python3
# One target directory shared by every crate, kept outside the clone so that builds are
# reused across clones (CI runs on a fresh clone; cold builds still work).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/atelier/target
export ATELIER_VENV := $(abspath $(VENV))

.PHONY: help dev test venv fmt lint test-rust infra-lint release sizes clean

help:
	@echo "make dev   - run Atelier locally (local AWS, seeded users and catalog, API and portal on http://127.0.0.1:8080)"
	@echo "make test  - run every test"

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed

$(INFRA_VENV)/.installed: infra/requirements.txt infra/constraints.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt -c infra/constraints.txt
	touch $@

dev: venv
	cargo run --quiet -p dev-server

test: venv infra-lint fmt lint test-rust

fmt:
	cargo fmt --all --check

lint:
	cargo clippy --workspace --all-targets --quiet -- -D warnings

test-rust:
	cargo test --workspace --quiet

# The AWS templates: cfn-lint, checkov (failures only, none allowed unless skipped inline with
# a reason) and the drift check against the Rust sources (infra/tests/test_drift.py).
infra-lint: $(INFRA_VENV)/.installed
	$(INFRA_VENV)/bin/cfn-lint infra/*.yaml infra/products/*.yaml
	$(INFRA_VENV)/bin/checkov -d infra --framework cloudformation --quiet --compact --skip-download
	PYTHONDONTWRITEBYTECODE=1 $(INFRA_VENV)/bin/python -m unittest discover -s infra/tests

# Release binaries of the Lambda functions (slow: not part of `make test`).
release:
	cargo build --release -p workspaces-api -p catalog-api -p state-sync -p scheduler

sizes: release
	@for f in workspaces-api catalog-api state-sync scheduler; do \
		printf '%-16s %s bytes\n' $$f $$(stat -c %s $(CARGO_TARGET_DIR)/release/$$f); done

clean:
	rm -rf $(VENV)
