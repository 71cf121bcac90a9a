package edgecache_test

// Shared helpers of the reliability tests (retry_test.go, bulk_test.go, security_test.go,
// fuzz_test.go) and the package's goroutine-leak check.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// TestMain fails the package if any test leaves a goroutine behind: a retry still sleeping, a
// bulk worker still running, a server or a connection not closed. No goroutine is ignored: every
// test closes its servers (httptest.Server.Close also closes the idle connections of the
// server's own client) and every test-made transport is closed with CloseIdleConnections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// relToken is the only token the reliability tests' fakes accept. It must never be printed.
const relToken = "vcp_RELIABILITY_SECRET_3b9e1d7c"

// relProject is the project every reliability test purges.
const relProject = "prj_reliability"

// relClock is an injectable clock (edgecache.WithClock). Sleep records the wait it was asked
// for and returns at once (or ctx's error if ctx has ended); Now is base plus the waits
// recorded so far, so that virtual time moves forward with each wait. A zero base reads the
// real time.
type relClock struct {
	base time.Time

	mu    sync.Mutex
	slept time.Duration
	waits []time.Duration
}

func (c *relClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := c.base
	if base.IsZero() {
		base = time.Now()
	}
	return base.Add(c.slept)
}

func (c *relClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.slept += d
	return nil
}

// Waits returns the waits requested so far, in order.
func (c *relClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

func (c *relClock) Option() edgecache.Option { return edgecache.WithClock(c.Now, c.Sleep) }

// relServer starts the spec-validating fake, accepting relToken only, and closes it at the
// end of the test.
func relServer(t testing.TB, opts ...edgecachetest.Option) *edgecachetest.Server {
	t.Helper()
	s := edgecachetest.NewServer(append([]edgecachetest.Option{edgecachetest.WithTokens(relToken)}, opts...)...)
	t.Cleanup(s.Close)
	return s
}

// relClient returns a client of s; opts apply after the server's base URL and HTTP client.
func relClient(t testing.TB, s *edgecachetest.Server, opts ...edgecache.Option) *edgecache.Client {
	t.Helper()
	c, err := s.NewClient(opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// relRequest is a valid one-request purge of tags in relProject.
func relRequest(tags ...string) edgecache.DeleteByTagsRequest {
	return edgecache.DeleteByTagsRequest{ProjectIDOrName: relProject, Tags: edgecache.TagList(tags...)}
}

// relHTTPServer starts an httptest server on 127.0.0.1 running h, closed at the end of the test.
func relHTTPServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// relTransport returns a fresh transport whose idle connections are closed at the end of the
// test, so that goleak sees no connection goroutine left behind.
func relTransport(t testing.TB) *http.Transport {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// relCountingTransport counts the response-body bytes the client reads, per response and in
// total.
type relCountingTransport struct {
	base http.RoundTripper

	total   atomic.Int64
	mu      sync.Mutex
	perResp []*atomic.Int64
}

func (c *relCountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	c.mu.Lock()
	c.perResp = append(c.perResp, n)
	c.mu.Unlock()
	resp.Body = &relCountingBody{ReadCloser: resp.Body, n: n, total: &c.total}
	return resp, nil
}

// PerResponse returns the bytes read from each response body, in the order of the responses.
func (c *relCountingTransport) PerResponse() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int64, len(c.perResp))
	for i, n := range c.perResp {
		out[i] = n.Load()
	}
	return out
}

type relCountingBody struct {
	io.ReadCloser
	n, total *atomic.Int64
}

func (b *relCountingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	b.total.Add(int64(n))
	return n, err
}
