# Shared by the bench scripts (source it): start a server in the background, wait until it
# listens, stop it. Callers set a trap that runs stop_servers on exit.

server_pids=()

# start_server PORT COMMAND...: run COMMAND in the background (its output as the caller
# redirects this call) and return once something accepts connections on 127.0.0.1:PORT, or
# fail when the command exits or 60 s pass.
start_server() {
	local port=$1
	shift
	"$@" &
	local pid=$!
	server_pids+=("$pid")
	for _ in $(seq 1 600); do
		if (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then echo "$(basename "$0"): $1 exited before listening on $port" >&2; return 1; fi
		sleep 0.1
	done
	echo "$(basename "$0"): nothing listens on 127.0.0.1:$port after 60 s" >&2
	return 1
}

# stop_servers: stop every server start_server started, and wait for each.
stop_servers() {
	local pid
	for pid in "${server_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	server_pids=()
}
