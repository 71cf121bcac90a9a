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

	"github.com/vercelkit/edgecache/edgecachetest"
)

func newServeCommand(e env) *cobra.Command {
	var (
		addr    string
		token   string
		latency time.Duration

		rateLimit        string
		rateLimitHeaders bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a spec-validating fake of the endpoint, for any client",
		Long: `Serves a fake of POST /v1/edge-cache/dangerously-delete-by-tags that checks every request
against the vendored OpenAPI spec, as the real API would, and logs each request and its verdict.
By default any non-empty bearer token is accepted. Nothing is cached or deleted.`,
		Example: `  edgecache serve --addr 127.0.0.1:8787
  curl -X POST 'http://127.0.0.1:8787/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo' \
    -H 'Authorization: Bearer test' -H 'Content-Type: application/json' -d '{"tags":["blog"]}'
  edgecache dangerously-delete --api-url http://127.0.0.1:8787 --token test --project demo --tag blog --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A long-running server must not keep every request it accepted.
			opts := []edgecachetest.Option{edgecachetest.WithoutRecording(), edgecachetest.WithLogger(slog.New(slog.NewTextHandler(e.stderr, nil)))}
			if token != "" {
				opts = append(opts, edgecachetest.WithTokens(token))
			}
			if latency > 0 {
				opts = append(opts, edgecachetest.WithLatency(latency))
			}
			limitOpts, err := rateLimitOptions(rateLimit, rateLimitHeaders)
			if err != nil {
				return err
			}
			opts = append(opts, limitOpts...)
			return serve(cmd.Context(), e, addr, edgecachetest.NewHandler(opts...))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	cmd.Flags().StringVar(&token, "token", "", "accept only this bearer token (default: any non-empty token)")
	cmd.Flags().DurationVar(&latency, "latency", 0, "delay every answer, e.g. 20ms")
	cmd.Flags().StringVar(&rateLimit, "rate-limit", "", "allow N requests per fixed window of DURATION, e.g. 100/1m; more are answered 429")
	cmd.Flags().BoolVar(&rateLimitHeaders, "rate-limit-headers", false, "with --rate-limit, send X-RateLimit-Limit/Remaining/Reset (not confirmed for Vercel)")
	return cmd
}

// rateLimitOptions turns --rate-limit N/DURATION (100/1m; a bare unit, 5/s, means 1 of it) and
// --rate-limit-headers into the fake's options.
func rateLimitOptions(limit string, headers bool) ([]edgecachetest.Option, error) {
	if limit == "" {
		if headers {
			return nil, errors.New("--rate-limit-headers: needs --rate-limit")
		}
		return nil, nil
	}
	count, window, _ := strings.Cut(limit, "/")
	if window != "" && strings.IndexAny(window[:1], "0123456789.") < 0 {
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
	return opts, nil
}

// serve runs handler on addr until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, e env, addr string, handler http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "edgecache: serving the fake endpoint on http://%s (Ctrl-C to stop)\n", ln.Addr())
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
