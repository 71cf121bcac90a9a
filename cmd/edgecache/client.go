package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// newClient makes the client for the real API, or for an in-process fake with --mock. The
// returned func closes the fake; it is a no-op otherwise.
func newClient(f purgeFlags, e env) (*edgecache.Client, func(), error) {
	opts := []edgecache.Option{edgecache.WithUserAgent("edgecache-cli/" + edgecache.Version())}
	if f.debug {
		opts = append(opts, edgecache.WithLogger(slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	if f.mock {
		fake := edgecachetest.NewServer()
		c, err := fake.NewClient(opts...)
		if err != nil {
			fake.Close()
			return nil, nil, err
		}
		return c, fake.Close, nil
	}
	token := firstOf(f.token, e.getenv("VERCEL_TOKEN"))
	if token == "" {
		if !f.dryRun {
			return nil, nil, errors.New("no token: pass --token or set VERCEL_TOKEN (create one at https://vercel.com/account/tokens), or try --mock")
		}
		// A dry run sends nothing, so it needs no real credential to show the requests.
		token = "dry-run"
	}
	c, err := edgecache.New(token, append(opts, edgecache.WithBaseURL(f.apiURL))...)
	if err != nil {
		return nil, nil, newClientError(token, f.apiURL, err)
	}
	return c, func() {}, nil
}

// newClientError explains why New refused, in the command's terms: the library's messages name
// its options (WithBaseURL, WithInsecureHTTP), which a command user never sees. What was wrong
// is asked of the library itself, by trying again without each suspect, so that its rules
// (such as plain http only to loopback) are not restated here.
func newClientError(token, apiURL string, err error) error {
	if _, e := edgecache.New(token, edgecache.WithBaseURL(apiURL), edgecache.WithInsecureHTTP()); e == nil {
		return fmt.Errorf("--api-url %s is refused: plain http would send the token in clear to another machine; use https (http is allowed only to this machine: localhost, 127.0.0.1, ::1)", apiURL)
	}
	if _, e := edgecache.New(token); e == nil {
		return fmt.Errorf("--api-url %q is not an absolute http(s) URL without a query, such as %s", apiURL, edgecache.DefaultBaseURL)
	}
	// Any other refusal (such as a token that cannot be sent in a header) is the library's
	// message, without the Go function's name.
	return errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "edgecache: "), "New: "))
}

// isPlainHTTPAnswer reports an https request answered in plain http, as by a local fake at an
// https:// --api-url.
func isPlainHTTPAnswer(err error) bool { return errors.Is(err, http.ErrSchemeMismatch) }
