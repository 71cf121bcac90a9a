#!/usr/bin/env bash
# bench-ratelimit.sh: bulk purges at the rate limit. For each R in RATES (default "5 50"),
# `edgecache serve --rate-limit R/1s` allows R requests per fixed one-second window (429 with
# Retry-After and the limit block beyond), and `edgecache dangerously-delete --tags-file` sends
# TAGS distinct tags (default 10,000: 625 requests of at most 16) at CONCURRENCY (default 8).
#
# The floor is requests / R seconds (125 s at 5/s, 12.5 s at 50/s). The targets: every tag
# purged (exit 0, and the fake accepted exactly one request per batch), a wall time of at most
# TARGET (1.10) x the floor, and 429 answers on at most 5% of the requests. Each run is the
# whole process, start-up and reading the tags file included. Not run in CI (about 2.5 min).
#
#   scripts/bench-ratelimit.sh
#   RATES=50 scripts/bench-ratelimit.sh
#   HEADERS=1 scripts/bench-ratelimit.sh                      # serve --rate-limit-headers too
#   RATES=300 WINDOW_S=60 scripts/bench-ratelimit.sh          # Vercel-like one-minute buckets
#   EDGECACHE=/path/to/edgecache scripts/bench-ratelimit.sh   # a binary built elsewhere
#   MODE=library scripts/bench-ratelimit.sh                    # through the library instead:
#                                                              # BenchmarkPacedBulk, in process
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
MODE=${MODE:-cli}
RATES=${RATES:-5 50}
TAGS=${TAGS:-10000}
CONCURRENCY=${CONCURRENCY:-8}
PORT=${PORT:-18778}
TARGET=${TARGET:-1.10}
MAX_429_PERCENT=${MAX_429_PERCENT:-5}
HEADERS=${HEADERS:-}
WINDOW_S=${WINDOW_S:-1}

if [ "$MODE" = library ]; then
	pattern="BenchmarkPacedBulk/^limit=($(echo "$RATES" | tr ' ' '|'))-per-s\$"
	echo "## BenchmarkPacedBulk: 10,000 tags at concurrency 8 against edgecachetest.WithRateLimit(R, 1s), in process"
	echo "## $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	EDGECACHE_BENCH_RATELIMIT=1 $GO test -run '^$' -bench "$pattern" -benchtime 1x -count 1 -timeout 0 .
	exit
fi

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
work=$(mktemp -d)
trap 'stop_servers; rm -rf "$work"' EXIT

bin=${EDGECACHE:-}
if [ -z "$bin" ]; then
	echo "bench-ratelimit: building edgecache" >&2
	bin="$work/edgecache"
	$GO build -o "$bin" ./cmd/edgecache
fi
seq -f 'bench-tag-%07.0f' 1 "$TAGS" >"$work/tags.txt"
requests=$(((TAGS + 15) / 16))

echo "## edgecache dangerously-delete: $TAGS tags ($requests requests) at concurrency $CONCURRENCY, serve --rate-limit R/${WINDOW_S}s${HEADERS:+ --rate-limit-headers}"
echo "## targets: exit 0 with every tag purged, <= ${TARGET}x the floor requests/R x ${WINDOW_S} s, 429s <= ${MAX_429_PERCENT}% of requests"
echo "## $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| %6s | %8s | %10s | %7s | %8s | %10s | %s |\n' R floor-s elapsed-s x-floor requests "429s (%)" result
printf '|%s|%s|%s|%s|%s|%s|%s|\n' -------- ---------- ------------ --------- ---------- ------------ --------
failed=0
for rate in $RATES; do
	start_server "$PORT" "$bin" serve --addr "127.0.0.1:$PORT" --rate-limit "$rate/${WINDOW_S}s" ${HEADERS:+--rate-limit-headers} 2>"$work/serve.log" ||
		{ cat "$work/serve.log" >&2; exit 1; }

	start=$(date +%s%N)
	status=0
	"$bin" dangerously-delete --project bench --tags-file "$work/tags.txt" --concurrency "$CONCURRENCY" \
		--api-url "http://127.0.0.1:$PORT" --token t --yes >"$work/out.txt" 2>&1 || status=$?
	end=$(date +%s%N)
	stop_servers

	accepted=$(grep -c 'status=200' "$work/serve.log" || true)
	limited=$(grep -c 'status=429' "$work/serve.log" || true)
	sent=$((accepted + limited))
	elapsed_ms=$(((end - start) / 1000000))
	floor_ms=$((requests * 1000 * WINDOW_S / rate))
	ratio=$(awk -v e="$elapsed_ms" -v f="$floor_ms" 'BEGIN {printf "%.3f", e / f}')
	share=$(awk -v l="$limited" -v s="$sent" 'BEGIN {printf "%.1f", s ? 100 * l / s : 0}')
	verdict=met
	if [ "$status" -ne 0 ] || [ "$accepted" -ne "$requests" ]; then
		verdict="FAILED: exit $status, $accepted of $requests requests accepted"
		sed 's/^/    /' "$work/out.txt" | head -20 >&2
	elif ! awk -v r="$ratio" -v t="$TARGET" -v s="$share" -v m="$MAX_429_PERCENT" 'BEGIN {exit !(r <= t && s <= m)}'; then
		verdict=missed
	fi
	[ "$verdict" = met ] || failed=1
	printf '| %6s | %8s | %10s | %7s | %8s | %10s | %s |\n' "$rate/${WINDOW_S}s" "$(awk -v f="$floor_ms" 'BEGIN {printf "%.1f", f / 1000}')" \
		"$(awk -v e="$elapsed_ms" 'BEGIN {printf "%.2f", e / 1000}')" "$ratio" "$sent" "$limited ($share)" "$verdict"
done
exit "$failed"
