#!/usr/bin/env bash
# bench-serve.sh: validated requests per second of `edgecache serve` and of Prism's mock
# server (@stoplight/prism-cli, which validates each request against the spec) on the same
# openapi.yaml, each driven by the same load generator (tools/loadgen) at the same
# concurrency, RUNS runs of DURATION each, one server at a time. Prints a table and the
# medians. Not run in CI (it takes about a minute and a half, and installs Prism from npm).
#
#   scripts/bench-serve.sh                      # 3 runs of 10 s at concurrency 8
#   RUNS=5 DURATION=20s CONCURRENCY=16 scripts/bench-serve.sh
#   LOADGEN_FLAGS=-nethttp scripts/bench-serve.sh   # net/http as the generator's client
#
# Prism is installed once into .cache/prism (PRISM_DIR); that directory is not tracked.
# Both servers' request logs are discarded (LOG_DIR=dir keeps them). The load generator
# shares the machine with the server, so on a machine shared with other work the figures
# move with that work: the load average is printed beside each run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

GO=${GO:-go}
NPM=${NPM:-npm}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-8}
PRISM_VERSION=${PRISM_VERSION:-5.16.0}
PRISM_DIR=${PRISM_DIR:-$root/.cache/prism}
SERVE_PORT=${SERVE_PORT:-18787}
PRISM_PORT=${PRISM_PORT:-18797}
LOG_DIR=${LOG_DIR:-}
LOADGEN_FLAGS=${LOADGEN_FLAGS:-}

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
work=$(mktemp -d)
trap 'stop_servers; rm -rf "$work"' EXIT

log_for() { if [ -n "$LOG_DIR" ]; then mkdir -p "$LOG_DIR" && echo "$LOG_DIR/$1.log"; else echo /dev/null; fi; }

echo "bench-serve: building edgecache and the load generator" >&2
$GO build -o "$work/edgecache" ./cmd/edgecache
(cd tools && $GO build -o "$work/loadgen" ./loadgen)

prism="$PRISM_DIR/node_modules/.bin/prism"
if [ ! -x "$prism" ] || [ "$("$prism" --version 2>/dev/null)" != "$PRISM_VERSION" ]; then
	echo "bench-serve: installing @stoplight/prism-cli@$PRISM_VERSION into $PRISM_DIR" >&2
	mkdir -p "$PRISM_DIR"
	$NPM install --prefix "$PRISM_DIR" --no-audit --no-fund --loglevel=error "@stoplight/prism-cli@$PRISM_VERSION" >&2
fi

# measure NAME PORT: RUNS load-generator runs against the server listening on PORT.
measure() {
	local name=$1 port=$2 run out
	for run in $(seq 1 "$RUNS"); do
		local load
		load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
		# shellcheck disable=SC2086
		out=$("$work/loadgen" -url "http://127.0.0.1:$port" -token bench -c "$CONCURRENCY" -d "$DURATION" -warmup "$WARMUP" -json $LOADGEN_FLAGS)
		printf '%s\t%s\t%s\t%s\n' "$name" "$run" "$load" "$out" >>"$work/results.tsv"
		echo "bench-serve: $name run $run: $out" >&2
	done
}

echo "bench-serve: edgecache serve on 127.0.0.1:$SERVE_PORT" >&2
start_server "$SERVE_PORT" "$work/edgecache" serve --addr "127.0.0.1:$SERVE_PORT" 2>"$(log_for edgecache-serve)"
measure "edgecache serve" "$SERVE_PORT"
stop_servers

echo "bench-serve: prism mock $PRISM_VERSION on 127.0.0.1:$PRISM_PORT" >&2
start_server "$PRISM_PORT" "$prism" mock -h 127.0.0.1 -p "$PRISM_PORT" "$root/openapi.yaml" >"$(log_for prism)" 2>&1
measure "prism mock $PRISM_VERSION" "$PRISM_PORT"
stop_servers

# The table. The load generator's JSON is one flat object per line.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }
echo
echo "## edgecache serve vs Prism mock: $CONCURRENCY clients, $DURATION per run (after $WARMUP warm-up), $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
echo "## load generator: tools/loadgen ($(field client "$(head -1 "$work/results.tsv" | cut -f4)") client) on the same machine"
echo
printf '| %-22s | %3s | %8s | %10s | %6s | %8s | %8s |\n' server run "load avg" "req/s" errors "p50 ms" "p99 ms"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------ ----- ---------- ------------ -------- ---------- ----------
while IFS=$'\t' read -r name run load json; do
	printf '| %-22s | %3s | %8s | %10.0f | %6s | %8.3f | %8.3f |\n' "$name" "$run" "$load" \
		"$(field requestsPerSecond "$json")" "$(field errors "$json")" "$(field p50Ms "$json")" "$(field p99Ms "$json")"
done <"$work/results.tsv"

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
serve_median=$(grep '^edgecache serve' "$work/results.tsv" | while IFS=$'\t' read -r _ _ _ j; do field requestsPerSecond "$j"; done | median)
prism_median=$(grep '^prism' "$work/results.tsv" | while IFS=$'\t' read -r _ _ _ j; do field requestsPerSecond "$j"; done | median)
errors=$(while IFS=$'\t' read -r _ _ _ j; do field errors "$j"; done <"$work/results.tsv" | awk '{s+=$1} END {print s+0}')
echo
awk -v s="$serve_median" -v p="$prism_median" -v e="$errors" 'BEGIN {
	printf "median: edgecache serve %.0f req/s, prism mock %.0f req/s: %.1fx; %d errors in all runs\n", s, p, (p > 0 ? s / p : 0), e
	printf "targets: >= 15000 req/s: %s; >= 10x prism: %s\n", (s >= 15000 ? "met" : "missed"), (p > 0 && s >= 10 * p ? "met" : "missed")
}'
