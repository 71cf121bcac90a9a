package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/netutil"

	"github.com/vercelkit/edgecache/edgecachetest"
)

// serveLimits bound what one client can hold of the server: without them a connection that
// never finishes its request, or an idle keep-alive, is held forever, and 20,000 of them
// exhausted the process's file descriptors.
type serveLimits struct {
	readHeader, read, write, idle time.Duration
	maxConns                      int
}

// check refuses a limit that would disable itself or cut every answer.
func (l serveLimits) check(latency time.Duration) error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--read-header-timeout", l.readHeader}, {"--read-timeout", l.read}, {"--write-timeout", l.write}, {"--idle-timeout", l.idle}} {
		if d.v <= 0 {
			return fmt.Errorf("%s: must be greater than 0 (got %v)", d.flag, d.v)
		}
	}
	if l.write <= latency {
		return fmt.Errorf("--write-timeout: must be longer than --latency (got %v, latency %v)", l.write, latency)
	}
	if l.maxConns < 1 {
		return fmt.Errorf("--max-conns: must be at least 1 (got %d)", l.maxConns)
	}
	return nil
}

func newServeCommand(e env) *cobra.Command {
	var (
		addr        string
		token       string
		latency     time.Duration
		maxRecorded int
		limits      serveLimits

		rateLimit                        string
		rateLimitHeaders, retryAfterOnly bool
		allowRemote                      bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a spec-validating fake of the Edge Cache API, with an admin API for tests",
		Long: `Serves a fake of the four Edge Cache operations (POST /v1/edge-cache/invalidate-by-tags,
dangerously-delete-by-tags, invalidate-by-src-images and dangerously-delete-by-src-images) that
checks every request against the vendored OpenAPI spec, as the real API would, and logs each
request and its verdict. By default any non-empty bearer token is accepted. Nothing is cached or
deleted.

Under /__admin/ an admin API lets a test in any language see what was sent and script faults:
  GET    /__admin/                          an index of these paths
  GET    /__admin/requests[?operation=ID]   the recorded requests: {"requests":[…],"dropped":N}
  DELETE /__admin/requests                  clear them
  POST   /__admin/faults                    queue a fault: {"operation","times","status",
                                            "retryAfter","retryAfterMs","body","delayMs","drop"}
  GET    /__admin/faults, DELETE /__admin/faults
  POST   /__admin/reset                     clear the requests and the faults
  GET    /__admin/spec                      the OpenAPI document the fake validates against
The log keeps the newest --max-recorded requests and counts the others as dropped. It never
holds a bearer token.

A client cannot hold the server: a connection is closed when its request takes longer than
--read-timeout to arrive (its headers, --read-header-timeout), when its answer cannot be
written within --write-timeout, or when it stays idle between requests for --idle-timeout.
At most --max-conns connections are served at once; more wait to be accepted.

It listens on loopback only unless --allow-remote is given: the fake accepts any token, and
its admin API can rewrite its answers. Give --allow-remote with --addr 0.0.0.0:8787 in a
container, where that address is the container's own.`,
		Example: `  edgecache serve --addr 127.0.0.1:8787
  curl -X POST 'http://127.0.0.1:8787/v1/edge-cache/invalidate-by-tags?projectIdOrName=demo' \
    -H 'Authorization: Bearer test-token' -H 'Content-Type: application/json' -d '{"tags":["blog"]}'
  curl 'http://127.0.0.1:8787/__admin/requests?operation=invalidateByTags'
  curl -X POST http://127.0.0.1:8787/__admin/faults -d '{"status":429,"retryAfterMs":"50","times":2}'
  edgecache dangerously-delete --api-url http://127.0.0.1:8787 --token test-token --project demo --tag blog --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !loopbackOnly(addr) && !allowRemote {
				return fmt.Errorf("--addr %s: other machines could reach the fake and its admin API: "+
					"pass --allow-remote if that is meant (as in a container), or listen on 127.0.0.1", addr)
			}
			if err := limits.check(latency); err != nil {
				return err
			}
			if maxRecorded < 0 {
				return fmt.Errorf("--max-recorded: must be 0 or more (got %d)", maxRecorded)
			}
			opts := []edgecachetest.Option{
				edgecachetest.WithAdminAPI(),
				// A long-running server keeps a bounded log.
				edgecachetest.WithMaxRecorded(maxRecorded),
				edgecachetest.WithLogger(slog.New(slog.NewTextHandler(e.stderr, nil))),
			}
			if token != "" {
				opts = append(opts, edgecachetest.WithTokens(token))
			}
			if latency > 0 {
				opts = append(opts, edgecachetest.WithLatency(latency))
			}
			limitOpts, err := rateLimitOptions(rateLimit, rateLimitHeaders, retryAfterOnly)
			if err != nil {
				return err
			}
			opts = append(opts, limitOpts...)
			return serve(cmd.Context(), e, addr, limits, edgecachetest.NewHandler(opts...))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on (port 0 picks a free one, printed on stderr); loopback only, unless --allow-remote")
	cmd.Flags().BoolVar(&allowRemote, "allow-remote", false, "allow an --addr other machines can reach, such as 0.0.0.0:8787 in a container")
	cmd.Flags().StringVar(&token, "token", "", "accept only this bearer token (default: any non-empty token)")
	cmd.Flags().DurationVar(&latency, "latency", 0, "delay every answer, e.g. 20ms")
	// The defaults leave a slow client a body of 1 MiB at 35 KB/s, and --latency up to a minute.
	cmd.Flags().DurationVar(&limits.readHeader, "read-header-timeout", 10*time.Second, "close a connection whose request headers take longer to arrive")
	cmd.Flags().DurationVar(&limits.read, "read-timeout", 30*time.Second, "close a connection whose request, body included, takes longer to arrive")
	cmd.Flags().DurationVar(&limits.write, "write-timeout", 90*time.Second, "close a connection whose answer is not written this long after its request's headers (must exceed --latency)")
	cmd.Flags().DurationVar(&limits.idle, "idle-timeout", 60*time.Second, "close a keep-alive connection idle this long between requests")
	cmd.Flags().IntVar(&limits.maxConns, "max-conns", 1024, "serve at most this many connections at once; more wait to be accepted")
	cmd.Flags().IntVar(&maxRecorded, "max-recorded", edgecachetest.DefaultMaxRecorded, "keep the newest N requests for GET /__admin/requests (0 keeps none)")
	cmd.Flags().StringVar(&rateLimit, "rate-limit", "", "allow N requests per fixed window of DURATION, e.g. 100/1m; more are answered 429")
	cmd.Flags().BoolVar(&rateLimitHeaders, "rate-limit-headers", false, "with --rate-limit, send X-RateLimit-Limit/Remaining/Reset (not confirmed for Vercel)")
	cmd.Flags().BoolVar(&retryAfterOnly, "rate-limit-retry-after-only", false, "with --rate-limit, answer 429 with Retry-After alone, without the error's limit block")
	return cmd
}

// loopbackOnly reports whether addr can be reached from this machine only: localhost or a
// loopback IP. An empty host (":8787") is every interface; any other name could resolve
// anywhere. A malformed address counts as loopback, so that listening reports it.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rateLimitOptions turns --rate-limit N/DURATION (100/1m; a bare unit, 5/s, means 1 of it),
// --rate-limit-headers and --rate-limit-retry-after-only into the fake's options.
func rateLimitOptions(limit string, headers, retryAfterOnly bool) ([]edgecachetest.Option, error) {
	if limit == "" {
		switch {
		case headers:
			return nil, errors.New("--rate-limit-headers: needs --rate-limit")
		case retryAfterOnly:
			return nil, errors.New("--rate-limit-retry-after-only: needs --rate-limit")
		}
		return nil, nil
	}
	count, window, _ := strings.Cut(limit, "/")
	if window != "" && !strings.ContainsAny(window[:1], "0123456789.") {
		window = "1" + window
	}
	n, nErr := strconv.Atoi(count)
	d, dErr := time.ParseDuration(window)
	if nErr != nil || dErr != nil || n < 1 || d <= 0 {
		return nil, fmt.Errorf("--rate-limit: must be N/DURATION with N at least 1 and DURATION above 0, such as 100/1m (got %q)", limit)
	}
	opts := []edgecachetest.Option{edgecachetest.WithRateLimit(n, d)}
	if headers {
		opts = append(opts, edgecachetest.WithRateLimitHeaders())
	}
	if retryAfterOnly {
		opts = append(opts, edgecachetest.WithRateLimitRetryAfterOnly())
	}
	return opts, nil
}

// serve runs handler on addr until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, e env, addr string, limits serveLimits, handler http.Handler) error {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	// Connections beyond the bound wait in the kernel's accept queue, holding no descriptor
	// of ours. netutil.LimitListener is the Go team's maintained semaphore listener.
	ln = netutil.LimitListener(ln, limits.maxConns)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: limits.readHeader,
		ReadTimeout:       limits.read,
		WriteTimeout:      limits.write,
		IdleTimeout:       limits.idle,
	}
	// Every interface ("0.0.0.0:8787", shown as [::]:8787) is no address to connect to: the
	// URL printed for this machine's clients is its loopback one.
	local := ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		local = net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	fmt.Fprintf(e.stderr, "edgecache: serving the fake endpoint on http://%s (Ctrl-C to stop)\n", local)
	if !loopbackOnly(addr) {
		fmt.Fprintf(e.stderr, "edgecache: WARNING: --allow-remote: listening on %s; other machines can reach the fake and its admin API\n", ln.Addr())
	}
	fmt.Fprintf(e.stderr, "edgecache: admin API on http://%s/__admin/\n", local)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return &failure{err: err}
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return &failure{err: err}
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &failure{err: err}
	}
	return nil
}
