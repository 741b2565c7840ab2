# tenant-alerting-policy: build, try and test the Kubewarden policy.
# The two commands the README gives: `make examples` and `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

WASM_TARGET := wasm32-wasip1
# Cargo's output directory: ./target, or CARGO_TARGET_DIR when set (as cargo reads it).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
RELEASE_WASM := $(TARGET_DIR)/$(WASM_TARGET)/release/tenant_alerting_policy.wasm
# The release build after binaryen's wasm-opt -Oz (Debian package binaryen).
SMALL_WASM := $(TARGET_DIR)/$(WASM_TARGET)/release/tenant_alerting_policy.small.wasm
# What rustc's wasm32-wasip1 output uses, for wasm-opt to read and keep.
WASM_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue
PREINIT := $(TARGET_DIR)/debug/preinit
PREINIT_SOURCES := $(shell find tools/preinit/src -name '*.rs') tools/preinit/Cargo.toml
# Kubewarden's CLI (annotate, scaffold); the tests read the same variable.
KWCTL ?= kwctl
EXAMPLE_SETTINGS := tests/fixtures/settings/workshop.json
EXAMPLES := $(sort $(wildcard tests/fixtures/requests/*.json))
CONTEXT_AWARE_EXAMPLES := $(sort $(patsubst %/,%,$(dir $(wildcard tests/fixtures/context-aware/*/request.json))))
SOURCES := $(shell find src crates tools/floor-policy/src -name '*.rs') $(wildcard crates/*/Cargo.toml) Cargo.toml Cargo.lock

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: deps clippy-driver host e2e-host cli examples test e2e-tests lint fmt fmt-check bench fuzz clean

# A recipe that fails leaves no half-written target behind (policy.wasm,
# annotated-policy.wasm), so the next `make` does not take it for a finished one.
.DELETE_ON_ERROR:

deps:
	./scripts/install-deps

# The policy module (and the benchmark floor, built with the same profile).
# Always by rustc itself: clippy's driver (which `make test` puts in front of the host
# build) compiles without MIR optimisations, and the module shipped is the one tested.
$(RELEASE_WASM): $(SOURCES)
	env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
	  cargo build --locked --release --target $(WASM_TARGET) -p tenant-alerting-policy -p floor-policy

# The host tools (debug profile), built by one cargo invocation per entry point. Cargo
# unifies a dependency's features over the packages (and, once a test target is among the
# targets, the dev-dependencies) that one invocation selects, and the same crate built
# with other features is another artifact: `cargo build -p preinit` alone builds a
# wasmtime, cranelift, rustix and serde that `cargo test --workspace` cannot reuse (80 of
# its 201 units differ in cargo's unit graph, and on a fresh target dir `make host` after
# `make policy.wasm` compiled wasmtime again), so `make test` must not get preinit that
# way or it compiles wasmtime twice. Hence:
# - `make policy.wasm` alone: `cargo build -p preinit`, only preinit and what it links
#   (no test target, no runner).
# - `make test` (and what it makes, policy.wasm included): `host`, every workspace target
#   in one invocation whose features are `cargo test --workspace`'s, so the test run and
#   its e2e run reuse every artifact and compile nothing; it also builds tools/sign's
#   policy-sign, which the registry tests run and no test target builds.
# - `make e2e-tests` alone: `e2e-host`, only preinit, policy-sign and the `it` test
#   binary, with the same workspace-wide features (selecting a test target brings in the
#   dev-dependencies): a subset of what `host` builds, artifact for artifact.
# The target-specific PREINIT_BUILD values below apply to policy.wasm when it is made
# for `test` or `e2e-tests`. Cargo does nothing when all is up to date.
HOST_BUILD := cargo build --locked --workspace --all-targets
E2E_BUILD := cargo build --locked --workspace --bin preinit --bin policy-sign --test it
PREINIT_BUILD = cargo build --locked -p preinit
test: PREINIT_BUILD = $(HOST_BUILD)

# `make test` lints while it builds the host tools and tests: cargo hands the workspace's
# own crates (and only those) to clippy's driver, which lints each and compiles it. `cargo
# clippy` would instead check every dependency again, about a minute of a fresh run.
# Every cargo command `make test` runs sees the same two variables, so none rebuilds
# the workspace (plain `cargo` afterwards does, once). `make lint` is `cargo clippy`.
CLIPPY_DRIVER := $(shell rustc --print sysroot 2>/dev/null)/bin/clippy-driver
test: export RUSTC_WORKSPACE_WRAPPER := $(CLIPPY_DRIVER)
# clippy-driver's arguments, as `cargo clippy -- -D warnings` passes them.
test: export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# Most of the integration tests' time is spent waiting for Prometheus, Alertmanager,
# kwctl and policy-server, not computing: twice as many test threads as cores. (Not
# more: the hostile-input tests run under policy-server's 2 s deadline, and 8 threads
# on 2 cores put their heaviest requests closer to it; 4 take 34 s, 8 take 27 s.)
test e2e-tests: export RUST_TEST_THREADS ?= 4

host:
	$(HOST_BUILD)

clippy-driver:
	@test -x "$(CLIPPY_DRIVER)" || { echo "test: needs clippy's driver, $(CLIPPY_DRIVER) (rustup component add clippy)" >&2; exit 1; }

e2e-host:
	$(E2E_BUILD)

# wasm-opt -Oz: a sixth smaller than rustc's output (every registry pull and every
# policy-server start reads the module); docs/performance.md has the sizes and times.
$(SMALL_WASM): $(RELEASE_WASM)
	@command -v wasm-opt >/dev/null 2>&1 || { \
	  echo "$@: needs binaryen's wasm-opt: \`make deps\` installs it (Debian package binaryen)" >&2; exit 1; }
	wasm-opt -Oz $(WASM_FEATURES) $(RELEASE_WASM) -o $@

# The shipped module: the release build made smaller, then pre-initialised
# (tools/preinit) so that each fresh instance policy-server creates starts with
# promql-parser's tables built.
policy.wasm: $(SMALL_WASM) $(PREINIT_SOURCES) Cargo.toml Cargo.lock
	$(PREINIT_BUILD)
	$(PREINIT) $(SMALL_WASM) policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes (release build: $$(stat -c %s $(RELEASE_WASM)) bytes, after wasm-opt: $$(stat -c %s $(SMALL_WASM)))"

# kwctl is on no package registry: say where it is rather than let the shell say
# "command not found".
define require-kwctl
@command -v $(KWCTL) >/dev/null 2>&1 || { \
  echo "$@: needs Kubewarden's kwctl, and '$(KWCTL)' is not on PATH."; \
  if [ -x ../shared/bin/kwctl ]; then \
    echo "  This workplace ships a release build in ../shared/bin (what .ci/run uses):"; \
    echo "    PATH=\"$$(cd ../shared/bin && pwd):\$$PATH\" make $@"; \
  else \
    echo "  Put it on PATH (the workplace's ../shared/bin has one, as .ci/run and the README say),"; \
    echo "  or install a release: https://github.com/kubewarden/adm-controller/releases (kwctl-linux-x86_64.zip)."; \
  fi; \
  echo "  Or name it: make $@ KWCTL=/path/to/kwctl"; \
  exit 1; } >&2
endef

# Needs kwctl: without it this fails, saying where to get it, and leaves no file behind.
annotated-policy.wasm: policy.wasm metadata.yml README.md
	$(require-kwctl)
	$(KWCTL) annotate -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

# The Artifact Hub package, generated as Kubewarden's release flow does (needs kwctl);
# tests/it/kwctl.rs checks the committed file is what this makes.
# Written to a temporary file first: a failing kwctl leaves the committed file as it was.
artifacthub-pkg.yml: metadata.yml questions-ui.yml Cargo.toml
	$(require-kwctl)
	$(KWCTL) scaffold artifacthub -m metadata.yml -q questions-ui.yml -v $(VERSION) > $@.tmp
	mv $@.tmp $@

# The command-line tool (cli/), built natively: only its own dependencies, no wasm, no
# wasmtime, no Debian packages. Dependencies unoptimised here: a fresh machine compiles
# them in a few minutes, and checking a repository is still instant.
CLI := $(TARGET_DIR)/debug/tenant-alerting-policy
cli:
	cargo build --locked -p tenant-alerting-policy-cli --config 'profile.dev.package."*".opt-level=0'

# The newcomer's first command: the tool on a small GitOps-like tree (examples/gitops),
# with the ClusterAdmissionPolicy manifest's settings and scope. (The context-aware
# fixtures run through the tool in cli/tests, with their session files as --cluster.)
# Exit 1 (something rejected) is the expected outcome here; 2 (broken input) is not.
examples: cli
	$(CLI) check --policy policies/clusteradmissionpolicy.yaml --namespace user1-prod examples/gitops || [ $$? -eq 1 ]

# The whole suite: native unit tests, the .wasm tests, the promtool/amtool oracles, the
# real prometheus/alertmanager daemons, lint, and Kubewarden's kwctl and policy-server
# (e2e-tests), which must be on PATH unless SKIP_KUBEWARDEN=1 says to leave them out.
# The last line counts what ran: a test left out is counted as skipped, never passed.
test: deps clippy-driver host policy.wasm fmt-check
	mkdir -p target
	POLICY_WASM=$(CURDIR)/policy.wasm cargo test --locked --workspace 2>&1 | tee target/test.log
	@: > target/e2e.log
	@if [ -n "$(SKIP_KUBEWARDEN)" ]; then \
	  echo "e2e-tests: left out (SKIP_KUBEWARDEN=1)"; \
	else \
	  $(MAKE) --no-print-directory e2e-tests 2>&1 | tee target/e2e.log; \
	fi
	@# The e2e tests are ignored in the first run and run in the second: each one that ran
	@# leaves the skipped count.
	@awk -v skip="$(SKIP_KUBEWARDEN)" \
	  'FNR == NR && /^test result:/ { p += $$4; f += $$6; i += $$8; next } \
	   /^test result:/ { p += $$4; f += $$6; i -= $$4 + $$6 } \
	   END { printf "tests: %d passed, %d failed, %d skipped%s\n", p, f, i, \
	         (skip != "" ? " (kwctl, policy-server and registry tests left out: SKIP_KUBEWARDEN=1)" : ""); \
	         exit (p == 0 || f > 0) }' target/test.log target/e2e.log

# Kubewarden's own engine on the shipped module: kwctl (run, replay, annotate,
# scaffold), policy-server and the OCI registry. Required: a missing tool fails these
# tests. A plain `cargo test` reports them as ignored. Every integration test is in one
# binary (tests/it/): the module filters pick these files' ignored tests, and no other.
# --workspace: features unified as in `make test`'s `cargo test --workspace`, whose test
# binary this reuses (without it, cargo resolves for the root package alone and builds
# wasmtime and cranelift again, 44 units).
e2e-tests: e2e-host policy.wasm
	POLICY_WASM=$(CURDIR)/policy.wasm cargo test --locked --workspace --test it -- --ignored kwctl:: policy_server:: registry::

# Set after the rule: tests/it/packaging.rs reads the line after the first `e2e-tests:`
# as the test command.
e2e-tests: PREINIT_BUILD = $(E2E_BUILD)

lint:
	cargo clippy --locked --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

fmt-check:
	cargo fmt --all -- --check

# Policy vs. the floor policy: warm and fresh instances in the runner, then load through
# policy-server and `kwctl bench` (each says it skipped without the tool on PATH). The
# runner's part also times the design's floor (tools/parser-floor-policy), built here
# only: nothing else needs it.
PARSER_FLOOR_WASM := $(TARGET_DIR)/$(WASM_TARGET)/release/parser_floor_policy.wasm
$(PARSER_FLOOR_WASM): tools/parser-floor-policy/src/lib.rs Cargo.lock
	env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
	  cargo build --locked --release --target $(WASM_TARGET) -p parser-floor-policy

bench: deps policy.wasm $(PARSER_FLOOR_WASM)
	POLICY_WASM=$(CURDIR)/policy.wasm cargo bench --locked -p policy-runner --bench policy
	POLICY_WASM=$(CURDIR)/policy.wasm cargo bench --locked -p policy-runner --bench policy_server
	POLICY_WASM=$(CURDIR)/policy.wasm cargo bench --locked -p tenant-alerting-policy-cli --bench check

# Structured fuzzing of the native validate entry (nightly + cargo-fuzz); not in CI.
FUZZ_SECONDS ?= 600
fuzz:
	cd fuzz && cargo +nightly fuzz run validate corpus/validate -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=8192

# Mutation testing (cargo-mutants, configured in .cargo/mutants.toml): every mutant of
# the policy's crates (src/ and crates/*) must make its crate's unit tests fail, or be
# listed there as equivalent with a reason. `make mutants` tries them all (26 minutes
# on 2 cores: docs/development.md); `make mutants-diff` only those in lines
# changed since MUTANTS_BASE, cheap enough before every stop.
# scripts/mutants shards the run over the cores, each shard with a target dir of its own.
# Extra arguments: MUTANTS_ARGS (e.g. MUTANTS_ARGS='-f crates/drift/src/lib.rs').
MUTANTS_BASE ?= $(shell git rev-parse -q --verify origin/main >/dev/null && echo origin/main || echo HEAD~1)
.PHONY: mutants mutants-diff hand-mutants

mutants:
	./scripts/mutants $(MUTANTS_ARGS)

mutants-diff:
	mkdir -p target
	git diff $(MUTANTS_BASE) -- src crates > target/mutants.diff
	@echo "mutants-diff: lines of the policy's crates changed since $(MUTANTS_BASE): $$(grep -c '^+[^+]' target/mutants.diff || true)"
	./scripts/mutants --in-diff target/mutants.diff $(MUTANTS_ARGS)

# One-line bugs written by hand (docs/hand-mutants.tsv), which cargo-mutants' operators
# never write: each in a copy of the tree, where the policy crate's unit tests must fail.
# Arguments: HAND_MUTANTS='A01 G09' replays only those.
hand-mutants:
	./scripts/hand-mutants $(HAND_MUTANTS)

clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm
