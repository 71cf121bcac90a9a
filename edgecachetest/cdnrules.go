package edgecachetest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pquerna/cachecontrol/cacheobject"
)

// This file holds the CDN's caching rules, and nothing else: which requests may use the
// cache, which responses are stored and for how long, what the client is shown, how tags
// are read, and what state an entry is in at a given time. Each rule cites its source in
// the package documentation (section "The CDN"); cdn.go applies them.

// The values of x-vercel-cache, as Vercel's Cache status page names them.
const (
	CacheMiss        = "MISS"
	CacheHit         = "HIT"
	CacheStale       = "STALE"
	CacheRevalidated = "REVALIDATED"
	CacheBypass      = "BYPASS"
)

// Limits Vercel documents for cache tags and cached responses.
const (
	// MaxTagsPerResponse is how many tags of one response Vercel indexes.
	MaxTagsPerResponse = 128
	// MaxTagLength is the longest tag, in characters.
	MaxTagLength = 256
	minTTL       = time.Second
	maxTTL       = 365 * 24 * time.Hour // 31,536,000 s
)

// The headers the CDN reads.
const (
	headerVercelCDNCacheControl = "Vercel-Cdn-Cache-Control"
	headerCDNCacheControl       = "Cdn-Cache-Control"
	headerCacheControl          = "Cache-Control"
	headerCacheTag              = "Vercel-Cache-Tag"
	headerRewriteCaching        = "X-Vercel-Enable-Rewrite-Caching"
)

// displayName is how the diagnosis spells a header.
var displayName = map[string]string{
	headerVercelCDNCacheControl: "Vercel-CDN-Cache-Control",
	headerCDNCacheControl:       "CDN-Cache-Control",
	headerCacheControl:          "Cache-Control",
}

// cacheableStatus is the set of statuses Vercel's CDN stores.
var cacheableStatus = map[int]bool{200: true, 404: true, 410: true, 301: true, 302: true, 307: true, 308: true}

// wrongTagHeaders are other CDNs' tag headers, which Vercel ignores.
var wrongTagHeaders = []struct{ name, whose string }{
	{"Cache-Tag", "Cloudflare's"},
	{"Surrogate-Key", "Fastly's"},
	{"X-Cache-Tag", "another CDN's"},
}

// bypassReason says why a request may not use the cache at all ("" when it may): it is
// proxied as it is, answered BYPASS, and nothing is stored.
func bypassReason(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		return "method " + r.Method + ": only GET and HEAD are cached"
	case r.Header.Get("Range") != "":
		return "Range request: a partial response is never cached"
	}
	return ""
}

// wantsRevalidation reports a request that asks for a synchronous revalidation, as browser
// devtools do with "Disable cache".
func wantsRevalidation(r *http.Request) bool {
	for _, v := range r.Header.Values("Pragma") {
		if strings.Contains(strings.ToLower(v), "no-cache") {
			return true
		}
	}
	return false
}

// decision is the verdict on one origin response.
type decision struct {
	store  bool
	reason string // why it is not stored; "" when it is
	// by is the header that decided, as displayName spells it ("" when none was present),
	// and value its value.
	by, value     string
	ttl, swr, sie time.Duration
	vary          []string // request headers (canonical) the entry varies on, beyond Accept and Accept-Encoding
}

// decidedBy renders the deciding header for the diagnosis.
func (d decision) decidedBy() string {
	if d.by == "" {
		return ""
	}
	return d.by + ": " + d.value
}

// decide applies Vercel's rules to an origin response for request r.
func decide(r *http.Request, status int, h http.Header) decision {
	var d decision
	name := ""
	for _, n := range []string{headerVercelCDNCacheControl, headerCDNCacheControl, headerCacheControl} {
		if len(h.Values(n)) > 0 {
			name = n
			break
		}
	}
	if name != "" {
		d.by, d.value = displayName[name], strings.Join(h.Values(name), ", ")
	}
	notStored := func(format string, args ...any) decision {
		d.reason = fmt.Sprintf(format, args...)
		return d
	}

	if v := h.Get(headerRewriteCaching); strings.TrimSpace(v) == "0" {
		return notStored("x-vercel-enable-rewrite-caching: 0 opts this response out of caching")
	}
	if !cacheableStatus[status] {
		return notStored("status %d: only 200, 301, 302, 307, 308, 404 and 410 are cached", status)
	}
	if name == "" {
		return notStored("no Cache-Control, CDN-Cache-Control or Vercel-CDN-Cache-Control: nothing tells the CDN to cache (add s-maxage)")
	}
	cc, err := cacheobject.ParseResponseCacheControl(d.value)
	if err != nil {
		return notStored("%s could not be read (%v): not cached", d.by, err)
	}
	switch {
	case cc.PrivatePresent:
		return notStored("%s has private", d.by)
	case cc.NoStore:
		return notStored("%s has no-store", d.by)
	case cc.NoCachePresent:
		return notStored("%s has no-cache", d.by)
	}
	ttl := seconds(cc.SMaxAge)
	if ttl < 0 && name != headerCacheControl {
		// In the CDN headers, max-age plays the role of s-maxage.
		ttl = seconds(cc.MaxAge)
	}
	switch {
	case ttl < 0 && name == headerCacheControl:
		return notStored("Cache-Control has no s-maxage (max-age alone is for browsers; the CDN needs s-maxage)")
	case ttl < 0:
		return notStored("%s has no max-age or s-maxage", d.by)
	case ttl < minTTL:
		return notStored("%s gives a TTL of %v: the CDN caches for at least 1 s", d.by, ttl)
	}
	if len(h.Values("Set-Cookie")) > 0 {
		return notStored("the response sets a cookie (Set-Cookie): it is never cached")
	}
	vary, varyReason := varyHeaders(h)
	if varyReason != "" {
		return notStored("%s", varyReason)
	}
	if r.Header.Get("Authorization") != "" && !cc.Public && cc.SMaxAge < 0 {
		return notStored("the request carried Authorization and %s does not allow a shared cache to store the answer (add public or s-maxage)", d.by)
	}
	d.store = true
	d.ttl = min(ttl, maxTTL)
	d.swr = min(max(seconds(cc.StaleWhileRevalidate), 0), maxTTL)
	d.sie = min(max(seconds(cc.StaleIfError), 0), maxTTL)
	d.vary = vary
	return d
}

// seconds converts a parsed directive; -1 (absent) stays negative.
func seconds(s cacheobject.DeltaSeconds) time.Duration {
	if s < 0 {
		return -1
	}
	return time.Duration(s) * time.Second
}

// varyHeaders reads Vary: the request headers the entry varies on, or why it cannot be
// stored at all.
func varyHeaders(h http.Header) ([]string, string) {
	var names []string
	for _, v := range h.Values("Vary") {
		for part := range strings.SplitSeq(v, ",") {
			name := http.CanonicalHeaderKey(strings.TrimSpace(part))
			switch name {
			case "":
			case "*":
				return nil, "Vary: * counts as private: not cached"
			case "Cookie":
				return nil, "Vary: Cookie is not cached (vary_key_denied): each visitor's cookies would make their own entry"
			case "Accept", "Accept-Encoding":
				// Always in the key.
			default:
				if !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		}
	}
	slices.Sort(names)
	return names, ""
}

// cacheKey is the entry's key: method, host and URL (path and query), then the request
// headers always in the key, then those Vary names.
func cacheKey(r *http.Request, vary []string) string {
	// Joined at the end, so that the key's memory is its length: an entry keeps it.
	lines := make([]string, 0, 3+len(vary))
	lines = append(lines, primaryKey(r))
	for _, name := range [...]string{"Accept", "Accept-Encoding"} {
		lines = append(lines, name+": "+strings.Join(r.Header.Values(name), ", "))
	}
	for _, name := range vary {
		lines = append(lines, name+": "+strings.Join(r.Header.Values(name), ", "))
	}
	return strings.Join(lines, "\n")
}

// primaryKey is the key without the request headers: what Vary adds to.
func primaryKey(r *http.Request) string {
	return r.Method + " " + r.Host + r.URL.RequestURI()
}

// decodedURI is a URL's path and query, URL-decoded: how purges by source image and the
// diagnosis find entries.
func decodedURI(u *url.URL) string {
	s := u.Path
	if u.RawQuery != "" {
		q, err := url.QueryUnescape(u.RawQuery)
		if err != nil {
			q = u.RawQuery
		}
		s += "?" + q
	}
	return s
}

// sourceImage is the source an image-optimization URL derives from (its url parameter,
// URL-decoded), "" for any other URL.
func sourceImage(u *url.URL) string {
	if u.Path != "/_next/image" && u.Path != "/_vercel/image" {
		return ""
	}
	return u.Query().Get("url")
}

// forClient removes what the CDN consumes from an origin response's headers: Vercel-CDN-
// Cache-Control, Vercel-Cache-Tag and x-vercel-enable-rewrite-caching always, and, when
// Cache-Control decided (no CDN header was present), its s-maxage and
// stale-while-revalidate. CDN-Cache-Control is passed on, for downstream CDNs.
func forClient(h http.Header, decidedBy string) {
	h.Del(headerVercelCDNCacheControl)
	h.Del(headerCacheTag)
	h.Del(headerRewriteCaching)
	if decidedBy != displayName[headerCacheControl] {
		return
	}
	var kept []string
	for _, v := range h.Values(headerCacheControl) {
		for _, directive := range splitDirectives(v) {
			name, _, _ := strings.Cut(directive, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "s-maxage", "stale-while-revalidate":
			default:
				kept = append(kept, directive)
			}
		}
	}
	if len(kept) == 0 {
		h.Del(headerCacheControl)
		return
	}
	h.Set(headerCacheControl, strings.Join(kept, ", "))
}

// splitDirectives splits a Cache-Control value on the commas outside quoted strings
// (private="Set-Cookie, X-Id" is one directive), trimming each.
func splitDirectives(v string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = appendTrimmed(out, v[start:i])
				start = i + 1
			}
		}
	}
	return appendTrimmed(out, v[start:])
}

func appendTrimmed(out []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		out = append(out, s)
	}
	return out
}

// readTags reads Vercel-Cache-Tag as Vercel does: comma-separated, each tag trimmed, case
// kept. Empty tags are dropped, duplicates kept once, a tag over MaxTagLength characters is
// dropped (no purge could name it: the API refuses it) and only the first
// MaxTagsPerResponse are kept. Each of these, a tag with a space inside, and another CDN's
// tag header, gives a warning.
func readTags(h http.Header) (tags, warnings []string) {
	var empty, dropped int
	var extra []string
	for _, v := range h.Values(headerCacheTag) {
		for part := range strings.SplitSeq(v, ",") {
			tag := strings.TrimSpace(part)
			switch {
			case tag == "":
				empty++
			case utf8.RuneCountInString(tag) > MaxTagLength:
				dropped++
				warnings = append(warnings, fmt.Sprintf("Vercel-Cache-Tag: tag %q… has %d characters, over the limit of %d: it is ignored (no purge can name it)",
					truncate(tag, 32), utf8.RuneCountInString(tag), MaxTagLength))
			case slices.Contains(tags, tag) || slices.Contains(extra, tag):
			case len(tags) == MaxTagsPerResponse:
				extra = append(extra, tag)
			default:
				if strings.IndexFunc(tag, unicode.IsSpace) >= 0 {
					warnings = append(warnings, fmt.Sprintf("Vercel-Cache-Tag: tag %q contains a space: a purge must name it with the space", tag))
				}
				tags = append(tags, tag)
			}
		}
	}
	if empty > 0 && (len(tags) > 0 || dropped > 0 || len(extra) > 0) {
		warnings = append(warnings, fmt.Sprintf("Vercel-Cache-Tag: %d empty tag(s) (a stray comma) ignored", empty))
	}
	if len(extra) > 0 {
		warnings = append(warnings, fmt.Sprintf("Vercel-Cache-Tag: %d tags past the first %d are ignored: %s",
			len(extra), MaxTagsPerResponse, quoteList(extra, 5)))
	}
	for _, w := range wrongTagHeaders {
		if v := h.Values(w.name); len(v) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %s is %s tag header; Vercel reads tags only from Vercel-Cache-Tag, so a purge by these tags does not touch this response",
				w.name, strconv.Quote(strings.Join(v, ", ")), w.whose))
		}
	}
	return tags, warnings
}

func truncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// quoteList renders up to n items quoted, and how many more there were.
func quoteList(items []string, n int) string {
	var b strings.Builder
	for i, item := range items {
		if i == n {
			fmt.Fprintf(&b, " and %d more", len(items)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(strings.TrimSpace(item)))
	}
	return b.String()
}

// The states of a cache entry (CacheEntry.State), each with what its next request gets.
const (
	StateFresh   = "fresh"   // answered HIT
	StateStale   = "stale"   // answered STALE while one background revalidation runs
	StateExpired = "expired" // the next request is a MISS, fetched in the foreground
	StateDeleted = "deleted" // the next request is fetched in the foreground and answered REVALIDATED
)

// entryState is the state of e at now and why. A deletion whose deadline has passed (or that
// had none) comes first, so that the next request says REVALIDATED, as after a delete on
// Vercel. Then the time-based windows: an entry whose TTL and stale-while-revalidate have both
// run out is expired (a MISS), whatever else marked it; within them an invalidation, or a
// deletion whose deadline has not passed, makes it stale.
func entryState(e *entry, now time.Time) (string, string) {
	age := now.Sub(e.storedAt)
	switch {
	case e.deleted || (!e.deleteAt.IsZero() && !now.Before(e.deleteAt)):
		return StateDeleted, e.purgedBy
	case age >= e.ttl+e.swr:
		if e.swr > 0 {
			return StateExpired, fmt.Sprintf("expired: s-maxage %v and stale-while-revalidate %v have passed", e.ttl, e.swr)
		}
		return StateExpired, fmt.Sprintf("expired: its TTL of %v has passed (no stale-while-revalidate)", e.ttl)
	case e.invalidated || !e.deleteAt.IsZero():
		return StateStale, e.purgedBy
	case age < e.ttl:
		return StateFresh, ""
	default:
		return StateStale, "time-based revalidation (within stale-while-revalidate)"
	}
}

// staleIfError reports whether e may stand in for an origin that failed at now.
func staleIfError(e *entry, now time.Time) bool {
	if e == nil || e.deleted || (!e.deleteAt.IsZero() && !now.Before(e.deleteAt)) {
		return false
	}
	return now.Sub(e.storedAt) < e.ttl+e.sie
}
