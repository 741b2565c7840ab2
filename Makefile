# tenant-alerting-policy: build, try and test the Kubewarden policy.
# The two commands the README gives: `make examples` and `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

WASM_TARGET := wasm32-wasip1
RELEASE_WASM := target/$(WASM_TARGET)/release/tenant_alerting_policy.wasm
EXAMPLE_SETTINGS := tests/fixtures/settings/workshop.json
EXAMPLES := $(sort $(wildcard tests/fixtures/requests/*.json))
CONTEXT_AWARE_EXAMPLES := $(sort $(patsubst %/,%,$(dir $(wildcard tests/fixtures/context-aware/*/request.json))))
SOURCES := $(shell find src tools/floor-policy/src -name '*.rs') Cargo.toml Cargo.lock

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: deps host cli examples test e2e-tests lint fmt fmt-check bench fuzz clean

deps:
	./scripts/install-deps

# The policy module (and the benchmark floor, built with the same profile).
$(RELEASE_WASM): $(SOURCES)
	cargo build --locked --release --target $(WASM_TARGET) -p tenant-alerting-policy -p floor-policy

# The host side (runner, preinit) and every test target, in one cargo invocation: its
# features unify as `cargo test --workspace` unifies them, so the test run reuses every
# artifact and wasmtime is compiled once. Cargo does nothing when all is up to date.
host:
	cargo build --locked --workspace --all-targets

# The shipped module: the release build, pre-initialised (tools/preinit) so that each
# fresh instance policy-server creates starts with promql-parser's tables built.
policy.wasm: $(RELEASE_WASM) host
	target/debug/preinit $(RELEASE_WASM) policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes (release build: $$(stat -c %s $(RELEASE_WASM)) bytes)"

# Needs kwctl: without it this fails rather than leave no file behind.
annotated-policy.wasm: policy.wasm metadata.yml README.md
	kwctl annotate -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

# The Artifact Hub package, generated as Kubewarden's release flow does (needs kwctl);
# tests/it/kwctl.rs checks the committed file is what this makes.
artifacthub-pkg.yml: metadata.yml questions-ui.yml Cargo.toml
	kwctl scaffold artifacthub -m metadata.yml -q questions-ui.yml -v $(VERSION) > $@

# The command-line tool (cli/), built natively: only its own dependencies, no wasm, no
# wasmtime, no Debian packages. Dependencies unoptimised here: a fresh machine compiles
# them in a few minutes, and checking a repository is still instant.
CLI := target/debug/tenant-alerting-policy
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
test: deps policy.wasm fmt-check lint
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
e2e-tests: policy.wasm
	POLICY_WASM=$(CURDIR)/policy.wasm cargo test --locked --test it -- --ignored kwctl:: policy_server:: registry::

lint:
	cargo clippy --locked --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

fmt-check:
	cargo fmt --all -- --check

# Policy vs. the floor policy: warm and fresh instances in the runner, then load through
# policy-server and `kwctl bench` (each says it skipped without the tool on PATH).
bench: deps policy.wasm
	POLICY_WASM=$(CURDIR)/policy.wasm cargo bench --locked -p policy-runner --bench policy
	POLICY_WASM=$(CURDIR)/policy.wasm cargo bench --locked -p policy-runner --bench policy_server
	POLICY_WASM=$(CURDIR)/policy.wasm cargo bench --locked -p tenant-alerting-policy-cli --bench check

# Structured fuzzing of the native validate entry (nightly + cargo-fuzz); not in CI.
FUZZ_SECONDS ?= 600
fuzz:
	cd fuzz && cargo +nightly fuzz run validate corpus/validate -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=8192

# Mutation testing (cargo-mutants, configured in .cargo/mutants.toml): every mutant of
# src/ must make `cargo test --lib` fail, or be listed there as equivalent with a reason.
# `make mutants` tries them all (long: see docs/development.md); `make mutants-diff` only
# those in lines changed since MUTANTS_BASE, cheap enough before every stop. Mutated
# builds go to their own target dir (seeded once from target/debug), never where the
# other tests look. Extra arguments: MUTANTS_ARGS (e.g. MUTANTS_ARGS='-f src/drift.rs').
MUTANTS_TARGET := $(CURDIR)/target/mutants-build
MUTANTS_JOBS ?= 1
MUTANTS_BASE ?= $(shell git rev-parse -q --verify origin/main >/dev/null && echo origin/main || echo HEAD~1)
.PHONY: mutants mutants-diff mutants-deps

mutants-deps:
	@command -v cargo-mutants >/dev/null 2>&1 || { \
	  echo "mutants: installing cargo-mutants from crates.io"; cargo install --locked cargo-mutants; }
	@if [ ! -d $(MUTANTS_TARGET)/debug ] && [ -d target/debug ]; then \
	  echo "mutants: seeding $(MUTANTS_TARGET) from target/debug (built dependencies)"; \
	  mkdir -p $(MUTANTS_TARGET) && cp -a --reflink=auto target/debug $(MUTANTS_TARGET)/; \
	fi

mutants: mutants-deps
	CARGO_TARGET_DIR=$(MUTANTS_TARGET) cargo mutants --jobs $(MUTANTS_JOBS) $(MUTANTS_ARGS)

mutants-diff: mutants-deps
	mkdir -p target
	git diff $(MUTANTS_BASE) -- src > target/mutants.diff
	@echo "mutants-diff: lines of src/ changed since $(MUTANTS_BASE): $$(grep -c '^+[^+]' target/mutants.diff || true)"
	CARGO_TARGET_DIR=$(MUTANTS_TARGET) cargo mutants --jobs $(MUTANTS_JOBS) --in-diff target/mutants.diff $(MUTANTS_ARGS)

clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm
