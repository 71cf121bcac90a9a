#!/usr/bin/env bash
# bench-cdn.sh: the CDN of `edgecache serve --origin` against Varnish 7.1 (Debian's varnish
# package), both in front of the same origin (tools/benchorigin: one 4 KB page, cacheable for
# an hour), driven by the same load generator (tools/loadgen) with the same URLs, in one run.
# Three measures, each against a target of issue #16:
#
#   1. HIT throughput: URLS cached URLs, CONCURRENCY clients, RUNS pairs of DURATION, the
#      order swapped every pair so that a machine shared with other work slows both alike.
#      The hit ratio of every run is read from the answers (x-vercel-cache; Varnish's X-Cache,
#      set by the VCL below from obj.hits) and Varnish's counters. Target: the CDN serves at
#      least half of Varnish's requests per second.
#   2. What a MISS adds: one client, every request a URL never asked for before, MISS_REQUESTS
#      per run, to the origin directly, through the CDN and through Varnish in turn, RUNS
#      times. Target: the CDN's median latency at most 1 ms over the origin's.
#   3. Memory under MEM_URLS distinct URLs: a serve with --cache-max-entries and
#      --cache-max-bytes, its cache's account (GET /__admin/cache), its live heap after a
#      collection once the load is over (GODEBUG=gctrace=1) less that of a serve whose cache
#      holds one entry under the same URLs, and its resident memory. Target: the cache stays
#      within both limits, and the heap it takes within MaxBytes (an estimate, and gctrace
#      counts in MB: 5% over is allowed).
#
#   scripts/bench-cdn.sh                                 # 3 runs of each, about 2 minutes
#   RUNS=5 DURATION=10s CONCURRENCY=16 scripts/bench-cdn.sh
#
# When varnishd is missing it installs Debian's varnish package with apt-get (as root, or
# through sudo). Not run in CI. On a machine run by systemd the package also enables its own
# varnish.service (port 6081); `systemctl disable --now varnish` stops it. The Varnish this
# script starts listens on 127.0.0.1 only, in a working directory of its own, and every
# process it starts is stopped on exit. Logs are discarded (LOG_DIR=dir keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONCURRENCY=${CONCURRENCY:-8}
URLS=${URLS:-100}
PAGE_SIZE=${PAGE_SIZE:-4096}
MISS_REQUESTS=${MISS_REQUESTS:-2000}
MEM_URLS=${MEM_URLS:-100000}
MEM_MAX_ENTRIES=${MEM_MAX_ENTRIES:-10000}
MEM_MAX_BYTES=${MEM_MAX_BYTES:-33554432}
ORIGIN_PORT=${ORIGIN_PORT:-18820}
VARNISH_PORT=${VARNISH_PORT:-18821}
SERVE_PORT=${SERVE_PORT:-18822}
CDN_PORT=${CDN_PORT:-18823}
MEM_SERVE_PORT=${MEM_SERVE_PORT:-18824}
MEM_CDN_PORT=${MEM_CDN_PORT:-18825}
LOG_DIR=${LOG_DIR:-}

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
work=$(mktemp -d)
trap 'stop_servers; rm -rf "$work"' EXIT
chmod 755 "$work" # varnishd's worker runs as its own user, and reads its VCL and directory here

log_for() { if [ -n "$LOG_DIR" ]; then mkdir -p "$LOG_DIR" && echo "$LOG_DIR/$1.log"; else echo /dev/null; fi; }
say() { echo "bench-cdn: $*" >&2; }

if ! command -v varnishd >/dev/null 2>&1; then
	say "installing Debian's varnish package with apt-get"
	sudo=
	if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
	install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends varnish >&2; }
	install || { $sudo apt-get update >&2 && install; }
fi
varnish_version=$(varnishd -V 2>&1 | sed -n 's/.*(varnish-\([^ ]*\) .*/\1/p' | head -1)
case $varnish_version in
7.1.*) ;;
*) say "warning: this is Varnish ${varnish_version:-of unknown version}, not 7.1" ;;
esac

say "building edgecache, the load generator and the origin"
$GO build -o "$work/edgecache" ./cmd/edgecache
(cd tools && $GO build -o "$work/loadgen" ./loadgen && $GO build -o "$work/benchorigin" ./benchorigin)

origin="http://127.0.0.1:$ORIGIN_PORT"
start_server "$ORIGIN_PORT" "$work/benchorigin" -addr "127.0.0.1:$ORIGIN_PORT" -size "$PAGE_SIZE" 2>"$(log_for benchorigin)"

# The VCL adds to Varnish's builtin one (which caches a GET without Cookie or Authorization
# for the response's s-maxage) only a header that says whether the answer was a hit.
cat >"$work/bench.vcl" <<EOF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$ORIGIN_PORT"; }
sub vcl_deliver {
	if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
EOF
chmod 644 "$work/bench.vcl"
start_server "$VARNISH_PORT" varnishd -F -a "127.0.0.1:$VARNISH_PORT" -T none -n "$work/varnish" \
	-f "$work/bench.vcl" -s malloc,256m >"$(log_for varnishd)" 2>&1
start_server "$SERVE_PORT" "$work/edgecache" serve --addr "127.0.0.1:$SERVE_PORT" \
	--origin "$origin" --cdn-addr "127.0.0.1:$CDN_PORT" 2>"$(log_for edgecache-serve)"
for _ in $(seq 1 100); do (: >"/dev/tcp/127.0.0.1/$CDN_PORT") 2>/dev/null && break; sleep 0.1; done

field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }
count_of() { local n; n=$(sed -n "s/.*\"headerCounts\":{[^}]*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"); echo "${n:-0}"; }
load_now() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?"; }

# hit NAME PORT HEADER RUN: one HIT run against the cache on PORT.
hit() {
	local out load
	load=$(load_now)
	out=$("$work/loadgen" -method GET -url "http://127.0.0.1:$2/page" -urls "$URLS" -count-header "$3" \
		-c "$CONCURRENCY" -d "$DURATION" -warmup "$WARMUP" -json)
	printf '%s\t%s\t%s\t%s\n' "$1" "$4" "$load" "$out" >>"$work/hit.tsv"
	say "HIT $1 run $4: $(field requestsPerSecond "$out") req/s, $(count_of HIT "$out") of $(field requests "$out") answers HIT"
}

# miss NAME PORT HEADER RUN: one MISS run (every URL new) against PORT.
miss() {
	local out load
	load=$(load_now)
	out=$("$work/loadgen" -method GET -url "http://127.0.0.1:$2/page" -unique -count-header "$3" \
		-c 1 -n "$MISS_REQUESTS" -json)
	printf '%s\t%s\t%s\t%s\n' "$1" "$4" "$load" "$out" >>"$work/miss.tsv"
	say "MISS $1 run $4: p50 $(field p50Ms "$out") ms"
}

cdn_name="edgecache serve"
varnish_name="varnish $varnish_version"
say "HIT: $URLS URLs, $CONCURRENCY clients, $RUNS pairs of $DURATION"
for run in $(seq 1 "$RUNS"); do
	if ((run % 2)); then
		hit "$cdn_name" "$CDN_PORT" X-Vercel-Cache "$run"
		hit "$varnish_name" "$VARNISH_PORT" X-Cache "$run"
	else
		hit "$varnish_name" "$VARNISH_PORT" X-Cache "$run"
		hit "$cdn_name" "$CDN_PORT" X-Vercel-Cache "$run"
	fi
done
varnish_counters=$(varnishstat -n "$work/varnish" -1 -f MAIN.cache_hit -f MAIN.cache_miss 2>/dev/null | awk '{printf "%s %s; ", $1, $2}')

say "MISS: $MISS_REQUESTS new URLs per run, 1 client, $RUNS rounds"
for run in $(seq 1 "$RUNS"); do
	order=("origin" "$cdn_name" "$varnish_name")
	for ((i = 0; i < 3; i++)); do
		name=${order[$(((i + run - 1) % 3))]}
		case $name in
		origin) miss origin "$ORIGIN_PORT" X-Vercel-Cache "$run" ;;
		"$cdn_name") miss "$name" "$CDN_PORT" X-Vercel-Cache "$run" ;;
		*) miss "$name" "$VARNISH_PORT" X-Cache "$run" ;;
		esac
	done
done
stop_servers

# Memory: MEM_URLS distinct URLs through a serve of its own with both limits, and, for the
# heap that is not the cache's (the spec, the answers the diagnosis keeps, buffers), the
# same through a serve whose cache holds one entry. Each reports its live heap after its
# last collection (gctrace), its resident memory and (GET /__admin/cache) its cache.
# memory NAME MAX_ENTRIES MAX_BYTES: one such serve; sets mem_NAME_* variables.
memory() {
	local name=$1 log="$work/memory-$1.log" pid out cache others=("${server_pids[@]}")
	start_server "$MEM_SERVE_PORT" env GODEBUG=gctrace=1 "$work/edgecache" serve --addr "127.0.0.1:$MEM_SERVE_PORT" \
		--origin "$origin" --cdn-addr "127.0.0.1:$MEM_CDN_PORT" --cache-max-entries "$2" --cache-max-bytes "$3" 2>"$log"
	pid=${server_pids[-1]}
	for _ in $(seq 1 100); do (: >"/dev/tcp/127.0.0.1/$MEM_CDN_PORT") 2>/dev/null && break; sleep 0.1; done
	printf -v "mem_${name}_load" '%s' "$(load_now)"
	out=$("$work/loadgen" -method GET -url "http://127.0.0.1:$MEM_CDN_PORT/page" -unique -count-header X-Vercel-Cache \
		-c "$CONCURRENCY" -n "$MEM_URLS" -json)
	printf -v "mem_${name}_out" '%s' "$out"
	# Under load, a collection counts as live what was allocated while it marked, and that
	# moves with the machine's load: the live heap is read from a collection that one client
	# brings about afterwards, with HITs of one page (the cache keeps what it holds).
	local gcs
	gcs=$(grep -c '^gc [0-9]* @' "$log" || true)
	for _ in $(seq 1 30); do
		"$work/loadgen" -method GET -url "http://127.0.0.1:$MEM_CDN_PORT/settle" -c 1 -n 2000 >/dev/null
		if [ "$(grep -c '^gc [0-9]* @' "$log" || true)" -gt "$gcs" ]; then break; fi
	done
	printf -v "mem_${name}_rss" '%s' "$(($(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status") / 1024))"
	printf -v "mem_${name}_peak" '%s' "$(($(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status") / 1024))"
	cache=$(curl -sf "http://127.0.0.1:$MEM_SERVE_PORT/__admin/cache")
	kill "$pid" && wait "$pid" || true
	server_pids=("${others[@]}")
	printf -v "mem_${name}_cache" '%s' "$(sed -n 's/.*"count":\([0-9]*\),"bytes":\([0-9]*\),"evicted":\([0-9]*\).*/\1 \2 \3/p' <<<"$cache")"
	printf -v "mem_${name}_heap" '%s' "$(sed -n 's/^gc [0-9]* @.*->\([0-9]*\) MB, .*/\1/p' "$log" | tail -1)"
	printf -v "mem_${name}_gcs" '%s' "$(grep -c '^gc [0-9]* @' "$log" || true)"
	if [ -n "$LOG_DIR" ]; then cp "$log" "$LOG_DIR/edgecache-serve-memory-$name.log"; fi
	say "memory $name: $(field requests "$out") URLs, live heap $(sed -n 's/^gc [0-9]* @.*->\([0-9]*\) MB, .*/\1/p' "$log" | tail -1) MB"
}
say "memory: $MEM_URLS distinct URLs through serve --cache-max-entries 1, then $MEM_MAX_ENTRIES and --cache-max-bytes $MEM_MAX_BYTES"
start_server "$ORIGIN_PORT" "$work/benchorigin" -addr "127.0.0.1:$ORIGIN_PORT" -size "$PAGE_SIZE" 2>"$(log_for benchorigin)"
memory control 1 "$MEM_MAX_BYTES"
memory capped "$MEM_MAX_ENTRIES" "$MEM_MAX_BYTES"

# The report.
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
column_of() { grep "^$2	" "$work/$1.tsv" | while IFS=$'\t' read -r _ _ _ j; do field "$3" "$j"; done | median; }
echo
echo "## HIT: $URLS cached URLs of a $PAGE_SIZE-byte page, $CONCURRENCY clients, $DURATION per run (after $WARMUP warm-up), $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
echo "## edgecache serve --origin (x-vercel-cache) and Varnish $varnish_version (-s malloc,256m, X-Cache from obj.hits), same origin, tools/loadgen on the same machine"
echo
printf '| %-22s | %3s | %8s | %10s | %6s | %9s | %8s | %8s |\n' cache run "load avg" "req/s" errors "hit ratio" "p50 ms" "p99 ms"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------ ----- ---------- ------------ -------- ----------- ---------- ----------
while IFS=$'\t' read -r name run load json; do
	printf '| %-22s | %3s | %8s | %10.0f | %6s | %9.4f | %8.3f | %8.3f |\n' "$name" "$run" "$load" \
		"$(field requestsPerSecond "$json")" "$(field errors "$json")" \
		"$(awk -v h="$(count_of HIT "$json")" -v n="$(field requests "$json")" 'BEGIN {print (n > 0 ? h / n : 0)}')" \
		"$(field p50Ms "$json")" "$(field p99Ms "$json")"
done <"$work/hit.tsv"
echo
echo "Varnish's counters after the HIT runs: $varnish_counters"
cdn_hit=$(column_of hit "$cdn_name" requestsPerSecond)
varnish_hit=$(column_of hit "$varnish_name" requestsPerSecond)
hit_ratio=$(awk -v c="$cdn_hit" -v v="$varnish_hit" 'BEGIN {print (v > 0 ? c / v : 0)}')

echo
echo "## MISS: every request a new URL, 1 client, $MISS_REQUESTS requests per run; the origin directly and through each cache"
echo
printf '| %-22s | %3s | %8s | %8s | %8s | %8s | %8s | %10s |\n' path run "load avg" "req/s" "mean ms" "p50 ms" "p99 ms" "misses"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------ ----- ---------- ---------- ---------- ---------- ---------- ------------
while IFS=$'\t' read -r name run load json; do
	misses="-"
	if [ "$name" != origin ]; then misses="$(count_of MISS "$json")/$(field requests "$json")"; fi
	printf '| %-22s | %3s | %8s | %8.0f | %8.3f | %8.3f | %8.3f | %10s |\n' "$name" "$run" "$load" \
		"$(field requestsPerSecond "$json")" "$(awk -v r="$(field requestsPerSecond "$json")" 'BEGIN {print (r > 0 ? 1000 / r : 0)}')" \
		"$(field p50Ms "$json")" "$(field p99Ms "$json")" "$misses"
done <"$work/miss.tsv"
origin_p50=$(column_of miss origin p50Ms)
cdn_p50=$(column_of miss "$cdn_name" p50Ms)
varnish_p50=$(column_of miss "$varnish_name" p50Ms)

echo
echo "## Memory: $MEM_URLS distinct URLs, $CONCURRENCY clients, every one a MISS, through serve --origin with a cache of one entry (control), then with --cache-max-entries $MEM_MAX_ENTRIES --cache-max-bytes $MEM_MAX_BYTES"
echo
printf '| %-7s | %8s | %8s | %6s | %7s | %9s | %13s | %8s | %15s | %8s | %8s |\n' serve "load avg" "req/s" errors misses "entries" "bytes" evicted "live heap (GCs)" "RSS" "peak RSS"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' --------- ---------- ---------- -------- --------- ----------- --------------- ---------- ----------------- ---------- ----------
for name in control capped; do
	out_var="mem_${name}_out" cache_var="mem_${name}_cache" heap_var="mem_${name}_heap" gcs_var="mem_${name}_gcs"
	load_var="mem_${name}_load" rss_var="mem_${name}_rss" peak_var="mem_${name}_peak"
	read -r count bytes evicted <<<"${!cache_var}"
	printf '| %-7s | %8s | %8.0f | %6s | %7s | %9s | %13s | %8s | %15s | %8s | %8s |\n' "$name" "${!load_var}" \
		"$(field requestsPerSecond "${!out_var}")" "$(field errors "${!out_var}")" "$(count_of MISS "${!out_var}")" \
		"$count" "$bytes" "$evicted" "${!heap_var:-?} MB (${!gcs_var})" "${!rss_var} MiB" "${!peak_var} MiB"
done
echo
echo "live heap: after a collection brought about by one client once the run is over (GODEBUG=gctrace=1); the cache's is the capped serve's less the control's."
echo "RSS: the Go runtime lets the heap grow to twice the live heap between collections (GOGC=100), and keeps what it freed for a while."
read -r mem_count mem_bytes _ <<<"$mem_capped_cache"

echo
awk -v c="$cdn_hit" -v v="$varnish_hit" -v r="$hit_ratio" -v o="$origin_p50" -v cp="$cdn_p50" -v vp="$varnish_p50" \
	-v n="$mem_count" -v me="$MEM_MAX_ENTRIES" -v b="$mem_bytes" -v mb="$MEM_MAX_BYTES" -v h0="${mem_control_heap:-0}" -v h1="${mem_capped_heap:-0}" 'BEGIN {
	printf "| target | measured | result |\n|---|---|---|\n"
	printf "| HIT throughput >= half of Varnish | median %.0f req/s vs %.0f req/s: %.2f | %s |\n", c, v, r, (r >= 0.5 ? "met" : "missed")
	printf "| a MISS adds <= 1 ms over the origin | median p50 %.3f ms vs %.3f ms: +%.3f ms (Varnish: +%.3f ms) | %s |\n", cp, o, cp - o, vp - o, (cp - o <= 1 ? "met" : "missed")
	grow = (h1 - h0) * 1048576
	printf "| memory within the caps, %d URLs | %d entries <= %d, %d bytes <= %d; the cache'"'"'s live heap %.0f MB (%.2f of MaxBytes; 1.05 allowed: an estimate, read in 1 MB steps) | %s |\n", '"$MEM_URLS"', n, me, b, mb, h1 - h0, grow / mb, (n <= me && b <= mb && grow <= 1.05 * mb ? "met" : "missed")
}'
