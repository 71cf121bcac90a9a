#!/usr/bin/env bash
# bench-cli.sh: a bulk purge through the command, timed. `edgecache serve --latency 20ms`
# answers every request after 20 ms; `edgecache dangerously-delete --tags-file` sends TAGS
# distinct tags (default 10,000: 625 requests of at most 16) at CONCURRENCY (default 8).
# The floor is ceil(requests / concurrency) × latency (79 × 20 ms = 1.58 s by default); the
# target is 1.25× the floor. RUNS runs (default 3); each is the whole process, start-up and
# reading the tags file included. Not run in CI.
#
#   scripts/bench-cli.sh
#   TAGS=100000 RUNS=1 scripts/bench-cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RUNS=${RUNS:-3}
TAGS=${TAGS:-10000}
CONCURRENCY=${CONCURRENCY:-8}
LATENCY_MS=${LATENCY_MS:-20}
PORT=${PORT:-18777}
TARGET=${TARGET:-1.25}

work=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "bench-cli: building edgecache" >&2
$GO build -o "$work/edgecache" ./cmd/edgecache
seq -f 'bench-tag-%07.0f' 1 "$TAGS" >"$work/tags.txt"

"$work/edgecache" serve --addr "127.0.0.1:$PORT" --latency "${LATENCY_MS}ms" 2>/dev/null &
server_pid=$!
for _ in $(seq 1 100); do
	if (: >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
	kill -0 "$server_pid" 2>/dev/null || { echo "bench-cli: edgecache serve exited" >&2; exit 1; }
	sleep 0.1
done

requests=$(((TAGS + 15) / 16))
rounds=$(((requests + CONCURRENCY - 1) / CONCURRENCY))
floor_ms=$((rounds * LATENCY_MS))

echo "## edgecache dangerously-delete: $TAGS tags ($requests requests) at concurrency $CONCURRENCY, serve --latency ${LATENCY_MS}ms"
echo "## floor: ceil($requests/$CONCURRENCY) x $LATENCY_MS ms = $floor_ms ms; target: ${TARGET}x; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| %3s | %10s | %7s | %s |\n' run "elapsed ms" x-floor result
printf '|%s|%s|%s|%s|\n' ----- ------------ --------- --------
worst=0
for run in $(seq 1 "$RUNS"); do
	start=$(date +%s%N)
	if ! "$work/edgecache" dangerously-delete --project bench --tags-file "$work/tags.txt" \
		--concurrency "$CONCURRENCY" --api-url "http://127.0.0.1:$PORT" --token t --yes >"$work/out.txt" 2>&1; then
		cat "$work/out.txt" >&2
		echo "bench-cli: run $run failed" >&2
		exit 1
	fi
	end=$(date +%s%N)
	elapsed_ms=$(((end - start) / 1000000))
	result=$(head -1 "$work/out.txt")
	case $result in
	"Deleted $TAGS tags in"*) ;;
	*) echo "bench-cli: unexpected output: $result" >&2; exit 1 ;;
	esac
	ratio=$(awk -v e="$elapsed_ms" -v f="$floor_ms" 'BEGIN {printf "%.3f", e / f}')
	worst=$(awk -v a="$worst" -v b="$ratio" 'BEGIN {print (b > a ? b : a)}')
	printf '| %3s | %10s | %7s | %s |\n' "$run" "$elapsed_ms" "$ratio" "${result%% in project*}"
done
echo
awk -v w="$worst" -v t="$TARGET" 'BEGIN {printf "worst run: %.3fx the floor; target <= %sx: %s\n", w, t, (w <= t ? "met" : "missed")}'
