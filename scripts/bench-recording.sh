#!/usr/bin/env bash
# bench-recording.sh: validated requests per second of `edgecache serve` recording (its
# default: the newest 10,000 requests, for GET /__admin/requests) and not recording
# (--max-recorded 0), measured in one run: both servers run side by side and the load
# generator (tools/loadgen) alternates between them, RUNS pairs of DURATION each, the order
# swapped every pair, so that a machine shared with other work slows both alike. Prints a
# table, the medians and their ratio; the target is recording on >= 85% of off.
#
#   scripts/bench-recording.sh                          # 5 pairs of 5 s at concurrency 8
#   RUNS=9 DURATION=10s CONCURRENCY=16 scripts/bench-recording.sh
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONCURRENCY=${CONCURRENCY:-8}
ON_PORT=${ON_PORT:-18787}
OFF_PORT=${OFF_PORT:-18788}

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
work=$(mktemp -d)
trap 'stop_servers; rm -rf "$work"' EXIT

echo "bench-recording: building edgecache and the load generator" >&2
$GO build -o "$work/edgecache" ./cmd/edgecache
(cd tools && $GO build -o "$work/loadgen" ./loadgen)

start_server "$ON_PORT" "$work/edgecache" serve --addr "127.0.0.1:$ON_PORT" 2>/dev/null
start_server "$OFF_PORT" "$work/edgecache" serve --addr "127.0.0.1:$OFF_PORT" --max-recorded 0 2>/dev/null

field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }

# measure NAME PORT RUN: one load-generator run against the server on PORT.
measure() {
	local out load
	load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
	out=$("$work/loadgen" -url "http://127.0.0.1:$2" -token bench -c "$CONCURRENCY" -d "$DURATION" -warmup "$WARMUP" -json)
	printf '%s\t%s\t%s\t%s\n' "$1" "$3" "$load" "$out" >>"$work/results.tsv"
	echo "bench-recording: $1 run $3: $(field requestsPerSecond "$out") req/s, $(field errors "$out") errors" >&2
}

for run in $(seq 1 "$RUNS"); do
	if ((run % 2)); then
		measure on "$ON_PORT" "$run"
		measure off "$OFF_PORT" "$run"
	else
		measure off "$OFF_PORT" "$run"
		measure on "$ON_PORT" "$run"
	fi
done

kept=$(curl -s "http://127.0.0.1:$ON_PORT/__admin/requests" | grep -o '"dropped":[0-9]*' || true)
echo
echo "## edgecache serve, recording on (default, keeps 10,000) vs off (--max-recorded 0): $CONCURRENCY clients, $DURATION per run (after $WARMUP warm-up), $(nproc) CPUs"
echo "## the recording server's log at the end: $kept"
echo
printf '| %-9s | %3s | %8s | %10s | %6s | %8s | %8s |\n' recording run "load avg" "req/s" errors "p50 ms" "p99 ms"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ----------- ----- ---------- ------------ -------- ---------- ----------
while IFS=$'\t' read -r name run load json; do
	printf '| %-9s | %3s | %8s | %10.0f | %6s | %8.3f | %8.3f |\n' "$name" "$run" "$load" \
		"$(field requestsPerSecond "$json")" "$(field errors "$json")" "$(field p50Ms "$json")" "$(field p99Ms "$json")"
done <"$work/results.tsv"

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
rate() { grep "^$1	" "$work/results.tsv" | while IFS=$'\t' read -r _ _ _ j; do field requestsPerSecond "$j"; done | median; }
on=$(rate on)
off=$(rate off)
echo
awk -v on="$on" -v off="$off" 'BEGIN {
	r = (off > 0 ? on / off : 0)
	printf "median: recording on %.0f req/s, off %.0f req/s: on/off %.3f\n", on, off, r
	printf "target: on within 15%% of off (on/off >= 0.85): %s\n", (r >= 0.85 ? "met" : "missed")
}'
