// Command loadgen drives an implementation of POST /v1/edge-cache/dangerously-delete-by-tags
// (edgecache serve, Prism's mock, the real API behind a proxy) with valid requests from a
// fixed number of concurrent clients, and reports requests per second, errors and latency
// percentiles. It uses the standard library only.
//
//	cd tools && go run ./loadgen -url http://127.0.0.1:8787 -c 8 -d 10s
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
}

func main() {
	var (
		base        = flag.String("url", "http://127.0.0.1:8787", "base URL of the API; the endpoint's path is appended unless the URL already ends with it")
		concurrency = flag.Int("c", 8, "concurrent clients")
		duration    = flag.Duration("d", 10*time.Second, "how long to measure")
		warmup      = flag.Duration("warmup", time.Second, "how long to send before measuring")
		token       = flag.String("token", "loadgen", "bearer token")
		project     = flag.String("project", "prj_loadgen", "projectIdOrName query parameter")
		teamID      = flag.String("team-id", "", "teamId query parameter; empty omits it")
		tags        = flag.Int("tags", 2, "tags per request, 1 to 16")
		timeout     = flag.Duration("timeout", 10*time.Second, "per-request timeout")
		asJSON      = flag.Bool("json", false, "print the report as JSON")
		useNetHTTP  = flag.Bool("nethttp", false, "use net/http's client instead of the minimal one")
	)
	flag.Parse()
	if *concurrency < 1 || *duration <= 0 || *tags < 1 || *tags > 16 {
		fmt.Fprintln(os.Stderr, "loadgen: -c and -d must be positive and -tags between 1 and 16")
		os.Exit(2)
	}
	target, err := requestURL(*base, *project, *teamID)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	body, err := requestBody(*tags)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	rep, err := run(config{
		url:         target,
		body:        body,
		auth:        "Bearer " + *token,
		concurrency: *concurrency,
		warmup:      *warmup,
		duration:    *duration,
		timeout:     *timeout,
		netHTTP:     *useNetHTTP,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(rep)
	} else {
		fmt.Printf("%s (%s client): %d clients, %.1fs: %d requests, %d errors, %.0f req/s (%.0f ok/s), p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
			rep.URL, rep.Client, rep.Concurrency, rep.Duration, rep.Requests, rep.Errors, rep.RPS, rep.OKRPS, rep.P50, rep.P99, rep.Max)
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

type config struct {
	url                       string
	body                      []byte
	auth                      string
	concurrency               int
	warmup, duration, timeout time.Duration
	netHTTP                   bool
}

// worker is one client's tally.
type worker struct {
	latencies []time.Duration
	errors    int
}

// run sends requests from cfg.concurrency clients for warmup+duration and measures the last
// duration.
func run(cfg config) (report, error) {
	newSender, clientName, closeAll, err := senders(cfg)
	if err != nil {
		return report{}, err
	}
	defer closeAll()

	// One request first, so that a wrong URL or token is reported at once.
	first := newSender()
	status, msg, err := first.send()
	first.close()
	if err != nil {
		return report{}, fmt.Errorf("first request: %w", err)
	}
	if status/100 != 2 {
		return report{}, fmt.Errorf("first request: status %d: %s", status, msg)
	}

	var (
		measuring atomic.Bool
		stop      = make(chan struct{})
		workers   = make([]worker, cfg.concurrency)
		wg        sync.WaitGroup
		printed   atomic.Int32
	)
	for i := range workers {
		w := &workers[i]
		w.latencies = make([]time.Duration, 0, 1<<16)
		wg.Go(func() {
			s := newSender()
			defer s.close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				status, msg, err := s.send()
				elapsed := time.Since(start)
				if !measuring.Load() {
					continue
				}
				if err != nil || status/100 != 2 {
					w.errors++
					if printed.Add(1) <= 5 {
						if err != nil {
							fmt.Fprintln(os.Stderr, "loadgen: error:", err)
						} else {
							fmt.Fprintf(os.Stderr, "loadgen: status %d: %s\n", status, msg)
						}
					}
				}
				w.latencies = append(w.latencies, elapsed)
			}
		})
	}
	time.Sleep(cfg.warmup)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(cfg.duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	var all []time.Duration
	errs := 0
	for _, w := range workers {
		all = append(all, w.latencies...)
		errs += w.errors
	}
	slices.Sort(all)
	rep := report{
		URL:         cfg.url,
		Client:      clientName,
		Concurrency: cfg.concurrency,
		Duration:    elapsed.Seconds(),
		Requests:    len(all),
		Errors:      errs,
		RPS:         float64(len(all)) / elapsed.Seconds(),
		OKRPS:       float64(len(all)-errs) / elapsed.Seconds(),
		P50:         ms(percentile(all, 0.50)),
		P99:         ms(percentile(all, 0.99)),
	}
	if len(all) > 0 {
		rep.Max = ms(all[len(all)-1])
	}
	return rep, nil
}

// sender is one client: it sends the request and reads the answer, one at a time. For a
// non-2xx answer send returns the start of the body, for the error message.
type sender interface {
	send() (status int, msg string, err error)
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
	u, err := url.Parse(cfg.url)
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
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: loadgen\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), u.Host, cfg.auth, len(cfg.body))
	req.Write(cfg.body)
	raw := req.Bytes()
	return func() sender { return &rawSender{addr: addr, req: raw, timeout: cfg.timeout} }, "minimal HTTP/1.1", func() {}, nil
}

// netHTTPSender sends with net/http.
type netHTTPSender struct {
	client *http.Client
	cfg    config
}

func (s *netHTTPSender) send() (int, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.cfg.url, bytes.NewReader(s.cfg.body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", s.cfg.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
		return resp.StatusCode, strings.TrimSpace(string(data)), nil
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", errors.New("reading the answer: " + err.Error())
	}
	return resp.StatusCode, "", nil
}

func (s *netHTTPSender) close() {}

// maxMessage bounds the part of an error answer kept for the message.
const maxMessage = 300

// rawSender is the minimal HTTP/1.1 client: one connection, redialled when the server
// closes it or an error leaves it in an unknown state.
type rawSender struct {
	addr    string
	req     []byte
	timeout time.Duration
	conn    net.Conn
	br      *bufio.Reader
}

func (s *rawSender) close() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

func (s *rawSender) send() (int, string, error) {
	if s.conn == nil {
		conn, err := (&net.Dialer{Timeout: s.timeout}).DialContext(context.Background(), "tcp", s.addr)
		if err != nil {
			return 0, "", err
		}
		s.conn = conn
		if s.br == nil {
			s.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			s.br.Reset(conn)
		}
	}
	_ = s.conn.SetDeadline(time.Now().Add(s.timeout))
	status, msg, keepAlive, err := s.roundTrip()
	if err != nil || !keepAlive {
		s.close()
	}
	return status, msg, err
}

// roundTrip writes the request and reads one answer.
func (s *rawSender) roundTrip() (status int, msg string, keepAlive bool, err error) {
	if _, err := s.conn.Write(s.req); err != nil {
		return 0, "", false, err
	}
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		return 0, "", false, fmt.Errorf("reading the status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, "", false, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, "", false, fmt.Errorf("malformed status line %q", line)
	}
	keepAlive = line[7] == '1' // HTTP/1.1 keeps the connection unless told otherwise
	length, chunked := int64(-1), false
	for {
		line, err := s.br.ReadSlice('\n')
		if err != nil {
			return 0, "", false, fmt.Errorf("reading the headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, "", false, fmt.Errorf("malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, "", false, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keepAlive = true
			}
		}
	}
	var body bodyTail
	if status/100 != 2 {
		body.keep = maxMessage
	}
	switch {
	case status/100 == 1 || status == http.StatusNoContent || status == http.StatusNotModified:
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
		return 0, "", false, fmt.Errorf("reading the body: %w", err)
	}
	return status, strings.TrimSpace(string(body.kept)), keepAlive, nil
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
