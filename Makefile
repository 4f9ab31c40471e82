# Atelier: two entry points, `make dev` and `make test`. Everything else is a helper.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
# The infrastructure linters live in a venv of their own (their pins conflict with moto's).
INFRA_VENV ?= $(VENV)/infra
# So does the API fuzzer (schemathesis), for the same reason.
FUZZ_VENV ?= $(VENV)/fuzz
PYTHON ?= python3
# One target directory shared by every crate, kept outside the clone so that builds are
# reused across clones (CI runs on a fresh clone; cold builds still work).
# Caution: cargo names our own crates by their path inside the workspace, so two checkouts
# edited and built alternately can pick up each other's artifacts; give each long-lived
# checkout its own CARGO_TARGET_DIR (a fresh clone is always newer than the cache: safe).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/atelier/target
export ATELIER_VENV := $(abspath $(VENV))

.PHONY: help dev test venv fmt lint test-rust api-fuzz infra-lint release sizes agent bench bench-gateway clean portal-types portal portal-test e2e chromium \
	deploy-venv package sam-validate gateway-keys deploy-check deploy deploy-guide

help:
	@echo "make dev   - run Atelier locally (local AWS, seeded users and catalog, API and portal on http://127.0.0.1:8080)"
	@echo "make test  - run every test (Rust, portal unit tests, browser journey)"

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed

$(INFRA_VENV)/.installed: infra/requirements.txt infra/constraints.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt -c infra/constraints.txt
	touch $@

dev: venv portal
	cargo run --quiet -p dev-server

test: venv infra-lint sam-validate fmt lint test-rust api-fuzz portal-test e2e deploy-guide

fmt:
	cargo fmt --all --check

# The workspace at once, then each deployed function alone: a workspace build unifies the
# composition root's features, so only a build of one function shows that its own feature
# set compiles without warnings (and links only its SDK crates).
lint:
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	for f in $(FUNCTIONS) atelier-gateway; do cargo clippy --quiet -p $$f -- -D warnings; done

test-rust:
	cargo test --workspace --quiet

$(FUZZ_VENV)/.installed: fuzz/requirements.txt fuzz/constraints.txt
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install --quiet --disable-pip-version-check -r fuzz/requirements.txt -c fuzz/constraints.txt
	touch $@

# schemathesis against a dev server of its own on free ports, as a scientist, an admin and a
# finance officer (fuzz/api_fuzz.py; docs/api.md). ATELIER_FUZZ_EXAMPLES (default 30) cases
# per operation and phase, ATELIER_FUZZ_SEED to change the generated data, ATELIER_FUZZ_PHASES
# (default examples,coverage,fuzzing,stateful).
api-fuzz: venv $(FUZZ_VENV)/.installed
	cargo build --quiet -p dev-server
	$(FUZZ_VENV)/bin/python fuzz/api_fuzz.py $(CARGO_TARGET_DIR)/debug/dev-server

# The AWS templates: cfn-lint, checkov (failures only, none allowed unless skipped inline with
# a reason) and the drift check against the Rust sources (infra/tests/test_drift.py).
infra-lint: $(INFRA_VENV)/.installed
	$(INFRA_VENV)/bin/cfn-lint infra/*.yaml infra/products/*.yaml
	$(INFRA_VENV)/bin/checkov -d infra --framework cloudformation --quiet --compact --skip-download
	PYTHONDONTWRITEBYTECODE=1 $(INFRA_VENV)/bin/python -m unittest discover -s infra/tests

# The portal (frontend/). node_modules is installed from package-lock.json again only when
# the lock file changes (stamp file, like the venv). `npm ci` refuses a lock file that lacks
# the other platforms' optional builds (rollup, esbuild), which happens when the registry
# only carries linux-x64 ones; `npm install --no-save` then installs from the same lock
# without changing it.
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && (npm ci --no-audit --no-fund --loglevel=error 2>/dev/null \
		|| npm install --no-save --no-audit --no-fund --loglevel=error)
	touch $@

# The portal's API types (frontend/src/generated/openapi.ts, git-ignored, never edited): the
# OpenAPI document the API serves, printed by `cargo run -p atelier-web --example
# openapi-document`, through openapi-typescript. Made again before every portal build and test
# (cargo rebuilds the example only when shared/web changes), so that `tsc` fails where the
# portal disagrees with the Rust views.
portal-types: frontend/node_modules/.installed
	cd frontend && npm run --silent generate

portal: portal-types
	cd frontend && npm run build

portal-test: portal-types
	cd frontend && npx vitest run

chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# Browser journey: starts its own dev stack on free ports (see frontend/e2e/journey.mjs).
e2e: venv portal chromium
	cargo build --quiet -p dev-server
	node frontend/e2e/journey.mjs

# Release binaries of the Lambda functions (slow: not part of `make test`), in a target
# directory of their own so that release and debug builds never evict each other.
RELEASE_TARGET_DIR ?= $(HOME)/.cache/atelier/release-target
FUNCTIONS := workspaces-api catalog-api state-sync data-access scheduler cost-actuals

# One function at a time: built together, cargo would unify the composition root's
# features and every binary would carry every adapter's code paths.
release:
	for f in $(FUNCTIONS); do CARGO_TARGET_DIR=$(RELEASE_TARGET_DIR) cargo build --release -p $$f; done

sizes: release
	@for f in $(FUNCTIONS); do \
		printf '%-16s %s bytes\n' $$f $$(stat -c %s $(RELEASE_TARGET_DIR)/release/$$f); done

# The workspace agent (agent/, ADR 0008), as the products install it: a release binary for
# x86_64-unknown-linux-gnu (the products' Amazon Linux 2023 image), built on such a host. Prints
# its path, its size and the newest glibc symbol version it needs: Amazon Linux 2023 has
# glibc 2.34, so a build that needs a newer one (a newer build host) fails here, not on the machine.
AGENT_GLIBC_MAX := 2.34
agent:
	@[ "$$(rustc -vV | sed -n 's/^host: //p')" = x86_64-unknown-linux-gnu ] \
		|| { echo "make agent builds on an x86_64-unknown-linux-gnu host"; exit 1; }
	CARGO_TARGET_DIR=$(RELEASE_TARGET_DIR) cargo build --release -p atelier-agent
	@bin=$(RELEASE_TARGET_DIR)/release/atelier-agent; \
	glibc=$$(objdump -T $$bin | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1); \
	printf '%s %s bytes (needs glibc %s)\n' $$bin $$(stat -c %s $$bin) $$glibc; \
	[ "$$(printf '%s\n' $$glibc $(AGENT_GLIBC_MAX) | sort -V | tail -1)" = $(AGENT_GLIBC_MAX) ] \
		|| { echo "needs glibc $$glibc, newer than Amazon Linux 2023's $(AGENT_GLIBC_MAX)"; exit 1; }

# ---- Going live (docs/deploy.md). The deploy tools (aws-sam-cli, the AWS CLI, cargo-lambda,
# zig) live in a venv of their own: aws-sam-cli's boto3 and click pins conflict with checkov's.
# .venv/deploy is a link to the real venv, kept outside the clone under a name derived from the
# pins (DEPLOY_VENV_STORE/<hash>): cargo-lambda writes its zig wrappers under a name derived from
# its own path, and cargo rebuilds every C dependency (aws-lc-sys first) when the compiler's
# path changes, so a venv inside each fresh clone cost a full release rebuild per clone.
DEPLOY_VENV ?= $(VENV)/deploy
DEPLOY_VENV_STORE ?= $(HOME)/.cache/atelier/deploy-venvs
$(DEPLOY_VENV)/.installed: infra/deploy-requirements.txt infra/deploy-constraints.txt
	@mkdir -p $(DEPLOY_VENV_STORE) $(dir $(DEPLOY_VENV)); \
	real=$(DEPLOY_VENV_STORE)/$$(cat $^ <($(PYTHON) -V) | sha256sum | cut -c1-16); \
	flock $(DEPLOY_VENV_STORE)/.lock bash -euo pipefail -c ' \
		[ -f "$$1/.installed" ] && exit 0; rm -rf "$$1"; echo "installing the deploy tools into $$1"; \
		$(PYTHON) -m venv "$$1"; \
		"$$1/bin/pip" install --quiet --disable-pip-version-check -r infra/deploy-requirements.txt -c infra/deploy-constraints.txt; \
		touch "$$1/.installed"' _ "$$real"; \
	if [ "$$(readlink $(DEPLOY_VENV) || true)" != "$$real" ]; then rm -rf $(DEPLOY_VENV); ln -s "$$real" $(DEPLOY_VENV); fi; \
	touch "$$real/.installed"

deploy-venv: $(DEPLOY_VENV)/.installed

# The deployment artefacts, in build/ (git-ignored), which infra/template.yaml's CodeUri names:
# build/lambda/<function>/bootstrap.zip (cargo-lambda, zig-linked for provided.al2023's glibc,
# one function at a time like `release`) with build/lambda/<function>/architecture, and
# build/agent/atelier-agent (`make agent`: a plain release binary, always x86_64, the products'
# instance types). ARCH (x86_64 or arm64) is the Lambdas' architecture; make deploy passes the
# one that was built as the template's FunctionArchitecture. arm64 needs the aarch64 standard
# library (`rustup target add aarch64-unknown-linux-gnu`). PACKAGE picks what to build, for
# example `make package PACKAGE=catalog-api` (the deploy guide's test does that). Cargo builds in
# LAMBDA_TARGET_DIR: zig as the C compiler and linker would otherwise rebuild the release tree's
# C dependencies, and the other way round. cargo-lambda adds its own release defaults to the
# workspace's profile (panic = "abort", and -C target-cpu=haswell on x86_64), which `make
# release` and the benchmarks do not have; `--disable-optimizations` would drop them.
ARCH ?= x86_64
PACKAGE ?= $(FUNCTIONS) atelier-agent
LAMBDA_TARGET_DIR ?= $(HOME)/.cache/atelier/lambda-target
package: $(DEPLOY_VENV)/.installed
	@case "$(ARCH)" in \
		x86_64) ;; \
		arm64) rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
			|| { echo "make package ARCH=arm64 needs the aarch64 standard library: rustup target add aarch64-unknown-linux-gnu"; exit 1; } ;; \
		*) echo "ARCH must be x86_64 or arm64, not '$(ARCH)'"; exit 1 ;; \
	esac
	@for f in $(filter-out atelier-agent,$(PACKAGE)); do \
		case " $(FUNCTIONS) " in *" $$f "*) ;; *) echo "$$f is not a Lambda function (FUNCTIONS: $(FUNCTIONS))"; exit 1 ;; esac; \
		rm -rf build/lambda/$$f; \
		echo "cargo lambda build --release --$(if $(filter arm64,$(ARCH)),arm64,x86-64) -p $$f"; \
		PATH="$(abspath $(DEPLOY_VENV))/bin:$$PATH" CARGO_TARGET_DIR=$(LAMBDA_TARGET_DIR) \
			cargo lambda build --quiet --release --$(if $(filter arm64,$(ARCH)),arm64,x86-64) -p $$f \
			--output-format zip --lambda-dir build/lambda; \
		echo $(ARCH) > build/lambda/$$f/architecture; \
	done
	@if [ -n "$(filter atelier-agent,$(PACKAGE))" ]; then \
		$(MAKE) --no-print-directory agent RELEASE_TARGET_DIR=$(LAMBDA_TARGET_DIR); \
		mkdir -p build/agent && cp $(LAMBDA_TARGET_DIR)/release/atelier-agent build/agent/atelier-agent; \
	fi
	@printf '%-16s %-7s %12s %9s  %s\n' artefact arch bytes MiB path; \
	for f in $(FUNCTIONS); do \
		z=build/lambda/$$f/bootstrap.zip; [ -f $$z ] || continue; b=$$(stat -c %s $$z); \
		printf '%-16s %-7s %12s %9s  %s\n' $$f $$(cat build/lambda/$$f/architecture) $$b $$(awk "BEGIN{printf \"%.2f\", $$b/1048576}") $$z; \
	done; \
	if [ -f build/agent/atelier-agent ]; then b=$$(stat -c %s build/agent/atelier-agent); \
		printf '%-16s %-7s %12s %9s  %s\n' atelier-agent x86_64 $$b $$(awk "BEGIN{printf \"%.2f\", $$b/1048576}") build/agent/atelier-agent; fi

# `sam validate` (the SAM transform, which needs no AWS call since SAM ships the managed-policy
# list) and `sam validate --lint` (cfn-lint after the transform) on the SAM template, offline:
# no credentials (the chain finds none and needs none), no instance metadata lookups, no telemetry.
# The plain CloudFormation templates are cfn-linted by infra-lint.
SAM_OFFLINE := SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=eu-west-1 \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
sam-validate: $(DEPLOY_VENV)/.installed
	$(SAM_OFFLINE) $(DEPLOY_VENV)/bin/sam validate --template-file infra/template.yaml
	$(SAM_OFFLINE) $(DEPLOY_VENV)/bin/sam validate --lint --template-file infra/template.yaml
	cd infra/tests && ATELIER_SAM_TRANSLATE=1 PYTHONDONTWRITEBYTECODE=1 $(SAM_OFFLINE) $(abspath $(DEPLOY_VENV))/bin/python -m unittest -v test_api

# The gateway's Ed25519 key pair (`atelier-gateway keygen`): infra/gateway.key (PKCS#8, 0600,
# make deploy stores it in Secrets Manager on the first deploy) and infra/gateway.pub (SPKI, for
# the portfolio). Both git-ignored; never overwritten (rotating: infra/README.md, "Gateway").
gateway-keys:
	@[ ! -e infra/gateway.key ] && [ ! -e infra/gateway.pub ] \
		|| { echo "infra/gateway.key or infra/gateway.pub exists: keep them, or remove both for a new pair"; exit 1; }
	@umask 077; cargo run --quiet -p atelier-gateway -- keygen | awk \
		'/-BEGIN PRIVATE KEY-/{f="infra/gateway.key"} /-BEGIN PUBLIC KEY-/{f="infra/gateway.pub"} f{print > f} /-END /{f=""}'
	@[ -s infra/gateway.key ] && [ -s infra/gateway.pub ] && chmod 644 infra/gateway.pub
	@echo "wrote infra/gateway.key (private, 0600) and infra/gateway.pub"

# Deploys from infra/deploy.env (docs/deploy.md; infra/deploy.sh says what, in which order).
# deploy-check is the offline part alone: config, tools, artefacts, sam validate --lint.
# Neither builds: run `make package` (and `make portal`) first; the Lambdas' architecture is
# the one the zips were built for.
DEPLOY_PATH := $(abspath $(DEPLOY_VENV))/bin:$(PATH)
deploy-check: $(DEPLOY_VENV)/.installed
	@PATH="$(DEPLOY_PATH)" SAM_CLI_TELEMETRY=0 infra/deploy.sh check

deploy: $(DEPLOY_VENV)/.installed
	@PATH="$(DEPLOY_PATH)" SAM_CLI_TELEMETRY=0 infra/deploy.sh deploy

# Follows docs/deploy.md step by step in a copy of the work tree, without AWS credentials, up to
# the first command that needs AWS (infra/tests/test_deploy_guide.py says how it stays fast).
deploy-guide: $(DEPLOY_VENV)/.installed
	ATELIER_DEPLOY_GUIDE=1 PYTHONDONTWRITEBYTECODE=1 $(PYTHON) -m unittest -v infra/tests/test_deploy_guide.py

# Benchmarks (docs/benchmarks.md; slow, not part of `make test`, no timing assertions):
# stripped release sizes, Lambda init time against a local runtime-API stub compared with
# bench/hello-lambda built in the same run, API latency against moto under 1, 8 and 32
# clients. Prints the tables; writes bench-results/results.md and results.json.
BENCH_RUNS ?= 21
BENCH_REQUESTS ?= 200
bench: venv release bench-gateway
	# The floor is built on its own: in the same cargo invocation it would inherit the
	# functions' dependency features and grow.
	CARGO_TARGET_DIR=$(RELEASE_TARGET_DIR) cargo build --release -p hello-lambda
	cargo build --quiet -p atelier-bench
	$(CARGO_TARGET_DIR)/debug/atelier-bench --release-dir $(RELEASE_TARGET_DIR)/release \
		--runs $(BENCH_RUNS) --requests $(BENCH_REQUESTS) --out bench-results

# The cost of opening apps through the gateway (docs/benchmarks-gateway.md): latency of
# sequential GETs and WebSocket round trips, direct to an app vs through the gateway hop and
# the workspace guard, in process. Prints the tables; asserts nothing about time.
bench-gateway:
	CARGO_TARGET_DIR=$(RELEASE_TARGET_DIR) cargo run --quiet --release -p gateway-bench

clean:
	rm -rf $(VENV)
