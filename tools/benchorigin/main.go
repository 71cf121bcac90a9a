// Command benchorigin is the origin of scripts/bench-cdn.sh: a site that answers every GET
// and HEAD at once with the same page, cacheable by a shared cache for an hour and tagged,
// so that what a benchmark measures is the cache in front of it.
//
//	cd tools && go run ./benchorigin -addr 127.0.0.1:3000 -size 4096
//
// Every answer carries Cache-Control: public, s-maxage=3600 (which both Vercel's rules and
// Varnish's builtin VCL read as a one-hour TTL for a shared cache), Vercel-Cache-Tag:
// bench,page and a Content-Length. It prints "benchorigin: serving on http://ADDR" on
// standard error once it listens, and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on (port 0 picks a free one)")
	size := flag.Int("size", 4096, "size of the page in bytes")
	flag.Parse()
	if *size < 1 {
		fmt.Fprintln(os.Stderr, "benchorigin: -size must be at least 1")
		os.Exit(2)
	}
	page := []byte(strings.Repeat("<p>cached page</p>\n", *size/19+1)[:*size])
	length := strconv.Itoa(len(page))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h["Cache-Control"] = []string{"public, s-maxage=3600"}
		h["Vercel-Cache-Tag"] = []string{"bench,page"}
		h["Content-Type"] = []string{"text/html; charset=utf-8"}
		h["Content-Length"] = []string{length}
		if r.Method == http.MethodGet {
			_, _ = w.Write(page)
		}
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchorigin:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(os.Stderr, "benchorigin: serving on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "benchorigin:", err)
		os.Exit(1)
	}
}
