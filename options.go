package edgecache

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Option configures a Client in [New]. An option that is given a bad value makes New fail.
type Option func(*Client) error

// WithBaseURL sets the API's base URL (default [DefaultBaseURL]). A path is kept as a prefix,
// so a proxy such as "https://proxy.example/vercel" works. Plain http is accepted only for
// loopback hosts unless [WithInsecureHTTP] is given, so a typo cannot send the token in clear.
func WithBaseURL(baseURL string) Option {
	return func(c *Client) error {
		u, err := url.Parse(baseURL)
		if err != nil {
			return fmt.Errorf("WithBaseURL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("WithBaseURL: %q is not an absolute http(s) URL", baseURL)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("WithBaseURL: %q must not carry a query or fragment", baseURL)
		}
		c.baseURL = strings.TrimSuffix(u.String(), "/")
		return nil
	}
}

// WithHTTPClient sets the *http.Client used for requests, for proxies, TLS settings or
// tests. Its Timeout bounds each attempt; the context bounds the whole call.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("WithHTTPClient: client is nil")
		}
		c.httpClient = hc
		return nil
	}
}

// WithTeamID acts on behalf of a team by id ("team_…"); a request's TeamID overrides it.
func WithTeamID(teamID string) Option {
	return func(c *Client) error {
		c.teamID = teamID
		return nil
	}
}

// WithTeamSlug acts on behalf of a team by slug; a request's TeamSlug overrides it.
func WithTeamSlug(slug string) Option {
	return func(c *Client) error {
		c.teamSlug = slug
		return nil
	}
}

// WithUserAgent replaces the User-Agent header ("edgecache-go/VERSION").
func WithUserAgent(userAgent string) Option {
	return func(c *Client) error {
		if userAgent == "" {
			return errors.New("WithUserAgent: user agent is empty")
		}
		c.userAgent = userAgent
		return nil
	}
}

// WithLogger makes the client log retries and failures to logger. Without it the client is
// silent. Log lines never hold the token.
func WithLogger(logger *slog.Logger) Option {
	return func(c *Client) error {
		if logger == nil {
			return errors.New("WithLogger: logger is nil")
		}
		c.logger = logger
		return nil
	}
}

// WithRetry replaces the retry policy ([DefaultRetryPolicy]). Zero fields take the default's
// values; MaxAttempts 1 disables retries.
func WithRetry(policy RetryPolicy) Option {
	return func(c *Client) error {
		p, err := policy.withDefaults()
		if err != nil {
			return fmt.Errorf("WithRetry: %w", err)
		}
		c.retry = p
		return nil
	}
}

// WithInsecureHTTP allows a plain-http base URL for a host other than loopback. The token then
// crosses the network in clear; use it only on a network you trust.
func WithInsecureHTTP() Option {
	return func(c *Client) error {
		c.insecure = true
		return nil
	}
}

// checkBaseURL refuses plain http to a non-loopback host unless insecure is set.
func checkBaseURL(baseURL string, insecure bool) error {
	u, err := url.Parse(baseURL)
	if err != nil {
		return err
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return fmt.Errorf("base URL %q uses plain http to a non-loopback host; use https or WithInsecureHTTP", baseURL)
	}
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
