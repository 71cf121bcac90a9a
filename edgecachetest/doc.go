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
// # What it does not emulate
//
// It keeps no cache: deleting a tag or a source image has no effect the fake could show, and
// an unknown one is accepted, as by Vercel. It applies no rate limit unless told to
// ([WithRateLimit], or 429s injected with FailNext), answers no 402 or 410 unless told to,
// and knows nothing of real projects, teams or tokens beyond what the options say. Tags are
// recorded the way Vercel reads them, split on commas, in both forms, and not trimmed; source
// images as sent.
package edgecachetest
