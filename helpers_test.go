package edgecache_test

// Shared helpers of the package's tests: one way to stand up the fake (newFake, newClient),
// one token, one project, an injectable clock, and one valid request of every operation.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
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
// bulk worker still running, a server or a connection not closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testToken is the only token the tests' fakes accept. It must never be printed.
const testToken = "vcp_TEST_SECRET_3b9e1d7c"

// testProject is the project every test purges.
const testProject = "prj_test"

// newFake starts the spec-validating fake, accepting testToken only, and closes it at the end
// of the test.
func newFake(t testing.TB, opts ...edgecachetest.Option) *edgecachetest.Server {
	t.Helper()
	s := edgecachetest.NewServer(append([]edgecachetest.Option{edgecachetest.WithTokens(testToken)}, opts...)...)
	t.Cleanup(s.Close)
	return s
}

// newClient returns a client of s; opts apply after the server's base URL and HTTP client.
func newClient(t testing.TB, s *edgecachetest.Server, opts ...edgecache.Option) *edgecache.Client {
	t.Helper()
	c, err := s.NewClient(opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// newHTTPServer starts an httptest server on 127.0.0.1 running h, for answers the fake does
// not give (hostile bodies, hangs, redirects), closed at the end of the test.
func newHTTPServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// clientOf returns a client of an httptest server s; see clientFor.
func clientOf(t testing.TB, s *httptest.Server, opts ...edgecache.Option) *edgecache.Client {
	t.Helper()
	return clientFor(t, s.URL, opts...)
}

// seenRequest is one request as it reached a server, faulted ones included.
type seenRequest struct {
	Method, Host, Path, RawQuery string
	Header                       http.Header
	Body                         []byte
}

// rawRecorder records every request before passing it on.
type rawRecorder struct {
	next http.Handler

	mu   sync.Mutex
	seen []seenRequest
}

func (r *rawRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	_ = req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.seen = append(r.seen, seenRequest{
		Method: req.Method, Host: req.Host, Path: req.URL.Path, RawQuery: req.URL.RawQuery,
		Header: req.Header.Clone(), Body: body,
	})
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *rawRecorder) Seen() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// fakeBehind serves the fake behind a recorder and an optional wrapper (for headers the
// fake cannot inject, such as retry-after-ms) on 127.0.0.1. It returns the fake (for
// FailNext), the recorder and the server's URL. Latency faults must not be used: only
// edgecachetest.Server.Close can end them early.
func fakeBehind(t testing.TB, wrap func(http.Handler) http.Handler, opts ...edgecachetest.Option) (*edgecachetest.Handler, *rawRecorder, string) {
	t.Helper()
	fake := edgecachetest.NewHandler(append([]edgecachetest.Option{edgecachetest.WithTokens(testToken)}, opts...)...)
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake)
	}
	rec := &rawRecorder{next: h}
	return fake, rec, newHTTPServer(t, rec).URL
}

// clientFor returns a client of the server at baseURL, on a transport of its own.
func clientFor(t testing.TB, baseURL string, opts ...edgecache.Option) *edgecache.Client {
	t.Helper()
	all := append([]edgecache.Option{
		edgecache.WithBaseURL(baseURL),
		edgecache.WithHTTPClient(&http.Client{Transport: newTransport(t)}),
	}, opts...)
	c, err := edgecache.New(testToken, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// deleteRequest is a valid one-request purge of tags in testProject.
func deleteRequest(tags ...string) edgecache.DangerouslyDeleteByTagsRequest {
	return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)}
}

// newTransport returns a fresh transport whose idle connections are closed at the end of the
// test, so that goleak sees no connection goroutine left behind.
func newTransport(t testing.TB) *http.Transport {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// noRetry makes one attempt per call.
var noRetry = edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1})

// fakeClock is an injectable clock (edgecache.WithClock). Sleep records the wait it was asked
// for and returns at once (or ctx's error if ctx has ended); Now is base plus the waits
// recorded so far, so that virtual time moves forward with each wait. A zero base reads the
// real time.
type fakeClock struct {
	base time.Time

	mu    sync.Mutex
	slept time.Duration
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := c.base
	if base.IsZero() {
		base = time.Now()
	}
	return base.Add(c.slept)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
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
func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

func (c *fakeClock) Option() edgecache.Option { return edgecache.WithClock(c.Now, c.Sleep) }

// operationCase is one valid request of one operation and the way to call it.
type operationCase struct {
	id   string // the spec's operationId
	path string
	req  edgecache.Request
	call func(context.Context, *edgecache.Client) (*edgecache.Result, error)
}

// everyOperation returns one valid request of each of the four operations, so that a test of
// the shared core can show it holds for all of them.
func everyOperation() []operationCase {
	tags := edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList("blog", "products")}
	del := edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagString("blog,products"),
		Target: edgecache.TargetProduction, RevalidationDeadlineSeconds: edgecache.Ptr(60)}
	img := edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: []string{"/img/a.png", "/img/b,c.png"}}
	delImg := edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: []string{"/img/a.png"}, RevalidationDeadlineSeconds: edgecache.Ptr(0)}
	return []operationCase{
		{"invalidateByTags", "/v1/edge-cache/invalidate-by-tags", tags,
			func(ctx context.Context, c *edgecache.Client) (*edgecache.Result, error) {
				return c.InvalidateByTags(ctx, tags)
			}},
		{"dangerouslyDeleteByTags", "/v1/edge-cache/dangerously-delete-by-tags", del,
			func(ctx context.Context, c *edgecache.Client) (*edgecache.Result, error) {
				return c.DangerouslyDeleteByTags(ctx, del)
			}},
		{"invalidateBySrcImages", "/v1/edge-cache/invalidate-by-src-images", img,
			func(ctx context.Context, c *edgecache.Client) (*edgecache.Result, error) {
				return c.InvalidateBySrcImages(ctx, img)
			}},
		{"dangerouslyDeleteBySrcImages", "/v1/edge-cache/dangerously-delete-by-src-images", delImg,
			func(ctx context.Context, c *edgecache.Client) (*edgecache.Result, error) {
				return c.DangerouslyDeleteBySrcImages(ctx, delImg)
			}},
	}
}

// countingTransport counts the response-body bytes the client reads, per response and in
// total.
type countingTransport struct {
	base http.RoundTripper

	total   atomic.Int64
	mu      sync.Mutex
	perResp []*atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	c.mu.Lock()
	c.perResp = append(c.perResp, n)
	c.mu.Unlock()
	resp.Body = &countingBody{ReadCloser: resp.Body, n: n, total: &c.total}
	return resp, nil
}

// PerResponse returns the bytes read from each response body, in the order of the responses.
func (c *countingTransport) PerResponse() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int64, len(c.perResp))
	for i, n := range c.perResp {
		out[i] = n.Load()
	}
	return out
}

type countingBody struct {
	io.ReadCloser
	n, total *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	b.total.Add(int64(n))
	return n, err
}

// option makes a client log to l at debug level.
func (l *logBuffer) option() edgecache.Option {
	return edgecache.WithLogger(slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})))
}
