// Package edgecachetest is a fake of Vercel's Edge Cache API, for tests that must not reach
// Vercel, in the style of net/http/httptest. It serves the four operations of the vendored
// spec, each a POST with the query projectIdOrName, teamId and slug:
//
//	invalidateByTags              /v1/edge-cache/invalidate-by-tags               {tags, target}
//	dangerouslyDeleteByTags       /v1/edge-cache/dangerously-delete-by-tags       {tags, target, revalidationDeadlineSeconds}
//	invalidateBySrcImages         /v1/edge-cache/invalidate-by-src-images         {srcImages}
//	dangerouslyDeleteBySrcImages  /v1/edge-cache/dangerously-delete-by-src-images {srcImages, revalidationDeadlineSeconds}
//
// [NewServer] starts the fake on 127.0.0.1 and [Server.NewClient] returns an
// *edgecache.Client pointed at it; [NewHandler] gives the same fake as an http.Handler to
// mount in a server of your own. The fake records the requests it receives, the newest
// [DefaultMaxRecorded] by default ([WithMaxRecorded]): [Handler.Requests] returns the
// accepted ones as typed values, [Handler.Journal] every one with its answer. It can be
// told to fail the next requests, of one operation or of any ([Handler.FailNext]), with a
// status, a Retry-After header, a delay or a dropped connection.
//
// # The admin API
//
// Tests in other languages reach the same log and fault queue over HTTP, under /__admin/
// (WireMock's convention): `edgecache serve` mounts it, and [WithAdminAPI] or
// [Handler.AdminHandler] mount it in Go. It lists the recorded requests
// (GET /__admin/requests[?operation=ID]), queues faults (POST /__admin/faults), clears
// either or both, and serves the spec; see [Handler.AdminHandler]. It is a thin face over
// the Go methods: there is one log and one queue. It never shows a bearer token (see
// [RecordedRequest]). No path of Vercel's API starts with /__admin/, and the admin API
// changes the answer of none.
//
// # What it checks
//
// Every request is validated against the same vendored OpenAPI document the client is
// generated from ([edgecache.OpenAPISpec]), by kin-openapi through
// github.com/oapi-codegen/nethttp-middleware in front of the generated server
// (api.HandlerWithOptions). A request is answered by the first of these verdicts that
// applies, each with Vercel's error envelope {"error":{"code":…,"message":…}}:
//
//  1. A body the validator must never see, before anything else: 400 bad_request. The body
//     is read once, up front, and must be at most 1 MiB ("body: must be at most 1048576
//     bytes"), nest arrays and objects at most 8 deep, hold at most 1,000 JSON values, and
//     be one JSON value, followed by nothing but whitespace. The bounds are several times
//     what a valid body needs (2 deep, 20 values); they spare the fake the cost kin-openapi
//     would put into wording such a body's breach, seconds and gigabytes for a 20 KB one.
//     A body that breaks off (the client left, or serve's read timeout) is a 400 too.
//  2. A fault queued with FailNext that applies to the request's operation (or to any),
//     before anything else is looked at, so that a fault test does not depend on what the
//     request carries.
//  3. Another path, or another method on an operation's path: 404 not_found. The spec
//     declares no 405 for the operations, so none is answered.
//  4. No bearer token (Authorization: Bearer …): 401 unauthorized. A token that
//     [WithTokens] does not list: 403 forbidden.
//  5. Any breach of the operation's schema: 400 bad_request whose message names the field
//     and the rule, such as "tags: must hold at most 16 items (got 17)",
//     "srcImages: must hold at most 8 items (got 9)" or
//     `target: must be one of "production", "preview" (got "staging")`. Malformed JSON, a
//     Content-Type other than application/json, an unknown property (target on a
//     src-images operation, a deadline on an invalidation), a missing projectIdOrName, a
//     wrong JSON type and a deadline that is not an integer from 0 to 31536000 are breaches
//     too.
//  6. Two rules the real API applies beyond the spec's letter, also 400 bad_request: the
//     body must be present (the spec does not mark it required, but its schema requires
//     tags or srcImages), and projectIdOrName must not be empty.
//  7. A project that [WithProjects] does not list: 404 not_found. A teamId or slug that
//     [WithTeams] does not list: 403 forbidden.
//  8. Otherwise the request is accepted: answered 200 with an empty body.
//
// Every answer carries an x-vercel-id header ("fake1::<n>"), which the client reports as
// the request id. Apart from injected faults, every status the fake answers is one the spec
// declares for the operations (200, 400, 401, 403, 404). Injected faults get the envelope
// of their status: 402 payment_required, 410 gone, 429 rate_limited, and so on.
//
// # The CDN
//
// Given an origin ([WithOrigin]; `edgecache serve --origin URL`), the fake also runs a local
// emulation of Vercel's CDN cache in front of it, on a listener of its own ([Server.CDNURL];
// serve's --cdn-addr), so that a test can see what a purge does. The purges the API accepts
// act on its cache before they are answered, through the same handler and validation: the
// API's answer stays Vercel's (200, empty body), and what matched goes to the admin API
// (GET /__admin/cache) and the log. Time is the fake's clock ([WithClock],
// [Handler.AdvanceClock], POST /__admin/clock), so a test moves past a TTL without
// sleeping; [CDN.Settle] (GET /__admin/cache?wait=1) waits for background revalidations.
//
// The rules follow Vercel's documentation (CDN cache, Cache-Control headers, Cache status,
// Purging, and the changelog through 2026); Cache-Control is parsed by
// github.com/pquerna/cachecontrol. A response is stored when all of these hold:
//
//   - the request is a GET or a HEAD (each its own entry) without Range;
//   - the status is 200, 301, 302, 307, 308, 404 or 410;
//   - the first of Vercel-CDN-Cache-Control, CDN-Cache-Control and Cache-Control present
//     decides: it gives a TTL of at least 1 s (s-maxage, or in the two CDN headers max-age;
//     s-maxage wins where both are), and has no private, no-store or no-cache (in any form,
//     with or without field names). Its stale-while-revalidate and stale-if-error count too.
//     A TTL, or a window, over one year is cut to one year;
//   - no Set-Cookie, no Vary: Cookie (vary_key_denied) and no Vary: * (counted as private);
//   - not x-vercel-enable-rewrite-caching: 0;
//   - the body is at most 10 MB (CacheLimits.MaxBodyBytes; twice that when streamed without
//     a Content-Length), and arrived whole.
//
// The key is the method, the host, the path and the query (also for static files: the fake
// cannot tell them apart), Accept, Accept-Encoding and the request headers Vary names.
// Before the client sees a response, the CDN removes Vercel-CDN-Cache-Control,
// Vercel-Cache-Tag and x-vercel-enable-rewrite-caching, and, when Cache-Control decided,
// its s-maxage and stale-while-revalidate; CDN-Cache-Control and the rest of Cache-Control
// are passed on. It adds x-vercel-cache, an x-vercel-id ("cdn1::<n>"), and Age on every
// answer that is or becomes a cache entry (0 for a stored MISS). The origin is reached
// through httputil.ReverseProxy (hop-by-hop headers, X-Forwarded-*, the origin's Host).
//
// Behaviour table: what a request gets (x-vercel-cache), for each rule and each purge.
// TestCDNBehaviourTable checks every line.
//
//	Request, after …                                     x-vercel-cache  then
//	nothing cached, response cacheable                   MISS            stored, Age 0
//	nothing cached, response not cacheable (any reason)  MISS            not stored; the diagnosis says why
//	concurrent requests for one missing entry            MISS (all)      one origin fetch, the others wait for it
//	within the TTL                                       HIT             Age = seconds since stored
//	past the TTL, within stale-while-revalidate          STALE           one background revalidation, then HIT
//	past the TTL, no stale-while-revalidate              MISS            RFC 9111: fetched in the foreground
//	past TTL + stale-while-revalidate                    MISS
//	origin 5xx or down, within TTL + stale-if-error      STALE           the error is not cached
//	origin 5xx, no stale-if-error                        MISS            the 5xx passes through, not cached
//	origin down or unreachable                           MISS            502 ROUTER_EXTERNAL_TARGET_CONNECTION_ERROR
//	origin too slow (WithOriginTimeout) or invalid       MISS            504 / 502 ROUTER_EXTERNAL_TARGET_ERROR
//	Pragma: no-cache, entry present                      REVALIDATED     fetched in the foreground
//	Pragma: no-cache, nothing cached                     MISS
//	a method other than GET/HEAD, or Range               BYPASS          never stored
//	Authorization, deciding header without public or s-maxage  MISS      not stored (RFC 9111 §3.5)
//	invalidate by tag (no target, or this environment)   STALE           at once; one background revalidation, then HIT
//	dangerously delete by tag                            REVALIDATED     fetched in the foreground (MISS if no longer cacheable)
//	delete with revalidationDeadlineSeconds, before it   STALE           one background revalidation
//	delete with revalidationDeadlineSeconds, after it    REVALIDATED
//	a purge whose target is the other environment        HIT             untouched
//	invalidate / delete by source image                  STALE / REVALIDATED  for /_next/image?url=SRC, /_vercel/image?url=SRC and SRC
//	a purge of a tag sent in Cache-Tag, Surrogate-Key    HIT             untouched: Vercel reads Vercel-Cache-Tag only; a warning
//
// Where Vercel's documents disagree or are silent, the fake chooses, as follows.
//
//   - Dangerously delete answers REVALIDATED, as the newer Cache status page says (reason
//     "Tag-based deletion"); the CLI's page says MISS.
//   - After the TTL without stale-while-revalidate the next request is a MISS (RFC 9111),
//     not STALE.
//   - A request with Authorization is stored only when the deciding header allows a shared
//     cache explicitly, with public or s-maxage (RFC 9111 §3.5); a response with Set-Cookie
//     is never stored.
//   - Cache-Control is rewritten by removing s-maxage and stale-while-revalidate and keeping
//     the rest, in order; it is left alone when a CDN header decided.
//   - Tags are read comma-separated and trimmed, with their case kept, on both sides (a
//     purge's tags are trimmed too); duplicates count once. Past 128 tags, the first 128 are
//     kept; a tag over 256 characters is dropped, since no purge can name it; each gives a
//     warning, as do an empty tag and a tag with a space inside.
//   - A source image matches the url parameter of /_next/image and /_vercel/image exactly,
//     after URL-decoding (the purge's value is tried as sent and decoded once), and also
//     the entry whose own path and query is that image. A remote (absolute) source matches
//     derived entries only.
//   - The time-based windows come first: an entry whose TTL and stale-while-revalidate have
//     run out is a MISS, whatever purge marked it. An invalidated entry stays STALE until a
//     revalidation succeeds; a failed one keeps it (reason in lastError) and the next
//     request tries again.
//   - A delete with a deadline on an entry already marked keeps the earlier deadline.
//   - Request collapsing covers misses, expired and deleted entries; a held request is
//     served what the first one stored, as MISS, or fetches for itself when nothing was
//     stored or the first takes longer than the origin timeout. Pragma: no-cache requests for
//     a cached entry are not collapsed: each asked to revalidate.
//   - Errors are answered in Vercel's plain style ("502: BAD_GATEWAY\nCode: …\nID: …", with
//     X-Vercel-Error); Vercel documents no code for an external origin's timeout, so the
//     fake answers 504 with ROUTER_EXTERNAL_TARGET_ERROR. The origin timeout defaults to
//     Vercel's documented 120 s for proxied requests.
//   - A purge is applied before the API answers 200 (Vercel is silent on its propagation).
//     POST /v1/edge-cache/purge-all, used by `vercel cache purge`, is not in the spec and
//     not served; DELETE /__admin/cache empties the cache instead.
//
// The cache is bounded ([WithCacheLimits]): entries (default 10,000) and bytes (default
// 256 MiB, an estimate of the heap the entries and their indexes take, which a test holds to
// the heap measured), least recently used first out; a body is streamed to the client and
// copied only up to the body limit, so none is held whole beyond it. An origin that is slow,
// huge, closes early or sends invalid headers holds only its own request: other URLs, the API
// and the admin API keep answering, and Close cancels what is in flight.
//
// The diagnosis: GET /__admin/cache lists every entry (key, tags, state, age, TTL, the
// header that decided, warnings), the usage against the limits, the newest purges with how
// many entries each matched (and why none did: an unknown tag, the other environment), and
// the newest answers; GET /__admin/cache?url=/path explains one URL, including why a
// response was not cached. The same goes to the logger: one line per answer (a HIT at debug
// level, the others at info), a warning per mistake (a Cache-Tag, Surrogate-Key or
// x-cache-tag header instead of Vercel-Cache-Tag, a tag that breaks the limits, tags on a
// response that is not cached, a purge that matched nothing). In Go: [CDN.Entries],
// [CDN.Explain], [CDN.Purges].
//
// # What it does not emulate
//
// Without [WithOrigin] it keeps no cache: deleting a tag or a source image has no effect the
// fake could show, and an unknown one is accepted, as by Vercel. The CDN models Vercel's CDN
// cache only (not the Runtime or Data Cache a purge also clears), one project, one
// deployment and one environment; it does not answer conditional requests (If-None-Match
// goes to the origin), compress, optimize images, or emulate prerenders, draft mode or
// bypass tokens (the BYPASS reasons Vercel names for them). It applies no rate limit unless told to
// ([WithRateLimit], or 429s injected with FailNext), answers no 402 or 410 unless told to,
// and knows nothing of real projects, teams or tokens beyond what the options say. Tags are
// recorded the way Vercel reads them, split on commas, in both forms, and not trimmed; source
// images as sent.
package edgecachetest
