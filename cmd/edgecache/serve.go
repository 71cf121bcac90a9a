package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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

		cdn cdnFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a spec-validating fake of the Edge Cache API, with an admin API for tests",
		Long: `Serves a fake of the four Edge Cache operations (POST /v1/edge-cache/invalidate-by-tags,
dangerously-delete-by-tags, invalidate-by-src-images and dangerously-delete-by-src-images) that
checks every request against the vendored OpenAPI spec, as the real API would, and logs each
request and its verdict. By default any non-empty bearer token is accepted. Without --origin
(below), nothing is cached or deleted.

Under /__admin/ an admin API lets a test in any language see what was sent and script faults:
  GET    /__admin/                          an index of these paths
  GET    /__admin/requests[?operation=ID]   the recorded requests: {"requests":[…],"dropped":N}
  DELETE /__admin/requests                  clear them
  POST   /__admin/faults                    queue a fault: {"operation","times","status",
                                            "retryAfter","retryAfterMs","body","delayMs","drop"}
  GET    /__admin/faults, DELETE /__admin/faults
  POST   /__admin/reset                     clear the requests, the faults and the CDN's cache
  GET    /__admin/spec                      the OpenAPI document the fake validates against
The log keeps the newest --max-recorded requests and counts the others as dropped. It never
holds a bearer token.

A client cannot hold the server: a connection is closed when its request takes longer than
--read-timeout to arrive (its headers, --read-header-timeout), when its answer cannot be
written within --write-timeout, or when it stays idle between requests for --idle-timeout.
At most --max-conns connections are served at once; more wait to be accepted.

With --origin URL, a local emulation of Vercel's CDN cache serves your site on --cdn-addr,
in front of the origin, and the purges the fake accepts act on it, so you can see what a
purge does: x-vercel-cache shows MISS, HIT, STALE, REVALIDATED or BYPASS, and
  GET    /__admin/cache[?url=/path]         every entry (tags, state, age, TTL, the header that
                                            decided), or why one URL was or was not cached
  DELETE /__admin/cache                     empty the cache
  POST   /__admin/clock                     move the fake's time: {"advance":"30s"}
Caching follows Vercel's documented rules (s-maxage, CDN-Cache-Control,
Vercel-CDN-Cache-Control, stale-while-revalidate, stale-if-error, Vercel-Cache-Tag); see
go doc github.com/vercelkit/edgecache/edgecachetest. Invalidate rather than delete: a deleted
page is fetched from the origin in the foreground by its next request, and a tag covering
many pages sends many such requests at once (a stampede).

It listens on loopback only unless --allow-remote is given: the fake accepts any token, and
its admin API can rewrite its answers. Give --allow-remote with --addr 0.0.0.0:8787 in a
container, where that address is the container's own.`,
		Example: `  edgecache serve --addr 127.0.0.1:8787
  curl -X POST 'http://127.0.0.1:8787/v1/edge-cache/invalidate-by-tags?projectIdOrName=demo' \
    -H 'Authorization: Bearer test-token' -H 'Content-Type: application/json' -d '{"tags":["blog"]}'
  curl 'http://127.0.0.1:8787/__admin/requests?operation=invalidateByTags'
  curl -X POST http://127.0.0.1:8787/__admin/faults -d '{"status":429,"retryAfterMs":"50","times":2}'
  edgecache dangerously-delete --api-url http://127.0.0.1:8787 --token test-token --project demo --tag blog --yes

  edgecache serve --origin http://127.0.0.1:3000          # the site on http://127.0.0.1:8788
  curl -i http://127.0.0.1:8788/blog/hello                  # x-vercel-cache: MISS, then HIT
  edgecache invalidate --api-url http://127.0.0.1:8787 --token t --project demo --tag blog --yes
  curl -i http://127.0.0.1:8788/blog/hello                  # x-vercel-cache: STALE
  curl 'http://127.0.0.1:8787/__admin/cache?url=/blog/hello'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, a := range []struct{ flag, addr string }{{"--addr", addr}, {"--cdn-addr", cdn.addr}} {
				if a.addr != "" && !loopbackOnly(a.addr) && !allowRemote {
					return fmt.Errorf("%s %s: other machines could reach the fake and its admin API: "+
						"pass --allow-remote if that is meant (as in a container), or listen on 127.0.0.1", a.flag, a.addr)
				}
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
			cdnOpts, err := cdn.options()
			if err != nil {
				return err
			}
			opts = append(opts, cdnOpts...)
			return serve(cmd.Context(), e, addr, cdn.addr, limits, edgecachetest.NewHandler(opts...))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on (port 0 picks a free one, printed on stderr); loopback only, unless --allow-remote")
	cmd.Flags().BoolVar(&allowRemote, "allow-remote", false, "allow an --addr or --cdn-addr other machines can reach, such as 0.0.0.0:8787 in a container")
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
	cdn.register(cmd)
	return cmd
}

// cdnFlags are serve's flags for the CDN in front of --origin.
type cdnFlags struct {
	origin, addr, environment string
	timeout                   time.Duration
	limits                    edgecachetest.CacheLimits
	frozenClock               bool
}

func (f *cdnFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.origin, "origin", "", "serve a local Vercel CDN in front of this origin, e.g. http://127.0.0.1:3000")
	fl.StringVar(&f.addr, "cdn-addr", "127.0.0.1:8788", "with --origin, address the CDN listens on (port 0 picks a free one, printed on stderr)")
	fl.StringVar(&f.environment, "environment", edgecachetest.EnvironmentProduction, "with --origin, the environment the CDN emulates (production|preview): a purge for the other one leaves it alone")
	fl.DurationVar(&f.timeout, "origin-timeout", edgecachetest.DefaultOriginTimeout, "with --origin, answer 504 when the origin's headers take longer")
	fl.IntVar(&f.limits.MaxEntries, "cache-max-entries", edgecachetest.DefaultMaxEntries, "with --origin, keep at most this many cache entries (least recently used out first)")
	fl.Int64Var(&f.limits.MaxBytes, "cache-max-bytes", edgecachetest.DefaultMaxBytes, "with --origin, keep at most this many bytes in the cache")
	fl.Int64Var(&f.limits.MaxBodyBytes, "cache-max-body-bytes", edgecachetest.DefaultMaxBodyBytes, "with --origin, store no body larger than this (twice it when streamed); larger ones stream through")
	fl.BoolVar(&f.frozenClock, "frozen-clock", false, "stop the fake's clock: only POST /__admin/clock moves it (TTLs, deadlines, rate-limit windows)")
}

// options checks the CDN flags and turns them into the fake's options.
func (f *cdnFlags) options() ([]edgecachetest.Option, error) {
	var opts []edgecachetest.Option
	if f.frozenClock {
		start := time.Now()
		opts = append(opts, edgecachetest.WithClock(func() time.Time { return start }))
	}
	if f.origin == "" {
		return opts, nil
	}
	u, err := url.Parse(f.origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--origin: must be an http:// or https:// URL with a host and no query, such as http://127.0.0.1:3000 (got %q)", f.origin)
	}
	if f.environment != edgecachetest.EnvironmentProduction && f.environment != edgecachetest.EnvironmentPreview {
		return nil, fmt.Errorf("--environment: must be production or preview (got %q)", f.environment)
	}
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--origin-timeout: must be greater than 0 (got %v)", f.timeout)
	}
	for _, l := range []struct {
		flag string
		v    int64
	}{{"--cache-max-entries", int64(f.limits.MaxEntries)}, {"--cache-max-bytes", f.limits.MaxBytes}, {"--cache-max-body-bytes", f.limits.MaxBodyBytes}} {
		if l.v < 1 {
			return nil, fmt.Errorf("%s: must be at least 1 (got %d)", l.flag, l.v)
		}
	}
	return append(opts,
		edgecachetest.WithOrigin(f.origin),
		edgecachetest.WithEnvironment(f.environment),
		edgecachetest.WithOriginTimeout(f.timeout),
		edgecachetest.WithCacheLimits(f.limits),
	), nil
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

// serve runs the fake's handler on addr, and its CDN, if it has one, on cdnAddr, until ctx
// ends, then shuts both down gracefully.
func serve(ctx context.Context, e env, addr, cdnAddr string, limits serveLimits, h *edgecachetest.Handler) error {
	api, err := listen(ctx, addr, "--addr", limits, h)
	if err != nil {
		return err
	}
	servers := []*listening{api}
	c := h.CDN()
	if c != nil {
		site, err := listen(ctx, cdnAddr, "--cdn-addr", limits, c)
		if err != nil {
			_ = api.ln.Close()
			c.Close()
			return err
		}
		servers = append(servers, site)
	}
	fmt.Fprintf(e.stderr, "edgecache: serving the fake endpoint on http://%s (Ctrl-C to stop)\n", localAddr(api.ln))
	fmt.Fprintf(e.stderr, "edgecache: admin API on http://%s/__admin/\n", localAddr(api.ln))
	if c != nil {
		fmt.Fprintf(e.stderr, "edgecache: serving the CDN on http://%s in front of %s (environment %s); see http://%s/__admin/cache\n",
			localAddr(servers[1].ln), c.Origin(), c.Environment(), localAddr(api.ln))
	}
	for _, s := range servers {
		if !loopbackOnly(s.ln.Addr().String()) {
			fmt.Fprintf(e.stderr, "edgecache: WARNING: --allow-remote: listening on %s; other machines can reach it\n", s.ln.Addr())
		}
	}
	done := make(chan error, len(servers))
	for _, s := range servers {
		go func() { done <- s.srv.Serve(s.ln) }()
	}
	var failed error
	received := 0
	select {
	case failed = <-done:
		received++
	case <-ctx.Done():
	}
	if c != nil {
		// Ends the CDN's origin fetches, so that its server's shutdown does not wait for a
		// slow origin.
		c.Close()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.srv.Shutdown(shutdownCtx); err != nil && failed == nil {
			failed = err
		}
	}
	for ; received < len(servers); received++ {
		if err := <-done; !errors.Is(err, http.ErrServerClosed) && failed == nil {
			failed = err
		}
	}
	if failed != nil && !errors.Is(failed, http.ErrServerClosed) {
		return &failure{err: failed}
	}
	return nil
}

// listening is one of serve's servers and its listener.
type listening struct {
	ln  net.Listener
	srv *http.Server
}

// listen opens addr for handler, with serve's limits.
func listen(ctx context.Context, addr, flag string, limits serveLimits, handler http.Handler) (*listening, error) {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	// Connections beyond the bound wait in the kernel's accept queue, holding no descriptor
	// of ours. netutil.LimitListener is the Go team's maintained semaphore listener.
	ln = netutil.LimitListener(ln, limits.maxConns)
	return &listening{ln: ln, srv: &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: limits.readHeader,
		ReadTimeout:       limits.read,
		WriteTimeout:      limits.write,
		IdleTimeout:       limits.idle,
	}}, nil
}

// localAddr is the address this machine's clients connect to: every interface
// ("0.0.0.0:8787", shown as [::]:8787) is no address to connect to, so it becomes the
// loopback one.
func localAddr(ln net.Listener) string {
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	return ln.Addr().String()
}
