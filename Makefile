# Till: everyday tasks. `make` or `make help` lists them.
#
# run and build need only Go: the templ output, the CSS and htmx are committed.
# generate also needs Node/npm; test installs whatever it is missing.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

TAILWIND := node_modules/.bin/tailwindcss
# Files that `make generate` writes and CI compares with the committed ones.
GENERATED := '*_templ.go' static/css/app.css static/js/htmx.min.js static/js/swagger-ui-bundle.js static/css/swagger-ui.css

.PHONY: help run run-double run-evm-double build contracts generate lint check-generated test bench fuzz bench-http clean

help: ## Show this list
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

run: ## Run the server on SQLite (needs only Go)
	go run ./cmd/till serve

run-double: ## Run the local Kaspa REST double
	go run ./cmd/kaspa-double

run-evm-double: ## Run the local EVM chain (chain ID 1337, MockUSDC) on 127.0.0.1:8545
	go run ./cmd/evm-double

build: ## Build static binaries bin/till, bin/kaspa-double and bin/evm-double
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o bin/till ./cmd/till
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o bin/kaspa-double ./cmd/kaspa-double
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o bin/evm-double ./cmd/evm-double

# The test tokens' committed .abi/.bin; only this target needs solc (npm solc@0.8.28).
EVM_CONTRACTS := workers/evm/evmsim/contracts
contracts: ## Recompile the EVM test tokens (MockUSDC.sol) with npm solc@0.8.28
	cd $(EVM_CONTRACTS) && npm ci --no-audit --no-fund && node compile.js

generate: node_modules/.package-lock.json ## Regenerate templ code, static/css/app.css, htmx and Swagger UI (/docs)
	go tool templ generate
	BROWSERSLIST_IGNORE_OLD_DATA=1 $(TAILWIND) -c tailwind.config.js -i static/src/input.css -o static/css/app.css --minify
	cp node_modules/htmx.org/dist/htmx.min.js static/js/htmx.min.js
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js static/js/swagger-ui-bundle.js
	cp node_modules/swagger-ui-dist/swagger-ui.css static/css/swagger-ui.css

# npm writes node_modules/.package-lock.json; (re)install when it is missing
# or older than the lockfile.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# golangci-lint is pinned in .ci/lint/go.mod (its own module, so its
# dependencies stay out of Till's go.mod) and configured in .golangci.yml.
# Its cache lives under Go's build cache unless GOLANGCI_LINT_CACHE says
# otherwise, so a clean CI machine needs no writable home directory.
GOLANGCI_LINT := go tool -modfile=.ci/lint/go.mod golangci-lint

lint: ## Check gofmt, run go vet and golangci-lint (.golangci.yml)
	@files=$$(git ls-files --cached --others --exclude-standard -- '*.go' | \
	  while read -r f; do if [[ -f $$f ]]; then echo "$$f"; fi; done); \
	bad=$$(if [[ -n $$files ]]; then gofmt -l $$files; fi); \
	if [[ -n $$bad ]]; then \
	  echo "gofmt would change these files (fix with: gofmt -w FILE...):"; \
	  echo "$$bad" | sed 's/^/  /'; \
	  exit 1; \
	fi
	go vet ./...
	GOLANGCI_LINT_CACHE=$${GOLANGCI_LINT_CACHE:-$$(go env GOCACHE)/golangci-lint} $(GOLANGCI_LINT) run ./...

check-generated: generate ## Regenerate, then fail if the result differs from git
	@if ! git --no-pager diff --stat --exit-code -- $(GENERATED); then \
	  echo "Generated files are out of date: run 'make generate' and commit them"; \
	  echo "(this compares with the git index, so 'git add' is enough locally)."; \
	  exit 1; \
	fi
	@untracked=$$(git status --porcelain --untracked-files=all -- $(GENERATED) | sed -n 's/^?? //p'); \
	if [[ -n $$untracked ]]; then \
	  echo "Generated files that git does not track: commit (or 'git add') them:"; \
	  echo "$$untracked" | sed 's/^/  /'; \
	  exit 1; \
	fi
	@echo "generated files are up to date"

test: ## Everything CI runs: deps, Postgres, generated files, lint, tests on SQLite and Postgres
	bash .ci/test.sh

bench: ## Benchmarks on SQLite and Postgres (BENCH=regexp BENCHTIME=1s COUNT=1)
	bash .ci/bench.sh

# Not part of test: the real binaries under an external load generator,
# beside their ceilings (issue 12); about 11 minutes with the defaults. The
# big stages are behind knobs: ROWS="0 1M" (session creation on a database
# of past sessions), OPEN="100 100000" (the watchers with that many open
# sessions); see .ci/bench-http.sh for all of them.
DURATION ?= 5s
RUNS ?= 3
PROFILE ?= 0
DBS ?= sqlite postgres
bench-http: ## Till from outside vs its ceilings, SQLite and Postgres (DURATION=5s RUNS=3 PROFILE=1 DBS=sqlite WORKLOADS=re ROWS="0 1M" OPEN="100 100000")
	DURATION=$(DURATION) RUNS=$(RUNS) PROFILE=$(PROFILE) DBS="$(DBS)" bash .ci/bench-http.sh

# go test -fuzz takes one target at a time: run each Fuzz* function of every
# package that has one, for FUZZTIME each; a crash is written under the
# package's testdata/fuzz/ (commit it with the fix). make test already runs
# the seed corpora as ordinary tests.
FUZZTIME ?= 20s
FUZZ ?= .
fuzz: ## Run every fuzz target for FUZZTIME each (FUZZTIME=20s FUZZ=regexp; TILL_TEST_DB=postgres for the API one)
	@start=$$(date +%s); failed=(); \
	for dir in $$(git grep -l '^func Fuzz' -- '*_test.go' | xargs -n1 dirname | sort -u); do \
	  for name in $$(go test -list '^Fuzz' "./$$dir" | grep '^Fuzz' | grep -E -- '$(FUZZ)' || true); do \
	    echo "==> ./$$dir $$name ($(FUZZTIME))"; \
	    go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "./$$dir" || failed+=("./$$dir $$name"); \
	  done; \
	done; \
	echo "==> fuzzing took $$(( $$(date +%s) - start ))s"; \
	if (( $${#failed[@]} )); then printf 'FAILED: %s\n' "$${failed[@]}"; exit 1; fi

clean: ## Remove build output
	rm -rf bin
