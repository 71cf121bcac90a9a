#!/usr/bin/env bash
# bench-ratelimit.sh: purges at the rate limit, through the command or the library.
#
# Through the command (the default): for each R in RATES (default "5 50"), each T in TAGS
# (default 10000) and each signal in SIGNALS (default "block"), `edgecache serve --rate-limit
# R/WINDOW_S s` allows R requests per fixed window, and `edgecache dangerously-delete
# --tags-file` sends T distinct tags (ceil(T/16) requests) at CONCURRENCY (default 8). The
# signals: "block", a 429 with Retry-After and the error's limit block (serve's default);
# "headers", X-RateLimit-* on every answer too (--rate-limit-headers); "retry-after", a 429
# with Retry-After alone (--rate-limit-retry-after-only).
#
# The floor is requests / R x WINDOW_S seconds. The targets: every tag purged (exit 0, and the
# fake accepted exactly one request per batch), a wall time of at most TARGET (1.15) x the
# floor, and 429 answers on at most MAX_429_PERCENT of the requests (5, or 10 for
# "retry-after"). Each run is the whole process, start-up and reading the tags file included.
# Not run in CI: 10,000 tags take 2 min at 5/s.
#
#   scripts/bench-ratelimit.sh                                   # 10,000 tags at 5/s and 50/s
#   TAGS="1000 1500 2000" RATES=5 SIGNALS="block headers retry-after" scripts/bench-ratelimit.sh
#   RATES=300 WINDOW_S=60 scripts/bench-ratelimit.sh              # Vercel-like one-minute buckets
#   EDGECACHE=/path/to/edgecache scripts/bench-ratelimit.sh       # a binary built elsewhere
#
# Through the library, in process, with the same variables selecting sub-benchmarks:
#   MODE=library TAGS="1500 2000" RATES=5 SIGNALS="block headers retry-after" scripts/bench-ratelimit.sh
#                                    # BenchmarkPacedBulk (TAGS from 1500, 2000, 10000)
#   MODE=purger scripts/bench-ratelimit.sh
#                                    # BenchmarkPurger: 1,000 goroutines, one tag each, within one
#                                    # second, through one Purger, at 5/s (each signal) and unlimited
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
MODE=${MODE:-cli}
RATES=${RATES:-5 50}
TAGS=${TAGS:-10000}
SIGNALS=${SIGNALS:-block}
[ -n "${HEADERS:-}" ] && SIGNALS=headers # the old spelling
CONCURRENCY=${CONCURRENCY:-8}
PORT=${PORT:-18778}
TARGET=${TARGET:-1.15}
WINDOW_S=${WINDOW_S:-1}

alternatives() { echo "$1" | tr ' ' '|'; }

case $MODE in
library)
	pattern="BenchmarkPacedBulk/^tags=($(alternatives "$TAGS"))\$/^limit=($(alternatives "$RATES"))-per-s\$/^signal=($(alternatives "$SIGNALS"))\$"
	echo "## BenchmarkPacedBulk: TAGS=\"$TAGS\" at concurrency 8 against edgecachetest.WithRateLimit(R, 1s), R in \"$RATES\", signals \"$SIGNALS\", in process"
	echo "## $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	EDGECACHE_BENCH_RATELIMIT=1 $GO test -run '^$' -bench "$pattern" -benchtime 1x -count 1 -timeout 0 .
	exit
	;;
purger)
	echo "## BenchmarkPurger: 1,000 goroutines each invalidating one distinct tag within one second, one Purger"
	echo "## $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	EDGECACHE_BENCH_RATELIMIT=1 $GO test -run '^$' -bench "BenchmarkPurger/" -benchtime 1x -count 1 -timeout 0 .
	exit
	;;
esac

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

echo "## edgecache dangerously-delete --tags-file at concurrency $CONCURRENCY against serve --rate-limit R/${WINDOW_S}s"
echo "## targets: exit 0 with every tag purged, <= ${TARGET}x the floor requests/R x ${WINDOW_S} s, 429s <= 5% of requests (10% with Retry-After alone)"
echo "## $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| %6s | %6s | %11s | %8s | %10s | %7s | %8s | %10s | %s |\n' tags R signal floor-s elapsed-s x-floor requests "429s (%)" result
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------- -------- ------------- ---------- ------------ --------- ---------- ------------ --------
failed=0
for tags in $TAGS; do
	seq -f 'bench-tag-%07.0f' 1 "$tags" >"$work/tags.txt"
	requests=$(((tags + 15) / 16))
	for rate in $RATES; do
		for signal in $SIGNALS; do
			flags=() max429=5
			case $signal in
			block) ;;
			headers) flags=(--rate-limit-headers) ;;
			retry-after) flags=(--rate-limit-retry-after-only) max429=10 ;;
			*) echo "bench-ratelimit: unknown signal $signal (block, headers, retry-after)" >&2; exit 2 ;;
			esac
			start_server "$PORT" "$bin" serve --addr "127.0.0.1:$PORT" --rate-limit "$rate/${WINDOW_S}s" "${flags[@]}" 2>"$work/serve.log" ||
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
			elif ! awk -v r="$ratio" -v t="$TARGET" -v s="$share" -v m="$max429" 'BEGIN {exit !(r <= t && s <= m)}'; then
				verdict=missed
			fi
			[ "$verdict" = met ] || failed=1
			printf '| %6s | %6s | %11s | %8s | %10s | %7s | %8s | %10s | %s |\n' "$tags" "$rate/${WINDOW_S}s" "$signal" \
				"$(awk -v f="$floor_ms" 'BEGIN {printf "%.1f", f / 1000}')" "$(awk -v e="$elapsed_ms" 'BEGIN {printf "%.2f", e / 1000}')" \
				"$ratio" "$sent" "$limited ($share)" "$verdict"
		done
	done
done
exit "$failed"
