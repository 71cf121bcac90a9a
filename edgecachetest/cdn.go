package edgecachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The environments a CDN emulates, the values of a purge's target.
const (
	EnvironmentProduction = "production"
	EnvironmentPreview    = "preview"
)

// DefaultOriginTimeout is how long the CDN waits for the origin's response headers: Vercel's
// documented maximum for a proxied request to an external target, 120 s.
const DefaultOriginTimeout = 120 * time.Second

// WithOrigin puts a CDN in front of the site at origin, the base URL of an HTTP server such
// as an httptest.Server's URL ("http://127.0.0.1:port", optionally with a path prefix). The
// CDN caches the site's responses by Vercel's rules and the purges the fake accepts act on
// it; see the package documentation, section "The CDN". [NewServer] serves it on a listener
// of its own ([Server.CDNURL]); [Handler.CDN] gives it as an http.Handler.
//
// The CDN reaches the origin over HTTP, as Vercel reaches an external origin, so hop-by-hop
// headers, an origin that closes early or sends invalid headers, and timeouts behave as they
// would in production; a handler is one httptest.NewServer away. It panics if origin is not
// an absolute http or https URL with a host.
func WithOrigin(origin string) Option {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		panic(fmt.Sprintf("edgecachetest: WithOrigin: want an http:// or https:// URL with a host and no query, such as http://127.0.0.1:3000 (got %q)", origin))
	}
	return func(c *config) { c.origin = u }
}

// WithEnvironment sets the environment the CDN emulates, EnvironmentProduction (the
// default) or EnvironmentPreview: a purge whose target names the other one leaves the cache
// alone, and one with no target acts on it. It panics on any other value.
func WithEnvironment(env string) Option {
	if env != EnvironmentProduction && env != EnvironmentPreview {
		panic(fmt.Sprintf("edgecachetest: WithEnvironment: want %q or %q (got %q)", EnvironmentProduction, EnvironmentPreview, env))
	}
	return func(c *config) { c.environment = env }
}

// WithOriginTimeout sets how long the CDN waits for the origin's response headers before
// answering 504 (default DefaultOriginTimeout), and how long a background revalidation may
// take in all. It runs on real time, not on [WithClock]'s. It panics if d ≤ 0.
func WithOriginTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("edgecachetest: WithOriginTimeout: d must be positive (got %v)", d))
	}
	return func(c *config) { c.originTimeout = d }
}

// Sizes of the diagnosis logs.
const (
	maxAnswers = 1000 // the newest CDN answers kept for GET /__admin/cache?url=
	maxPurges  = 100  // the newest purges kept for GET /__admin/cache
)

// CDN is a local emulation of Vercel's CDN cache in front of one origin, made by
// [WithOrigin] and reached with [Handler.CDN]. It is an http.Handler, safe for concurrent
// use. Purges accepted by the fake's API act on its cache.
type CDN struct {
	origin    *url.URL
	env       string
	limits    CacheLimits
	timeout   time.Duration
	now       func() time.Time
	logger    *slog.Logger
	store     *store
	transport *http.Transport
	errorLog  *log.Logger

	flightsMu sync.Mutex
	flights   map[string]chan struct{} // the foreground fetch in flight for a key
	collapsed atomic.Int64             // requests waiting for another's fetch, for the diagnosis

	ctx    context.Context // ends when the CDN closes
	cancel context.CancelFunc
	bg     sync.WaitGroup
	bgMu   sync.Mutex
	bgRuns int
	bgIdle chan struct{} // closed when bgRuns drops to 0
	closed bool

	seq     atomic.Uint64
	diagMu  sync.Mutex
	answers []*CDNAnswer // a ring of the newest maxAnswers
	next    int
	purges  []PurgeRecord
}

func newCDN(cfg *config, now func() time.Time) *CDN {
	timeout := cfg.originTimeout
	if timeout == 0 {
		timeout = DefaultOriginTimeout
	}
	env := cfg.environment
	if env == "" {
		env = EnvironmentProduction
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil               // a local origin is never reached through HTTP_PROXY
	t.DisableCompression = true // the origin sees the client's Accept-Encoding, and answers it
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = 256
	t.DialContext = (&net.Dialer{Timeout: min(timeout, 30*time.Second), KeepAlive: 30 * time.Second}).DialContext
	errorLog := log.New(io.Discard, "", 0)
	if cfg.logger != nil {
		errorLog = slog.NewLogLogger(cfg.logger.Handler(), slog.LevelDebug)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &CDN{
		origin: cfg.origin, env: env, limits: cfg.cacheLimits.withDefaults(), timeout: timeout,
		now: now, logger: cfg.logger, transport: t, errorLog: errorLog,
		flights: make(map[string]chan struct{}), ctx: ctx, cancel: cancel,
		answers: make([]*CDNAnswer, maxAnswers),
	}
	c.store = newStore(c.limits)
	return c
}

// Environment returns the environment the CDN emulates.
func (c *CDN) Environment() string { return c.env }

// Origin returns the origin's base URL.
func (c *CDN) Origin() string { return c.origin.String() }

// Close stops the CDN: fetches in flight are cancelled, background revalidations end and no
// new one starts, and idle connections to the origin are closed. [Server.Close] calls it.
func (c *CDN) Close() {
	c.bgMu.Lock()
	c.closed = true
	c.bgMu.Unlock()
	c.cancel()
	c.bg.Wait()
	c.transport.CloseIdleConnections()
}

// Settle waits until no background revalidation is running, or ctx ends. A test calls it
// between a STALE answer and the request that should see the fresh content.
func (c *CDN) Settle(ctx context.Context) error {
	c.bgMu.Lock()
	runs, idle := c.bgRuns, c.bgIdle
	c.bgMu.Unlock()
	if runs == 0 {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Clear empties the cache and forgets the diagnosis (answers and purges). [Handler.Reset]
// calls it.
func (c *CDN) Clear() {
	c.store.clear()
	c.diagMu.Lock()
	clear(c.answers)
	c.next = 0
	c.purges = nil
	c.diagMu.Unlock()
}

// ServeHTTP answers one request for the site: from the cache, or from the origin through
// httputil.ReverseProxy; see the package documentation for the rules.
func (c *CDN) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason := bypassReason(r); reason != "" {
		c.fetch(w, r, &fetch{answer: CacheBypass, reason: reason, bypass: true})
		return
	}
	revalidate := wantsRevalidation(r)
	key, v, found := c.store.lookup(r, c.now(), !revalidate)
	var fallback *view
	if found && v.usableOnOriginFail {
		fallback = &v
	}
	switch {
	case !found:
		c.fetchCollapsed(w, r, key, &fetch{answer: CacheMiss, reason: "cold: not in the cache"})
	case revalidate:
		c.fetch(w, r, &fetch{answer: CacheRevalidated, reason: "Pragma: no-cache asks for a synchronous revalidation", fallback: fallback})
	case v.state == StateFresh:
		c.serveView(w, r, v, CacheHit, "")
	case v.state == StateStale:
		if v.startRevalidation {
			c.revalidate(r, v)
		}
		c.serveView(w, r, v, CacheStale, v.reason)
	case v.state == StateDeleted:
		c.fetchCollapsed(w, r, key, &fetch{answer: CacheRevalidated, reason: v.reason})
	default:
		c.fetchCollapsed(w, r, key, &fetch{answer: CacheMiss, reason: v.reason, fallback: fallback})
	}
}

// fetch is one request to the origin and what to make of its answer.
type fetch struct {
	answer string // x-vercel-cache for a response from the origin: MISS, REVALIDATED or BYPASS
	reason string // why the origin is asked
	bypass bool   // nothing is stored
	// fallback is a stale copy stale-if-error allows to stand in for a failed origin.
	fallback *view
	// background is the stale entry a background revalidation refreshes; nobody reads the
	// answer. bgErr says why it failed.
	background *entry
	bgErr      string
}

// originStatusError is an origin's 5xx where a stale copy may stand in for it.
type originStatusError struct{ status int }

func (e *originStatusError) Error() string { return fmt.Sprintf("the origin answered %d", e.status) }

// fetchCollapsed fetches for a missing, expired or deleted entry, collapsing concurrent
// requests for the same key into one origin fetch: the others wait for it and are served
// what it stored, as MISS. When it stored nothing (the response was not cacheable), or it
// takes longer than the origin timeout, each fetches for itself.
func (c *CDN) fetchCollapsed(w http.ResponseWriter, r *http.Request, key string, f *fetch) {
	c.flightsMu.Lock()
	wait, busy := c.flights[key]
	if !busy {
		done := make(chan struct{})
		c.flights[key] = done
		c.flightsMu.Unlock()
		defer func() {
			c.flightsMu.Lock()
			delete(c.flights, key)
			c.flightsMu.Unlock()
			close(done)
		}()
		c.fetch(w, r, f)
		return
	}
	c.flightsMu.Unlock()
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	c.collapsed.Add(1)
	defer c.collapsed.Add(-1)
	select {
	case <-wait:
	case <-r.Context().Done():
		return // the client left: nobody to answer
	case <-c.ctx.Done():
	case <-timer.C:
	}
	if _, v, ok := c.store.lookup(r, c.now(), false); ok && v.state == StateFresh {
		c.serveView(w, r, v, CacheMiss, "request collapsed: served the response a concurrent request fetched")
		return
	}
	c.fetch(w, r, f)
}

// revalidate starts the entry's one background revalidation, with the triggering request's
// headers (they may be in its key) and a context of the CDN's own.
func (c *CDN) revalidate(r *http.Request, v view) {
	c.bgMu.Lock()
	if c.closed {
		c.bgMu.Unlock()
		c.store.revalidated(v.entry, "the CDN is closing")
		return
	}
	if c.bgRuns == 0 {
		c.bgIdle = make(chan struct{})
	}
	c.bgRuns++
	c.bg.Add(1)
	c.bgMu.Unlock()

	req := r.Clone(c.ctx)
	req.Body, req.ContentLength = http.NoBody, 0
	go func() {
		defer c.backgroundDone()
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		defer cancel()
		f := &fetch{reason: "background revalidation: " + v.reason, background: v.entry}
		c.fetch(&discardWriter{header: make(http.Header)}, req.WithContext(ctx), f)
		c.store.revalidated(v.entry, f.bgErr)
	}()
}

func (c *CDN) backgroundDone() {
	c.bgMu.Lock()
	c.bgRuns--
	if c.bgRuns == 0 {
		close(c.bgIdle)
	}
	c.bgMu.Unlock()
	c.bg.Done()
}

// fetch asks the origin through httputil.ReverseProxy, which handles hop-by-hop headers and
// refuses what could smuggle a request; received and failed apply the rules to the outcome.
// The fetch ends when the client leaves or the CDN closes.
func (c *CDN) fetch(w http.ResponseWriter, r *http.Request, f *fetch) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	id := c.nextID()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(c.origin)
			pr.SetXForwarded()
		},
		Transport:      c.transport,
		ErrorLog:       c.errorLog,
		ModifyResponse: func(resp *http.Response) error { return c.received(r, resp, f, id) },
		ErrorHandler:   func(w http.ResponseWriter, _ *http.Request, err error) { c.failed(w, r, err, f, id) },
	}
	proxy.ServeHTTP(w, r.WithContext(ctx))
}

// received applies the rules to the origin's response before its headers go to the client:
// what is stored, what the client sees. The body is captured while it streams through, up to
// the body limit, and stored once it has arrived whole.
func (c *CDN) received(r *http.Request, resp *http.Response, f *fetch, id string) error {
	if resp.StatusCode >= 500 && (f.fallback != nil || f.background != nil) {
		return &originStatusError{status: resp.StatusCode}
	}
	now := c.now()
	tags, warnings := readTags(resp.Header)
	d := decision{reason: f.reason}
	if !f.bypass {
		d = decide(r, resp.StatusCode, resp.Header)
	}
	forClient(resp.Header, d.by)

	answer := f.answer
	if !d.store && answer == CacheRevalidated {
		answer = CacheMiss // nothing was regenerated
	}
	rec := &CDNAnswer{
		Time: now, Method: r.Method, URL: decodedURI(r.URL), Status: resp.StatusCode, Cache: answer,
		Reason: f.reason, DecidedBy: d.decidedBy(), Tags: tags, RequestID: id, Background: f.background != nil,
	}
	if f.background != nil {
		rec.Cache = ""
	}
	if !d.store {
		rec.NotStored = d.reason
		if len(tags) > 0 && !f.bypass {
			warnings = append(warnings, "Vercel-Cache-Tag is set but the response is not cached ("+d.reason+"): a purge by these tags has nothing to act on")
		}
		if f.background != nil {
			c.store.remove(f.background.key, f.background)
		}
	}
	rec.Warnings = warnings

	limit := c.limits.MaxBodyBytes
	if resp.ContentLength < 0 {
		limit *= 2 // Vercel allows a streamed response twice the size
	}
	if d.store && resp.ContentLength > limit {
		d.store = false
		rec.NotStored = fmt.Sprintf("the body (%d bytes) is over the %d-byte limit for a cached response: streamed, not stored", resp.ContentLength, limit)
	}
	if d.store {
		e := newEntry(r, resp, d, tags, warnings, now)
		resp.Header.Set("Age", "0")
		resp.Body = &capture{ReadCloser: resp.Body, limit: limit, size: resp.ContentLength,
			done: func(body []byte) { c.commit(e, body, rec) },
			over: func() {
				c.notStored(rec, fmt.Sprintf("the body is over the %d-byte limit for a cached response: streamed, not stored", limit))
			},
			broke: func(err error) { c.notStored(rec, "the origin's body broke off ("+err.Error()+"): not stored") },
		}
	}
	resp.Header.Set("X-Vercel-Cache", answer)
	resp.Header.Set(RequestIDHeader, id)
	c.note(rec)
	return nil
}

// newEntry is the entry for the origin's response to r, without its body, which commit
// adds once it has arrived whole.
func newEntry(r *http.Request, resp *http.Response, d decision, tags, warnings []string, now time.Time) *entry {
	e := &entry{
		key: cacheKey(r, d.vary), primary: primaryKey(r), method: r.Method, uri: decodedURI(r.URL),
		image: sourceImage(r.URL), status: resp.StatusCode, header: resp.Header.Clone(), tags: tags,
		vary: d.vary, storedAt: now, ttl: d.ttl, swr: d.swr, sie: d.sie, decidedBy: d.decidedBy(),
		warnings: warnings,
	}
	if r.Method != http.MethodHead {
		e.header.Del("Content-Length") // set from the stored body on each hit
	}
	return e
}

// commit stores an entry whose body has arrived whole.
func (c *CDN) commit(e *entry, body []byte, rec *CDNAnswer) {
	e.body = body
	if !c.store.put(e) {
		c.notStored(rec, fmt.Sprintf("the entry (%d bytes) is larger than the cache's MaxBytes (%d)", e.size, c.limits.MaxBytes))
		return
	}
	c.diagMu.Lock()
	rec.Stored = true
	c.diagMu.Unlock()
}

// notStored records, after the answer was logged, that its response could not be stored.
func (c *CDN) notStored(rec *CDNAnswer, reason string) {
	c.diagMu.Lock()
	rec.NotStored = reason
	c.diagMu.Unlock()
	if c.logger != nil {
		c.logger.Warn("edgecachetest: cdn: not stored", "method", rec.Method, "url", rec.URL, "reason", reason, "request_id", rec.RequestID)
	}
}

// failed answers when the origin could not be used: a stale copy where stale-if-error
// allows, else a 502 or 504 in Vercel's style. Nothing is cached.
func (c *CDN) failed(w http.ResponseWriter, r *http.Request, err error, f *fetch, id string) {
	now := c.now()
	rec := &CDNAnswer{Time: now, Method: r.Method, URL: decodedURI(r.URL), Reason: f.reason, RequestID: id, Background: f.background != nil}
	if f.background != nil {
		f.bgErr = err.Error()
		rec.NotStored = "revalidation failed (" + err.Error() + "): the stale entry stays, and the next request tries again"
		c.note(rec)
		return
	}
	if r.Context().Err() != nil && c.ctx.Err() == nil {
		rec.NotStored = "the client went away"
		c.note(rec)
		return
	}
	if f.fallback != nil {
		c.serveView(w, r, *f.fallback, CacheStale, "stale-if-error: "+err.Error())
		return
	}
	status, code := originFailure(err)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Vercel-Error", code)
	h.Set("X-Vercel-Cache", CacheMiss)
	h.Set(RequestIDHeader, id)
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "%d: %s\nCode: %s\nID: %s\n", status, strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")), code, id)
	rec.Status, rec.Cache = status, CacheMiss
	rec.NotStored = "the origin failed (" + err.Error() + "): an error is never cached"
	c.note(rec)
}

// originFailure is Vercel's status and code for an origin that could not be used. Vercel
// documents no code for an external origin's timeout; ROUTER_EXTERNAL_TARGET_ERROR with 504
// is the fake's choice.
func originFailure(err error) (int, string) {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout, "ROUTER_EXTERNAL_TARGET_ERROR"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return http.StatusBadGateway, "ROUTER_EXTERNAL_TARGET_CONNECTION_ERROR"
	}
	return http.StatusBadGateway, "ROUTER_EXTERNAL_TARGET_ERROR"
}

// serveView answers from the cache.
func (c *CDN) serveView(w http.ResponseWriter, r *http.Request, v view, cache, reason string) {
	now := c.now()
	h := w.Header()
	for k, vals := range v.header {
		h[k] = slices.Clip(vals) // shared with other answers: an append must copy
	}
	id := c.nextID()
	h.Set("Age", strconv.FormatInt(int64(max(now.Sub(v.storedAt), 0)/time.Second), 10))
	h.Set("X-Vercel-Cache", cache)
	h.Set(RequestIDHeader, id)
	if r.Method != http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(v.body)))
	}
	w.WriteHeader(v.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(v.body)
	}
	rec := &CDNAnswer{Time: now, Method: r.Method, URL: decodedURI(r.URL), Status: v.status, Cache: cache, Reason: reason, Stored: true, RequestID: id}
	if v.entry != nil {
		rec.Tags, rec.DecidedBy = v.entry.tags, v.entry.decidedBy
	}
	c.note(rec)
}

func (c *CDN) nextID() string { return "cdn1::" + strconv.FormatUint(c.seq.Add(1), 10) }

// capture passes a response body through while keeping a copy, up to limit bytes; done gets
// the copy when the body has arrived whole, over is told when it grew past the limit, and
// broke when the origin's body failed.
type capture struct {
	io.ReadCloser
	limit, size int64 // size: the Content-Length, -1 when unknown
	buf         *bytes.Buffer
	overLimit   bool
	finished    bool
	done        func([]byte)
	over        func()
	broke       func(error)
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if c.finished {
		return n, err
	}
	if !c.overLimit {
		if c.buf == nil {
			c.buf = bytes.NewBuffer(make([]byte, 0, max(c.size, 0)))
		}
		if int64(c.buf.Len()+n) > c.limit {
			c.overLimit, c.buf = true, nil
			c.over()
		} else {
			c.buf.Write(p[:n])
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		c.finished = true
		if !c.overLimit {
			c.broke(err)
		}
		return n, err
	}
	if errors.Is(err, io.EOF) {
		c.finished = true
		if !c.overLimit {
			body := []byte{}
			if c.buf != nil {
				body = c.buf.Bytes()
			}
			c.done(body)
		}
	}
	return n, err
}

// discardWriter is where a background revalidation's answer goes: nobody reads it.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// CDNAnswer is one answer of the CDN (or one background revalidation), as the diagnosis
// shows it: GET /__admin/cache?url= and [CDN.Explain].
type CDNAnswer struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	// URL is the request's path and query, URL-decoded.
	URL    string `json:"url"`
	Status int    `json:"status"`
	// Cache is the x-vercel-cache the client was sent; "" for a background revalidation.
	Cache string `json:"cache,omitempty"`
	// Reason is why: "cold: not in the cache", "tag-based invalidation (blog)", …
	Reason string `json:"reason,omitempty"`
	// Stored reports that the answer is (or came from) a cache entry; NotStored says why the
	// origin's response was not stored.
	Stored    bool   `json:"stored"`
	NotStored string `json:"notStored,omitempty"`
	// DecidedBy is the header that decided, with its value.
	DecidedBy string `json:"decidedBy,omitempty"`
	// Tags are the response's Vercel-Cache-Tag tags, as Vercel read them.
	Tags []string `json:"tags,omitempty"`
	// Warnings are the mistakes seen in the response, such as a Cache-Tag header.
	Warnings []string `json:"warnings,omitempty"`
	// Background marks a background revalidation.
	Background bool   `json:"background,omitempty"`
	RequestID  string `json:"requestId"`
}

// note keeps an answer for the diagnosis and logs it: a HIT at debug level, since it has
// nothing to explain and a line per HIT would flood a log under load (it cost a tenth of
// serve's HIT throughput), any other answer at info level, and its warnings.
func (c *CDN) note(rec *CDNAnswer) {
	c.diagMu.Lock()
	c.answers[c.next] = rec
	c.next = (c.next + 1) % len(c.answers)
	c.diagMu.Unlock()
	if c.logger == nil {
		return
	}
	ctx := context.Background()
	level := slog.LevelInfo
	if rec.Cache == CacheHit {
		level = slog.LevelDebug
	}
	if c.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String("method", rec.Method), slog.String("url", rec.URL), slog.Int("status", rec.Status)}
		if rec.Background {
			attrs = append(attrs, slog.Bool("background", true))
		} else {
			attrs = append(attrs, slog.String("cache", rec.Cache))
		}
		if rec.Reason != "" {
			attrs = append(attrs, slog.String("reason", rec.Reason))
		}
		if rec.NotStored != "" {
			attrs = append(attrs, slog.String("not_stored", rec.NotStored))
		}
		if rec.DecidedBy != "" {
			attrs = append(attrs, slog.String("decided_by", rec.DecidedBy))
		}
		if len(rec.Tags) > 0 {
			attrs = append(attrs, slog.String("tags", strings.Join(rec.Tags, ",")))
		}
		attrs = append(attrs, slog.String("request_id", rec.RequestID))
		c.logger.LogAttrs(ctx, level, "edgecachetest: cdn", attrs...)
	}
	for _, w := range rec.Warnings {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "edgecachetest: cdn: "+w,
			slog.String("url", rec.URL), slog.String("request_id", rec.RequestID))
	}
}

// recentAnswers returns the kept answers, newest first, those for uri only when it is set.
func (c *CDN) recentAnswers(uri string, n int) []CDNAnswer {
	c.diagMu.Lock()
	defer c.diagMu.Unlock()
	out := []CDNAnswer{}
	for i := 1; i <= len(c.answers) && len(out) < n; i++ {
		rec := c.answers[(c.next-i+len(c.answers))%len(c.answers)]
		if rec == nil {
			break
		}
		if uri == "" || rec.URL == uri {
			out = append(out, *rec)
		}
	}
	return out
}

// Entries returns every entry of the cache, most recently used first.
func (c *CDN) Entries() []CacheEntry { return c.store.snapshot(c.now(), "") }

// CacheExplanation is what the CDN knows of one URL: GET /__admin/cache?url= and
// [CDN.Explain].
type CacheExplanation struct {
	URL string `json:"url"`
	// Explanation says, in sentences, what the next request for the URL will get and why.
	Explanation []string `json:"explanation"`
	// Entries are the URL's entries (one per method and variant).
	Entries []CacheEntry `json:"entries"`
	// Answers are the newest answers for the URL, newest first (at most 10).
	Answers []CDNAnswer `json:"answers"`
}

// Explain says what the CDN holds for target (a path with an optional query, such as
// "/blog/1" or a full URL) and why, including why a response was not cached.
func (c *CDN) Explain(target string) CacheExplanation {
	uri := target
	if u, err := url.Parse(target); err == nil {
		uri = decodedURI(u)
	}
	x := CacheExplanation{URL: uri, Entries: c.store.snapshot(c.now(), uri), Answers: c.recentAnswers(uri, 10)}
	for _, e := range x.Entries {
		line := fmt.Sprintf("%s %s is cached (%s), decided by %s", e.Method, e.URL, e.State, e.DecidedBy)
		switch e.State {
		case StateFresh:
			line += fmt.Sprintf(": fresh for %d more s, answered HIT", e.TTLSeconds-e.AgeSeconds)
		case StateStale:
			line += ": the next request is answered STALE and revalidates it in the background (" + e.Reason + ")"
		case StateExpired:
			line += ": the next request is a MISS, fetched from the origin (" + e.Reason + ")"
		case StateDeleted:
			line += ": the next request is fetched from the origin and answered REVALIDATED (" + e.Reason + ")"
		}
		if len(e.Tags) > 0 {
			line += "; tags " + quoteList(e.Tags, 10)
		} else {
			line += "; no Vercel-Cache-Tag, so no purge by tag can reach it"
		}
		x.Explanation = append(x.Explanation, line+".")
		x.Explanation = append(x.Explanation, e.Warnings...)
	}
	if len(x.Entries) == 0 {
		for _, a := range x.Answers {
			if a.NotStored != "" {
				x.Explanation = append(x.Explanation, fmt.Sprintf("%s %s was not cached: %s.", a.Method, a.URL, a.NotStored))
				x.Explanation = append(x.Explanation, a.Warnings...)
				break
			}
		}
	}
	if len(x.Explanation) == 0 {
		x.Explanation = []string{fmt.Sprintf("Nothing is cached for %s and none of the newest %d answers was for it.", uri, maxAnswers)}
	}
	return x
}

// PurgeRecord is one purge the fake accepted, and what it did to the CDN's cache, as
// [CDN.Purges] and GET /__admin/cache show it. The API's own answer stays Vercel's: 200
// with an empty body, whatever matched.
type PurgeRecord struct {
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"`
	// Tags (trimmed, as the CDN reads them) or SrcImages, and the request's Target and
	// RevalidationDeadlineSeconds.
	Tags                        []string `json:"tags,omitempty"`
	SrcImages                   []string `json:"srcImages,omitempty"`
	Target                      string   `json:"target,omitempty"`
	RevalidationDeadlineSeconds *int     `json:"revalidationDeadlineSeconds,omitempty"`
	// Applied is false when the target names another environment than the CDN's.
	Applied bool `json:"applied"`
	// Matched is how many entries it marked.
	Matched int `json:"matched"`
	// Note explains a purge that did nothing.
	Note string `json:"note,omitempty"`
}

// Purges returns the newest purges (at most 100), oldest first.
func (c *CDN) Purges() []PurgeRecord {
	c.diagMu.Lock()
	defer c.diagMu.Unlock()
	return append([]PurgeRecord{}, c.purges...)
}

// purge applies a purge the API accepted; the handler calls it before answering 200.
func (c *CDN) purge(req Request) {
	rec := PurgeRecord{Time: c.now(), Operation: req.Operation, Target: req.Target,
		RevalidationDeadlineSeconds: req.RevalidationDeadlineSeconds, SrcImages: req.SrcImages}
	p := purgeAction{images: req.SrcImages}
	for _, t := range req.Tags {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(rec.Tags, t) {
			rec.Tags = append(rec.Tags, t)
		}
	}
	p.tags = rec.Tags
	for _, img := range req.SrcImages {
		if decoded, err := url.QueryUnescape(img); err == nil && decoded != img {
			p.images = append(p.images, decoded)
		}
	}
	var kind, what string
	switch req.Operation {
	case OpInvalidateByTags:
		kind, what = "tag-based invalidation", quoteList(rec.Tags, 5)
	case OpDangerouslyDeleteByTags:
		kind, what, p.delete = "tag-based deletion", quoteList(rec.Tags, 5), true
	case OpInvalidateBySrcImages:
		kind, what = "source-image invalidation", quoteList(req.SrcImages, 5)
	case OpDangerouslyDeleteBySrcImages:
		kind, what, p.delete = "source-image deletion", quoteList(req.SrcImages, 5), true
	}
	if d := req.RevalidationDeadlineSeconds; d != nil && *d > 0 {
		p.deadline = time.Duration(*d) * time.Second
		kind += fmt.Sprintf(" with a revalidation deadline of %d s", *d)
	}
	p.by = kind + " (" + what + ")"

	switch {
	case req.Target != "" && req.Target != c.env:
		rec.Note = fmt.Sprintf("target %s: this CDN emulates %s, so nothing here was purged", req.Target, c.env)
	default:
		rec.Applied = true
		rec.Matched = c.store.apply(p, rec.Time)
		if rec.Matched == 0 {
			rec.Note = "0 entries matched: no cached response carries " + what +
				" (was it cached at all? is its tag header Vercel-Cache-Tag? see GET /__admin/cache?url=…)"
		}
	}
	c.diagMu.Lock()
	c.purges = append(c.purges, rec)
	if len(c.purges) > maxPurges {
		c.purges = slices.Delete(c.purges, 0, len(c.purges)-maxPurges)
	}
	c.diagMu.Unlock()
	if c.logger != nil {
		level := slog.LevelInfo
		if rec.Matched == 0 {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("operation", rec.Operation), slog.String("purged", what),
			slog.String("target", rec.Target), slog.Int("matched", rec.Matched)}
		if rec.Note != "" {
			attrs = append(attrs, slog.String("note", rec.Note))
		}
		c.logger.LogAttrs(context.Background(), level, "edgecachetest: purge", attrs...)
	}
}
