package edgecachetest

import (
	"container/list"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// CacheLimits bounds the CDN's memory; see [WithCacheLimits]. A zero field takes its default.
type CacheLimits struct {
	// MaxEntries is the most entries kept; the least recently used one goes first. Default
	// DefaultMaxEntries.
	MaxEntries int
	// MaxBytes bounds the memory the entries take together: their bodies, headers, keys and
	// tags, and what the cache spends to hold and index them, estimated to within a few
	// percent of the Go heap they really take (a body counts its capacity). Default
	// DefaultMaxBytes.
	MaxBytes int64
	// MaxBodyBytes is the largest body stored, Vercel's documented 10 MB by default
	// (DefaultMaxBodyBytes); a streamed response (no Content-Length) may have twice as much,
	// as on Vercel. A larger body is streamed through to the client and never held whole.
	MaxBodyBytes int64
}

// The defaults of [CacheLimits].
const (
	DefaultMaxEntries   = 10_000
	DefaultMaxBytes     = 256 << 20
	DefaultMaxBodyBytes = 10_000_000
)

// WithCacheLimits bounds the CDN's cache (see [WithOrigin]): entries and bytes, with
// least-recently-used eviction, and the largest body stored. It panics on a negative limit.
func WithCacheLimits(l CacheLimits) Option {
	if l.MaxEntries < 0 || l.MaxBytes < 0 || l.MaxBodyBytes < 0 {
		panic(fmt.Sprintf("edgecachetest: WithCacheLimits: limits must not be negative (got %+v)", l))
	}
	return func(c *config) { c.cacheLimits = l }
}

func (l CacheLimits) withDefaults() CacheLimits {
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return l
}

// What the cache's memory is beyond the bytes of its strings and of its bodies' capacity,
// counted in MaxBytes so that the limit bounds the memory the cache really takes, also for
// many tiny entries: per entry, the entry and its list element, its header map, its slots in
// the store's maps and indexes, then each header field's and each tag's slots; and per set of
// an index (a URL's variants, a URL, a tag, a source image), the set, counted while it exists,
// so that a tag only one entry carries costs more than one that many share.
// TestCDNMemoryMatchesItsAccount measured them (Go 1.26, amd64), with a margin of 5 to 8% so
// that the account leans high, and checks the heap against it.
const (
	entryOverhead       = 1024
	headerFieldOverhead = 72
	tagOverhead         = 80
	indexSetOverhead    = 256
)

// entry is one cached response. Everything above the line is fixed once stored; the rest is
// changed by purges and revalidations, under the store's lock.
type entry struct {
	key, primary string
	method, uri  string // uri: path and query, URL-decoded
	image        string // the source image it derives from, "" for none
	status       int
	header       http.Header // what the client sees, without Age and x-vercel-cache
	body         []byte
	tags         []string
	vary         []string
	storedAt     time.Time
	ttl          time.Duration
	swr, sie     time.Duration
	decidedBy    string
	warnings     []string
	size         int64

	invalidated  bool
	deleteAt     time.Time // a pending deletion's deadline; zero for none
	deleted      bool      // the body is gone; the entry remains so that the next request says why
	purgedBy     string
	revalidating bool
	lastError    string
	elem         *list.Element
}

func (e *entry) computeSize() {
	n := len(e.key) + len(e.primary) + len(e.uri) + len(e.image) + len(e.decidedBy) + cap(e.body) + entryOverhead
	for k, vs := range e.header {
		n += len(k) + headerFieldOverhead
		for _, v := range vs {
			n += len(v)
		}
	}
	for _, t := range e.tags {
		n += len(t) + tagOverhead
	}
	for _, w := range e.warnings {
		n += len(w)
	}
	e.size = int64(n)
}

// view is what a request needs of an entry, copied under the lock: a purge may drop the
// body of the entry itself at any time.
type view struct {
	entry              *entry
	status             int
	header             http.Header
	body               []byte
	storedAt           time.Time
	state, reason      string
	startRevalidation  bool // this request starts the entry's one background revalidation
	usableOnOriginFail bool // stale-if-error allows it to stand in for a failed origin
}

// store is the bounded cache: an LRU list, the entries by key and three indexes (tag,
// source image, URL), kept consistent under one lock. No I/O happens under it.
type store struct {
	limits CacheLimits

	mu       sync.Mutex
	lru      *list.List // of *entry, most recently used first
	entries  map[string]*entry
	variants map[string]*variantSet // by primary key
	byTag    map[string]set
	byImage  map[string]set
	byURI    map[string]set
	bytes    int64
	evicted  int64
}

type set = map[string]struct{}

// variantSet is the Vary of a URL's newest response, and the keys of its stored variants.
type variantSet struct {
	vary []string
	keys set
}

func newStore(l CacheLimits) *store {
	s := &store{limits: l.withDefaults()}
	s.clear()
	return s
}

func (s *store) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lru = list.New()
	s.entries = make(map[string]*entry)
	s.variants = make(map[string]*variantSet)
	s.byTag = make(map[string]set)
	s.byImage = make(map[string]set)
	s.byURI = make(map[string]set)
	s.bytes = 0
}

// lookup finds the entry for r: the key is the URL's, plus the request headers its newest
// response varies on. The key is returned either way, for collapsing requests. With claim,
// a stale entry's one background revalidation is claimed for this request if none runs.
func (s *store) lookup(r *http.Request, now time.Time, claim bool) (string, view, bool) {
	primary := primaryKey(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var vary []string
	if vs := s.variants[primary]; vs != nil {
		vary = vs.vary
	}
	key := cacheKey(r, vary)
	e := s.entries[key]
	if e == nil {
		return key, view{}, false
	}
	s.lru.MoveToFront(e.elem)
	v := view{entry: e, status: e.status, header: e.header, body: e.body, storedAt: e.storedAt}
	v.state, v.reason = entryState(e, now)
	if claim && v.state == StateStale && !e.revalidating {
		e.revalidating = true
		v.startRevalidation = true
	}
	v.usableOnOriginFail = staleIfError(e, now)
	return key, v, true
}

// put stores e, replacing the entry with its key, then evicts the least recently used
// entries beyond the limits. An entry larger than MaxBytes (with the index sets it adds) is
// not stored.
func (s *store) put(e *entry) bool {
	e.computeSize()
	if e.size > s.limits.MaxBytes {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.entries[e.key]; old != nil {
		s.removeLocked(old)
	}
	e.elem = s.lru.PushFront(e)
	s.entries[e.key] = e
	s.bytes += e.size
	vs := s.variants[e.primary]
	if vs == nil {
		vs = &variantSet{keys: make(set)}
		s.variants[e.primary] = vs
		s.bytes += indexSetOverhead
	}
	vs.vary = e.vary
	vs.keys[e.key] = struct{}{}
	for _, t := range e.tags {
		s.addTo(s.byTag, t, e.key)
	}
	if e.image != "" {
		s.addTo(s.byImage, e.image, e.key)
	}
	s.addTo(s.byURI, e.uri, e.key)
	for len(s.entries) > s.limits.MaxEntries || s.bytes > s.limits.MaxBytes {
		oldest := s.lru.Back().Value.(*entry)
		s.removeLocked(oldest)
		s.evicted++
	}
	// With the sets it needs, the entry alone may be over MaxBytes: then it went too.
	return s.entries[e.key] == e
}

// remove drops the entry with key, if it is still e (a newer response may have replaced it).
func (s *store) remove(key string, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.entries[key]; cur != nil && (e == nil || cur == e) {
		s.removeLocked(cur)
	}
}

func (s *store) removeLocked(e *entry) {
	s.lru.Remove(e.elem)
	delete(s.entries, e.key)
	s.bytes -= e.size
	if vs := s.variants[e.primary]; vs != nil {
		delete(vs.keys, e.key)
		if len(vs.keys) == 0 {
			delete(s.variants, e.primary)
			s.bytes -= indexSetOverhead
		}
	}
	for _, t := range e.tags {
		s.removeFrom(s.byTag, t, e.key)
	}
	if e.image != "" {
		s.removeFrom(s.byImage, e.image, e.key)
	}
	s.removeFrom(s.byURI, e.uri, e.key)
}

// addTo adds key to the set of name in index, making the set (and counting its bytes) if
// it is the first.
func (s *store) addTo(index map[string]set, name, key string) {
	keys := index[name]
	if keys == nil {
		keys = make(set)
		index[name] = keys
		s.bytes += indexSetOverhead
	}
	keys[key] = struct{}{}
}

// removeFrom removes key from the set of name in index, and the set when it was the last.
func (s *store) removeFrom(index map[string]set, name, key string) {
	if keys := index[name]; keys != nil {
		delete(keys, key)
		if len(keys) == 0 {
			delete(index, name)
			s.bytes -= indexSetOverhead
		}
	}
}

// revalidated ends e's background revalidation; errText, when not empty, says why it failed
// (the entry stays stale, and the next request starts another).
func (s *store) revalidated(e *entry, errText string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.revalidating = false
	if errText != "" {
		e.lastError = errText
	}
}

// purgeAction is one accepted purge, as the store applies it.
type purgeAction struct {
	tags, images []string
	delete       bool
	deadline     time.Duration // for a deletion: stale until now+deadline; 0 deletes at once
	by           string        // the reason entries will show, such as "tag-based invalidation (blog)"
}

// apply marks every entry carrying one of p's tags, or derived from or at one of its source
// images, and returns how many it marked.
func (s *store) apply(p purgeAction, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make(set)
	for _, t := range p.tags {
		for k := range s.byTag[t] {
			keys[k] = struct{}{}
		}
	}
	for _, img := range p.images {
		for _, index := range []map[string]set{s.byImage, s.byURI} {
			for k := range index[img] {
				keys[k] = struct{}{}
			}
		}
	}
	for k := range keys {
		e := s.entries[k]
		switch {
		case e.deleted:
		case p.delete && p.deadline == 0:
			e.deleted, e.purgedBy = true, p.by
			// The body goes now; the entry stays, so that the next request says why.
			s.bytes -= e.size
			e.body, e.header = nil, nil
			e.computeSize()
			s.bytes += e.size
		case p.delete:
			if at := now.Add(p.deadline); e.deleteAt.IsZero() || at.Before(e.deleteAt) {
				e.deleteAt, e.purgedBy = at, p.by
			}
		case e.deleteAt.IsZero():
			e.invalidated, e.purgedBy = true, p.by
		}
	}
	return len(keys)
}

// CacheEntry is one entry of the CDN's cache, as [CDN.Entries] and GET /__admin/cache show
// it.
type CacheEntry struct {
	// Key is the cache key: method, host, path and query, then the request headers in the
	// key (Accept, Accept-Encoding and what Vary names), one per line.
	Key string `json:"key"`
	// Method and URL are the request's; URL is its path and query, URL-decoded.
	Method string `json:"method"`
	URL    string `json:"url"`
	// Status is the origin's status for it.
	Status int `json:"status"`
	// Tags are the Vercel-Cache-Tag tags it carries, as Vercel read them.
	Tags []string `json:"tags"`
	// SrcImage is the source image it derives from (the url parameter of /_next/image or
	// /_vercel/image), "" for none.
	SrcImage string `json:"srcImage,omitempty"`
	// State is StateFresh, StateStale, StateExpired or StateDeleted, and Reason why, when
	// it is not fresh.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// AgeSeconds is how long ago it was stored, TTLSeconds how long it is fresh for;
	// StaleWhileRevalidateSeconds and StaleIfErrorSeconds are its windows after that.
	AgeSeconds                  int64 `json:"ageSeconds"`
	TTLSeconds                  int64 `json:"ttlSeconds"`
	StaleWhileRevalidateSeconds int64 `json:"staleWhileRevalidateSeconds,omitempty"`
	StaleIfErrorSeconds         int64 `json:"staleIfErrorSeconds,omitempty"`
	// DecidedBy is the header that decided it was cached, with its value, such as
	// "Cache-Control: public, s-maxage=60".
	DecidedBy string `json:"decidedBy"`
	// DeleteAt is a pending deletion's deadline (revalidationDeadlineSeconds).
	DeleteAt *time.Time `json:"deleteAt,omitempty"`
	// Revalidating reports a background revalidation in flight; LastError why the last one
	// failed.
	Revalidating bool   `json:"revalidating,omitempty"`
	LastError    string `json:"lastError,omitempty"`
	// Bytes is what it counts against CacheLimits.MaxBytes (the sets of the cache's indexes
	// count too, once each).
	Bytes int64 `json:"bytes"`
	// Warnings are the mistakes seen in its response, such as a Cache-Tag header.
	Warnings []string `json:"warnings,omitempty"`
}

// snapshot lists the entries, most recently used first; with uri set, only those of that
// URL (path and query, URL-decoded).
func (s *store) snapshot(now time.Time, uri string) []CacheEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []CacheEntry{}
	for el := s.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*entry)
		if uri != "" && e.uri != uri {
			continue
		}
		ce := CacheEntry{
			Key: e.key, Method: e.method, URL: e.uri, Status: e.status,
			Tags: slices.Clone(e.tags), SrcImage: e.image,
			AgeSeconds: int64(now.Sub(e.storedAt) / time.Second), TTLSeconds: int64(e.ttl / time.Second),
			StaleWhileRevalidateSeconds: int64(e.swr / time.Second), StaleIfErrorSeconds: int64(e.sie / time.Second),
			DecidedBy: e.decidedBy, Revalidating: e.revalidating, LastError: e.lastError,
			Bytes: e.size, Warnings: slices.Clone(e.warnings),
		}
		if ce.Tags == nil {
			ce.Tags = []string{}
		}
		ce.State, ce.Reason = entryState(e, now)
		if !e.deleteAt.IsZero() {
			at := e.deleteAt
			ce.DeleteAt = &at
		}
		out = append(out, ce)
	}
	return out
}

// usage returns the entries, the bytes they count and how many were evicted so far.
func (s *store) usage() (int, int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries), s.bytes, s.evicted
}
