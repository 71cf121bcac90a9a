package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/vercelkit/edgecache/edgecachetest"
)

func newServeCommand(e env) *cobra.Command {
	var (
		addr        string
		token       string
		latency     time.Duration
		maxRecorded int
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
  GET    /__admin/requests[?operation=ID]   the recorded requests: {"requests":[…],"dropped":N}
  DELETE /__admin/requests                  clear them
  POST   /__admin/faults                    queue a fault: {"operation","times","status",
                                            "retryAfter","body","delayMs","drop"}
  GET    /__admin/faults, DELETE /__admin/faults
  POST   /__admin/reset                     clear the requests and the faults
  GET    /__admin/spec                      the OpenAPI document the fake validates against
The log keeps the newest --max-recorded requests and counts the others as dropped. It never
holds a bearer token.`,
		Example: `  edgecache serve --addr 127.0.0.1:8787
  curl -X POST 'http://127.0.0.1:8787/v1/edge-cache/invalidate-by-tags?projectIdOrName=demo' \
    -H 'Authorization: Bearer test-token' -H 'Content-Type: application/json' -d '{"tags":["blog"]}'
  curl 'http://127.0.0.1:8787/__admin/requests?operation=invalidateByTags'
  curl -X POST http://127.0.0.1:8787/__admin/faults -d '{"status":429,"retryAfter":"1","times":2}'
  edgecache dangerously-delete --api-url http://127.0.0.1:8787 --token test-token --project demo --tag blog --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			return serve(cmd.Context(), e, addr, edgecachetest.NewHandler(opts...))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on (port 0 picks a free one, printed on stderr)")
	cmd.Flags().StringVar(&token, "token", "", "accept only this bearer token (default: any non-empty token)")
	cmd.Flags().DurationVar(&latency, "latency", 0, "delay every answer, e.g. 20ms")
	cmd.Flags().IntVar(&maxRecorded, "max-recorded", edgecachetest.DefaultMaxRecorded, "keep the newest N requests for GET /__admin/requests (0 keeps none)")
	return cmd
}

// serve runs handler on addr until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, e env, addr string, handler http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "edgecache: serving the fake endpoint on http://%s (Ctrl-C to stop)\n", ln.Addr())
	fmt.Fprintf(e.stderr, "edgecache: admin API on http://%s/__admin/\n", ln.Addr())
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
