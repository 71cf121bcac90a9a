// Command origin is a small site to put behind `edgecache serve --origin`, to see what
// Vercel's CDN would do with its responses:
//
//	/blog/SLUG  cached for 60 s (s-maxage), stale-while-revalidate 300 s, tagged blog and post-SLUG
//	/account    sets a cookie: never cached
//	/wrong-tag  tagged with Cloudflare's Cache-Tag header: cached, but no purge reaches it
//
// Each body says how many times the origin rendered that page, so you can tell a cached
// answer from a fresh one.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	flag.Parse()

	var (
		mu      sync.Mutex
		renders = map[string]int{}
	)
	render := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		renders[r.URL.Path]++
		n := renders[r.URL.Path]
		mu.Unlock()
		// Plain text, so that the path echoed back is never read as HTML.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = fmt.Fprintf(w, "%s: render #%d at %s\n", r.URL.Path, n, time.Now().Format(time.TimeOnly)) //nolint:gosec // G705: text/plain with nosniff, never HTML
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /blog/{slug}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, s-maxage=60, stale-while-revalidate=300")
		w.Header().Set("Vercel-Cache-Tag", "blog,post-"+strings.ToLower(r.PathValue("slug")))
		render(w, r)
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60")
		w.Header().Set("Set-Cookie", "session=demo; HttpOnly")
		render(w, r)
	})
	mux.HandleFunc("GET /wrong-tag", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60")
		w.Header().Set("Cache-Tag", "blog")
		render(w, r)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("origin: serving on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}
