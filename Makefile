# Every target runs with the Go toolchain (and npm, for examples/node) alone: no global installs.
GO ?= go
NPM ?= npm
TOOLS = $(GO) tool -modfile=tools/go.mod
# A count budget rather than seconds: Go 1.26's fuzz coordinator can fail a time-limited run
# with "context deadline exceeded" right at its limit (go.dev/issue/75804). 5000 inputs take
# a few seconds per target here.
FUZZTIME ?= 5000x
BENCHTIME ?= 1s
UPSTREAM ?=

.PHONY: all generate check-generated lint test test-race test-node fuzz-short bench bench-short bench-recording bench-ratelimit update-spec demo sdk-capture bench-serve bench-cli image bench-cdn

all: test

## generate: regenerate api/ from openapi.yaml and oapi-codegen.yaml
generate:
	$(GO) generate ./...

## check-generated: fail if api/ or go.mod/go.sum differ from what generation and tidy produce
check-generated:
	@$(GO) generate ./...
	@$(GO) mod tidy
	@(cd tools && $(GO) mod tidy)
	@if [ -n "$$(git status --porcelain -- api go.mod go.sum tools/go.mod tools/go.sum)" ]; then \
		echo "check-generated: generated code or module files are out of date:"; \
		git status --porcelain -- api go.mod go.sum tools/go.mod tools/go.sum; \
		git --no-pager diff --stat -- api go.mod go.sum tools/go.mod tools/go.sum; \
		exit 1; \
	fi
	@echo "check-generated: api/ and module files are up to date"

## lint: gofmt, go vet and golangci-lint (.golangci.yml) over both modules. The first run
## builds golangci-lint from tools/go.mod (about 2-3 minutes on 2 CPUs); go caches the binary.
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd tools && $(GO) vet ./...
	$(TOOLS) golangci-lint run ./...
	cd tools && $(GO) tool golangci-lint run ./...

## test: everything CI checks
test: check-generated lint fuzz-short bench-short test-race test-node

test-race:
	$(GO) test -race -count=1 ./...
	cd tools && $(GO) test -race -count=1 ./...

## test-node: the Node example: @vercel/sdk 1.28.35 (pinned in examples/node/package-lock.json)
## calls edgecache serve, and node:test checks what was sent through the admin API, and what
## its purges do to the CDN of edgecache serve --origin (fetch sees STALE, then fresh content).
## It needs Node.js 20 or later and npm, and npm ci fetches @vercel/sdk from the npm registry (or its cache).
test-node:
	@command -v node >/dev/null && command -v $(NPM) >/dev/null || { \
		echo "make test-node: needs Node.js 20 or later and npm on PATH, for the @vercel/sdk example in examples/node"; exit 2; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { \
		echo "make test-node: needs Node.js 20 or later (node:test), found $$(node --version)"; exit 2; }
	cd examples/node && $(NPM) ci --no-audit --no-fund --loglevel=error && GO="$(GO)" $(NPM) test

## fuzz-short: run each fuzz target for $(FUZZTIME)
FUZZ_PKGS = . ./internal/redact
fuzz-short:
	@for p in $(FUZZ_PKGS); do for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
		echo "fuzz $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
	done; done

## bench-short: run every benchmark briefly so none can rot
bench-short:
	$(GO) test -run '^$$' -bench . -benchtime 100x -benchmem ./...

## bench: the full benchmark run, summarised by benchstat
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count 6 . ./edgecachetest | tee bench.txt
	$(TOOLS) benchstat bench.txt

## update-spec: vendor upstream's Edge Cache group into openapi.yaml, report what changed, regenerate api/
update-spec:
	@if [ -z "$(UPSTREAM)" ]; then echo "usage: make update-spec UPSTREAM=path/to/openapi.json"; exit 2; fi
	cd tools && $(GO) run ./cmd/update-spec -repo .. -upstream "$(abspath $(UPSTREAM))"

## demo: the main job on the embedded fake, no account needed
demo:
	$(GO) run ./cmd/edgecache invalidate --mock --project demo --tag blog --yes

## sdk-capture: rerecord what @vercel/sdk sends for the four operations (needs npm; not part of CI)
sdk-capture:
	cd cmd/edgecache/testdata/sdk && npm install --no-save --no-package-lock && node capture.mjs

## bench-serve: edgecache serve vs Prism's mock under the same load generator (needs npm; not part of CI)
bench-serve:
	scripts/bench-serve.sh

## bench-recording: serve's throughput with recording on (the default) vs off, in one run (not part of CI)
bench-recording:
	GO="$(GO)" scripts/bench-recording.sh

## bench-cdn: serve --origin's CDN against Varnish 7.1 on one origin: HIT throughput, what a MISS
## adds, memory under 100,000 URLs (installs Debian's varnish with apt-get when missing; about 2 min; not part of CI)
bench-cdn:
	GO="$(GO)" scripts/bench-cdn.sh

## bench-cli: a 10,000-tag purge through the command against serve --latency 20ms (not part of CI)
bench-cli:
	scripts/bench-cli.sh

## bench-ratelimit: 10,000-tag purges through the command against serve --rate-limit 5/1s and 50/1s (about 2.5 min; not run in CI).
## TAGS, RATES, SIGNALS (block headers retry-after) and MODE (cli, library, purger) choose others; see scripts/bench-ratelimit.sh
bench-ratelimit:
	scripts/bench-ratelimit.sh

## image: the container image of edgecache serve (Containerfile), with podman or docker; not part of CI
IMAGE ?= edgecache-serve
image:
	@engine="$$(command -v podman || command -v docker)"; \
	if [ -z "$$engine" ]; then echo "make image: needs podman or docker on PATH"; exit 2; fi; \
	echo "$$engine build -f Containerfile -t $(IMAGE) ."; "$$engine" build -f Containerfile -t $(IMAGE) .
