# Atelier: two entry points, `make dev` and `make test`. Everything else is a helper.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
# One target directory shared by every crate, kept outside the clone so that builds are
# reused across clones (CI runs on a fresh clone; cold builds still work).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/atelier/target
export ATELIER_VENV := $(abspath $(VENV))

.PHONY: help dev test venv fmt lint test-rust release sizes clean

help:
	@echo "make dev   - run Atelier locally (local AWS, seeded users and catalog, API and portal on http://127.0.0.1:8080)"
	@echo "make test  - run every test"

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed

dev: venv
	cargo run --quiet -p dev-server

test: venv fmt lint test-rust

fmt:
	cargo fmt --all --check

lint:
	cargo clippy --workspace --all-targets --quiet -- -D warnings

test-rust:
	cargo test --workspace --quiet

# Release binaries of the Lambda functions (slow: not part of `make test`).
release:
	cargo build --release -p workspaces-api -p catalog-api -p state-sync -p scheduler

sizes: release
	@for f in workspaces-api catalog-api state-sync scheduler; do \
		printf '%-16s %s bytes\n' $$f $$(stat -c %s $(CARGO_TARGET_DIR)/release/$$f); done

clean:
	rm -rf $(VENV)
