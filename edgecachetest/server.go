package edgecachetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/vercelkit/edgecache"
)

// DefaultToken is the token [Server.Token] returns when [WithTokens] is not given; the fake
// then accepts any non-empty token.
const DefaultToken = "edgecachetest-token"

// Server is a running fake on 127.0.0.1, an httptest.Server underneath. Its embedded
// *Handler gives Requests, Calls, Reset and FailNext.
type Server struct {
	*Handler
	// URL is the API's base URL, "http://127.0.0.1:port", with no trailing slash.
	URL string
	// CDNURL is the base URL of the CDN in front of the origin [WithOrigin] gave, on a
	// listener of its own so that the site's paths never meet the API's; "" without one.
	CDNURL string

	srv, cdnSrv *httptest.Server
	token       string
}

// NewServer starts a fake configured by opts on a loopback port, and its CDN, if
// [WithOrigin] gave one, on another. Close it when done, for example with t.Cleanup(s.Close).
func NewServer(opts ...Option) *Server {
	h := NewHandler(opts...)
	ts := startLoopback(h)
	token := DefaultToken
	if len(h.cfg.tokenList) > 0 {
		token = h.cfg.tokenList[0]
	}
	s := &Server{Handler: h, URL: ts.URL, srv: ts, token: token}
	if h.cdn != nil {
		s.cdnSrv = startLoopback(h.cdn)
		s.CDNURL = s.cdnSrv.URL
	}
	return s
}

// startLoopback serves h on 127.0.0.1, on a port the system picks.
func startLoopback(h http.Handler) *httptest.Server {
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("edgecachetest: listening on 127.0.0.1: %v", err))
	}
	// A test's server, on loopback; the header timeout only keeps a stuck client from holding
	// a connection for the whole test run.
	ts := &httptest.Server{Listener: l, Config: &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}}
	ts.Start()
	return ts
}

// Close ends every pending latency wait (those connections are aborted, not answered) and
// every origin fetch and background revalidation of the CDN, then shuts the servers down and
// waits for their handlers to return.
func (s *Server) Close() {
	s.close()
	if s.cdn != nil {
		s.cdn.Close()
		s.cdnSrv.Close()
	}
	s.srv.Close()
}

// Client returns an *http.Client for the server (the httptest one).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Token returns a token the fake accepts: DefaultToken, or the first one given to
// WithTokens. After WithTokens() with no token, no token is accepted and Token returns
// DefaultToken, which is refused.
func (s *Server) Token() string { return s.token }

// NewClient returns an edgecache client pointed at the server with Token, its base URL and
// its HTTP client; opts are applied after those. The client's default retry policy waits
// 500 ms and more between attempts: pass edgecache.WithRetry with short delays to keep fault
// tests fast.
func (s *Server) NewClient(opts ...edgecache.Option) (*edgecache.Client, error) {
	all := make([]edgecache.Option, 0, 2+len(opts))
	all = append(all, edgecache.WithBaseURL(s.URL), edgecache.WithHTTPClient(s.Client()))
	all = append(all, opts...)
	return edgecache.New(s.Token(), all...)
}
