// Command loadgen drives an HTTP server with requests from a fixed number of concurrent
// clients, and reports requests per second, errors and latency percentiles. It uses the
// standard library only.
//
// By default it sends valid requests to POST /v1/edge-cache/dangerously-delete-by-tags
// (edgecache serve, Prism's mock, the real API behind a proxy):
//
//	cd tools && go run ./loadgen -url http://127.0.0.1:8787 -c 8 -d 10s
//
// With -method GET (or HEAD) it requests a site instead, such as a cache in front of an
// origin (scripts/bench-cdn.sh): the URL as given, with no token and no body; -urls N cycles
// through N distinct URLs (n=0 … n=N-1 added to the query), -unique makes every URL one never
// requested before (all misses, for a cache), -n stops after that many requests, and
// -count-header counts the values of a response header, such as x-vercel-cache:
//
//	go run ./loadgen -method GET -url http://127.0.0.1:8788/page -urls 100 -count-header X-Vercel-Cache
//
// Each client keeps one HTTP/1.1 connection alive and sends one request at a time (no
// pipelining). A request counts as an error when no answer came or the status is not 2xx; the
// first few error answers are printed on standard error. Requests during -warmup are sent but
// not counted. With -json the report is one JSON object on standard output, for scripts.
//
// By default each client is a minimal HTTP/1.1 client over its own TCP connection: it writes
// the prepared request in one write and reads the status line, the headers and the body
// (Content-Length or chunked), so that the generator takes little of the CPU it shares with
// the server, as wrk or oha would. -nethttp uses net/http's client instead (nearly twice the
// CPU per request), to cross-check.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const endpointPath = "/v1/edge-cache/dangerously-delete-by-tags"

// report is what a run measured.
type report struct {
	URL         string  `json:"url"`
	Method      string  `json:"method"`
	Client      string  `json:"client"`
	Concurrency int     `json:"concurrency"`
	Duration    float64 `json:"durationSeconds"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	RPS         float64 `json:"requestsPerSecond"`
	OKRPS       float64 `json:"okRequestsPerSecond"`
	P50         float64 `json:"p50Ms"`
	P99         float64 `json:"p99Ms"`
	Max         float64 `json:"maxMs"`
	// Header and HeaderCounts: -count-header's name, and how many counted answers carried
	// each value ("" for none).
	Header       string         `json:"header,omitempty"`
	HeaderCounts map[string]int `json:"headerCounts,omitempty"`
}

func main() {
	var (
		base        = flag.String("url", "http://127.0.0.1:8787", "base URL of the API (the endpoint's path is appended unless the URL already ends with it); with -method GET or HEAD, the URL requested")
		method      = flag.String("method", http.MethodPost, "POST sends purges to the API; GET or HEAD requests -url as a site")
		concurrency = flag.Int("c", 8, "concurrent clients")
		duration    = flag.Duration("d", 10*time.Second, "how long to measure")
		total       = flag.Int("n", 0, "stop after this many requests instead of after -d (no warm-up); 0 for none")
		warmup      = flag.Duration("warmup", time.Second, "how long to send before measuring")
		token       = flag.String("token", "loadgen", "bearer token (POST only)")
		project     = flag.String("project", "prj_loadgen", "projectIdOrName query parameter (POST only)")
		teamID      = flag.String("team-id", "", "teamId query parameter; empty omits it (POST only)")
		tags        = flag.Int("tags", 2, "tags per request, 1 to 16 (POST only)")
		urls        = flag.Int("urls", 1, "with GET or HEAD, cycle through this many distinct URLs (n=0 … n=N-1 added to the query)")
		unique      = flag.Bool("unique", false, "with GET or HEAD, make every request's URL one never requested before")
		countHeader = flag.String("count-header", "", "count the values of this response header in the answers measured, e.g. X-Vercel-Cache")
		timeout     = flag.Duration("timeout", 10*time.Second, "per-request timeout")
		asJSON      = flag.Bool("json", false, "print the report as JSON")
		useNetHTTP  = flag.Bool("nethttp", false, "use net/http's client instead of the minimal one")
	)
	flag.Parse()
	if *concurrency < 1 || *duration <= 0 || *total < 0 || *tags < 1 || *tags > 16 || *urls < 1 {
		fmt.Fprintln(os.Stderr, "loadgen: -c, -d and -urls must be positive, -n not negative and -tags between 1 and 16")
		os.Exit(2)
	}
	cfg := config{
		method:      strings.ToUpper(*method),
		concurrency: *concurrency,
		warmup:      *warmup,
		duration:    *duration,
		total:       *total,
		timeout:     *timeout,
		netHTTP:     *useNetHTTP,
		countHeader: http.CanonicalHeaderKey(*countHeader),
	}
	var err error
	switch cfg.method {
	case http.MethodPost:
		if *urls != 1 || *unique {
			err = errors.New("-urls and -unique need -method GET or HEAD")
			break
		}
		var target string
		if target, err = requestURL(*base, *project, *teamID); err != nil {
			break
		}
		cfg.variants = []string{target}
		cfg.body, err = requestBody(*tags)
		cfg.auth = "Bearer " + *token
	case http.MethodGet, http.MethodHead:
		cfg.variants, cfg.unique, err = siteURLs(*base, *urls, *unique)
	default:
		err = fmt.Errorf("-method must be POST, GET or HEAD (got %q)", *method)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	rep, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	rep.URL = *base
	if cfg.method == http.MethodPost {
		rep.URL = cfg.variants[0]
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(rep)
	} else {
		fmt.Printf("%s %s (%s client): %d clients, %.1fs: %d requests, %d errors, %.0f req/s (%.0f ok/s), p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
			rep.Method, rep.URL, rep.Client, rep.Concurrency, rep.Duration, rep.Requests, rep.Errors, rep.RPS, rep.OKRPS, rep.P50, rep.P99, rep.Max)
		if rep.Header != "" {
			fmt.Printf("%s: %v\n", rep.Header, rep.HeaderCounts)
		}
	}
	if rep.Requests == 0 || rep.Errors == rep.Requests {
		os.Exit(1)
	}
}

// requestURL appends the endpoint's path (unless present) and the query to base.
func requestURL(base, project, teamID string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("-url %q is not an absolute URL", base)
	}
	if !strings.HasSuffix(u.Path, endpointPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + endpointPath
	}
	q := url.Values{"projectIdOrName": {project}}
	if teamID != "" {
		q.Set("teamId", teamID)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// requestBody is a valid body with n tags and a target.
func requestBody(n int) ([]byte, error) {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("loadgen-%d", i)
	}
	return json.Marshal(map[string]any{"tags": tags, "target": "production"})
}

// siteURLs returns the URLs a run requests from a site: base itself or n variants of it, or
// (unique) the i-th request's URL, one of this run's own that no other request uses.
func siteURLs(base string, n int, unique bool) ([]string, func(int64) string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, nil, fmt.Errorf("-url %q is not an absolute URL", base)
	}
	with := func(param string) string {
		v := *u
		if v.RawQuery != "" {
			v.RawQuery += "&"
		}
		v.RawQuery += param
		return v.String()
	}
	switch {
	case unique:
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		return nil, func(i int64) string { return with("u=" + run + "-" + strconv.FormatInt(i, 10)) }, nil
	case n == 1:
		return []string{base}, nil, nil
	}
	variants := make([]string, n)
	for i := range variants {
		variants[i] = with("n=" + strconv.Itoa(i))
	}
	return variants, nil, nil
}

type config struct {
	method string
	// The URLs: the i-th request asks for variants[i mod len(variants)], or, with unique set,
	// for unique(i).
	variants                  []string
	unique                    func(i int64) string
	body                      []byte
	auth                      string
	concurrency               int
	warmup, duration, timeout time.Duration
	total                     int // stop after this many requests; 0: after duration
	netHTTP                   bool
	countHeader               string // canonical; "" counts nothing
}

// worker is one client's tally.
type worker struct {
	latencies []time.Duration
	errors    int
	counts    map[string]int
}

// urlOf is the i-th request's URL.
func (cfg config) urlOf(i int64) string {
	if cfg.unique != nil {
		return cfg.unique(i)
	}
	return cfg.variants[variantIndex(i, len(cfg.variants))]
}

// variantIndex is i mod n, also for the first request's i = -1.
func variantIndex(i int64, n int) int { return int((i%int64(n) + int64(n)) % int64(n)) }

// answer is what a sender read of one answer.
type answer struct {
	status  int
	msg     string // the start of a non-2xx answer's body, for the error message
	counted string // the value of the counted header
}

// run sends requests from cfg.concurrency clients for warmup+duration and measures the last
// duration, or, with cfg.total, sends that many and measures them all.
func run(cfg config) (report, error) {
	newSender, clientName, closeAll, err := senders(cfg)
	if err != nil {
		return report{}, err
	}
	defer closeAll()

	// One request first, so that a wrong URL or token is reported at once. With unique URLs
	// it takes one of its own.
	var seq atomic.Int64
	first := newSender()
	a, err := first.send(-1)
	first.close()
	if err != nil {
		return report{}, fmt.Errorf("first request: %w", err)
	}
	if a.status/100 != 2 {
		return report{}, fmt.Errorf("first request: status %d: %s", a.status, a.msg)
	}

	var (
		measuring atomic.Bool
		stop      = make(chan struct{})
		workers   = make([]worker, cfg.concurrency)
		wg        sync.WaitGroup
		printed   atomic.Int32
	)
	// With a total, every request counts: there is no warm-up.
	measuring.Store(cfg.total > 0)
	for i := range workers {
		w := &workers[i]
		w.latencies = make([]time.Duration, 0, 1<<16)
		w.counts = make(map[string]int)
		wg.Go(func() {
			s := newSender()
			defer s.close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := seq.Add(1) - 1
				if cfg.total > 0 && i >= int64(cfg.total) {
					return
				}
				start := time.Now()
				a, err := s.send(i)
				elapsed := time.Since(start)
				if !measuring.Load() {
					continue
				}
				if err != nil || a.status/100 != 2 {
					w.errors++
					if printed.Add(1) <= 5 {
						if err != nil {
							fmt.Fprintln(os.Stderr, "loadgen: error:", err)
						} else {
							fmt.Fprintf(os.Stderr, "loadgen: status %d: %s\n", a.status, a.msg)
						}
					}
				}
				if cfg.countHeader != "" && err == nil {
					w.counts[a.counted]++
				}
				w.latencies = append(w.latencies, elapsed)
			}
		})
	}
	start := time.Now()
	if cfg.total > 0 {
		wg.Wait()
	} else {
		time.Sleep(cfg.warmup)
		measuring.Store(true)
		start = time.Now()
		time.Sleep(cfg.duration)
		measuring.Store(false)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	var all []time.Duration
	errs := 0
	var counts map[string]int
	if cfg.countHeader != "" {
		counts = make(map[string]int)
	}
	for _, w := range workers {
		all = append(all, w.latencies...)
		errs += w.errors
		for v, n := range w.counts {
			counts[v] += n
		}
	}
	slices.Sort(all)
	rep := report{
		Method:       cfg.method,
		Client:       clientName,
		Concurrency:  cfg.concurrency,
		Duration:     elapsed.Seconds(),
		Requests:     len(all),
		Errors:       errs,
		RPS:          float64(len(all)) / elapsed.Seconds(),
		OKRPS:        float64(len(all)-errs) / elapsed.Seconds(),
		P50:          ms(percentile(all, 0.50)),
		P99:          ms(percentile(all, 0.99)),
		Header:       cfg.countHeader,
		HeaderCounts: counts,
	}
	if len(all) > 0 {
		rep.Max = ms(all[len(all)-1])
	}
	return rep, nil
}

// sender is one client: it sends the i-th request (-1: the first, before the run) and reads
// the answer, one at a time.
type sender interface {
	send(i int64) (answer, error)
	close()
}

// senders returns a constructor of clients for cfg, the client's name and a cleanup.
func senders(cfg config) (func() sender, string, func(), error) {
	if cfg.netHTTP {
		transport := &http.Transport{
			MaxIdleConnsPerHost: cfg.concurrency,
			MaxConnsPerHost:     cfg.concurrency,
			DisableCompression:  true,
		}
		client := &http.Client{Transport: transport, Timeout: cfg.timeout}
		return func() sender { return &netHTTPSender{client: client, cfg: cfg} }, "net/http", transport.CloseIdleConnections, nil
	}
	u, err := url.Parse(cfg.urlOf(0))
	if err != nil {
		return nil, "", nil, err
	}
	if u.Scheme != "http" {
		return nil, "", nil, fmt.Errorf("the minimal client speaks plain http only (use -nethttp for %s)", u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	// A fixed set of URLs is written once; unique ones per request.
	prepared := make([][]byte, len(cfg.variants))
	for i, v := range cfg.variants {
		prepared[i] = rawRequest(cfg, v)
	}
	return func() sender {
		return &rawSender{addr: addr, cfg: cfg, prepared: prepared, timeout: cfg.timeout, countHeader: []byte(cfg.countHeader)}
	}, "minimal HTTP/1.1", func() {}, nil
}

// rawRequest is the HTTP/1.1 request for target, as the minimal client writes it.
func rawRequest(cfg config, target string) []byte {
	u, err := url.Parse(target)
	if err != nil { // siteURLs and requestURL made it from a parsed URL
		panic(err)
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: loadgen\r\n", cfg.method, u.RequestURI(), u.Host)
	if cfg.method == http.MethodPost {
		fmt.Fprintf(&req, "Authorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", cfg.auth, len(cfg.body))
	}
	req.WriteString("\r\n")
	req.Write(cfg.body)
	return req.Bytes()
}

// netHTTPSender sends with net/http.
type netHTTPSender struct {
	client *http.Client
	cfg    config
}

func (s *netHTTPSender) send(i int64) (answer, error) {
	var body io.Reader
	if s.cfg.body != nil {
		body = bytes.NewReader(s.cfg.body)
	}
	req, err := http.NewRequestWithContext(context.Background(), s.cfg.method, s.cfg.urlOf(i), body)
	if err != nil {
		return answer{}, err
	}
	if s.cfg.method == http.MethodPost {
		req.Header.Set("Authorization", s.cfg.auth)
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	a := answer{status: resp.StatusCode}
	if s.cfg.countHeader != "" {
		a.counted = resp.Header.Get(s.cfg.countHeader)
	}
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
		a.msg = strings.TrimSpace(string(data))
		return a, nil
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return answer{}, errors.New("reading the answer: " + err.Error())
	}
	return a, nil
}

func (s *netHTTPSender) close() {}

// maxMessage bounds the part of an error answer kept for the message.
const maxMessage = 300

// rawSender is the minimal HTTP/1.1 client: one connection, redialled when the server
// closes it or an error leaves it in an unknown state.
type rawSender struct {
	addr        string
	cfg         config
	prepared    [][]byte // the request for each of cfg.variants
	timeout     time.Duration
	countHeader []byte
	conn        net.Conn
	br          *bufio.Reader
}

func (s *rawSender) close() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

func (s *rawSender) send(i int64) (answer, error) {
	if s.conn == nil {
		conn, err := (&net.Dialer{Timeout: s.timeout}).DialContext(context.Background(), "tcp", s.addr)
		if err != nil {
			return answer{}, err
		}
		s.conn = conn
		if s.br == nil {
			s.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			s.br.Reset(conn)
		}
	}
	var req []byte
	if s.cfg.unique != nil {
		req = rawRequest(s.cfg, s.cfg.unique(i))
	} else {
		req = s.prepared[variantIndex(i, len(s.prepared))]
	}
	_ = s.conn.SetDeadline(time.Now().Add(s.timeout))
	a, keepAlive, err := s.roundTrip(req)
	if err != nil || !keepAlive {
		s.close()
	}
	return a, err
}

// roundTrip writes the request and reads one answer.
func (s *rawSender) roundTrip(req []byte) (a answer, keepAlive bool, err error) {
	if _, err := s.conn.Write(req); err != nil {
		return answer{}, false, err
	}
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		return answer{}, false, fmt.Errorf("reading the status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return answer{}, false, fmt.Errorf("malformed status line %q", line)
	}
	a.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return answer{}, false, fmt.Errorf("malformed status line %q", line)
	}
	keepAlive = line[7] == '1' // HTTP/1.1 keeps the connection unless told otherwise
	length, chunked := int64(-1), false
	for {
		line, err := s.br.ReadSlice('\n')
		if err != nil {
			return answer{}, false, fmt.Errorf("reading the headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return answer{}, false, fmt.Errorf("malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return answer{}, false, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keepAlive = true
			}
		case len(s.countHeader) > 0 && bytes.EqualFold(name, s.countHeader):
			a.counted = string(value)
		}
	}
	var body bodyTail
	if a.status/100 != 2 {
		body.keep = maxMessage
	}
	switch {
	case a.status/100 == 1 || a.status == http.StatusNoContent || a.status == http.StatusNotModified || s.cfg.method == http.MethodHead:
		// No body.
	case chunked:
		err = s.readChunked(&body)
	case length >= 0:
		err = body.copyN(s.br, length)
	default:
		// No length: the body runs to the end of the connection.
		keepAlive = false
		_, err = io.Copy(&body, s.br)
	}
	if err != nil {
		return answer{}, false, fmt.Errorf("reading the body: %w", err)
	}
	a.msg = strings.TrimSpace(string(body.kept))
	return a, keepAlive, nil
}

// readChunked reads a chunked body and its trailer.
func (s *rawSender) readChunked(body *bodyTail) error {
	for {
		line, err := s.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("malformed chunk size %q", line)
		}
		if size == 0 {
			for { // trailer, up to the empty line
				line, err := s.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if err := body.copyN(s.br, size); err != nil {
			return err
		}
		if _, err := s.br.Discard(2); err != nil { // the chunk's CRLF
			return err
		}
	}
}

// bodyTail discards a body, keeping its first keep bytes.
type bodyTail struct {
	keep int
	kept []byte
}

func (b *bodyTail) Write(p []byte) (int, error) {
	if room := b.keep - len(b.kept); room > 0 {
		b.kept = append(b.kept, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *bodyTail) copyN(r *bufio.Reader, n int64) error {
	if b.keep == 0 {
		_, err := r.Discard(int(n))
		return err
	}
	_, err := io.CopyN(b, r, n)
	return err
}

// percentile returns the q-quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
