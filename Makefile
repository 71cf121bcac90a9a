# Every target runs with the Go toolchain alone: no global installs.
GO ?= go
TOOLS = $(GO) tool -modfile=tools/go.mod
# A count budget rather than seconds: Go 1.26's fuzz coordinator can fail a time-limited run
# with "context deadline exceeded" right at its limit (go.dev/issue/75804). 5000 inputs take
# a few seconds per target here.
FUZZTIME ?= 5000x
BENCHTIME ?= 1s
UPSTREAM ?=

.PHONY: all generate check-generated lint test test-race fuzz-short bench bench-short update-spec demo sdk-capture bench-serve bench-cli bench-ratelimit

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

## lint: gofmt and go vet over both modules
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd tools && $(GO) vet ./...

## test: everything CI checks
test: check-generated lint fuzz-short bench-short test-race

test-race:
	$(GO) test -race -count=1 ./...
	cd tools && $(GO) test -race -count=1 ./...

## fuzz-short: run each fuzz target for $(FUZZTIME)
fuzz-short:
	@for t in $$($(GO) test -list '^Fuzz' . | grep '^Fuzz'); do \
		echo "fuzz $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) . || exit 1; \
	done

## bench-short: run every benchmark briefly so none can rot
bench-short:
	$(GO) test -run '^$$' -bench . -benchtime 100x -benchmem ./...

## bench: the full benchmark run, summarised by benchstat
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count 6 . ./edgecachetest | tee bench.txt
	$(TOOLS) benchstat bench.txt

## update-spec: vendor a newer upstream document's operation, report changes, regenerate
update-spec:
	@if [ -z "$(UPSTREAM)" ]; then echo "usage: make update-spec UPSTREAM=path/to/openapi.json"; exit 2; fi
	cd tools && $(GO) run ./cmd/update-spec -repo .. -upstream "$(abspath $(UPSTREAM))"

## demo: the main job on the embedded fake, no account needed
demo:
	$(GO) run ./cmd/edgecache dangerously-delete --mock --project demo --tag blog --yes

## sdk-capture: rerecord what @vercel/sdk sends (needs npm; not part of CI)
sdk-capture:
	cd cmd/edgecache/testdata/sdk && npm install --no-save --no-package-lock && node capture.mjs

## bench-serve: edgecache serve vs Prism's mock under the same load generator (needs npm; not part of CI)
bench-serve:
	scripts/bench-serve.sh

## bench-cli: a 10,000-tag purge through the command against serve --latency 20ms (not part of CI)
bench-cli:
	scripts/bench-cli.sh

## bench-ratelimit: 10,000-tag purges through the command against serve --rate-limit 5/1s and 50/1s (about 2.5 min; not run in CI)
bench-ratelimit:
	scripts/bench-ratelimit.sh
