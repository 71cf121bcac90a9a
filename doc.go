// Package edgecache calls Vercel's Edge Cache API: invalidate or dangerously delete cached
// content by tag ([Client.InvalidateByTags], [Client.DangerouslyDeleteByTags]) or by source
// image ([Client.InvalidateBySrcImages], [Client.DangerouslyDeleteBySrcImages]).
//
// # Invalidate; delete only when the content is gone
//
// Invalidation marks entries stale: the next request is served the stale copy while the page
// revalidates in the background. Deletion makes the next request for every page under a tag go
// to the origin, in the foreground; one tag can cover many paths, so deleting it can send them
// all to the origin at once, a cache stampede. Delete when the origin content itself is gone
// (it answers 404 or 410); otherwise invalidate, or give the deletion a revalidation deadline.
//
// # Shape
//
// The request and response types and a raw client are generated from the vendored
// openapi.yaml into package api (see [OpenAPISpec]). This package is the thin handwritten
// layer over them: bearer authentication, the tags union ([TagList], [TagString]), validation
// before anything is sent ([ErrInvalidRequest]), typed errors ([APIError]), retries
// ([RetryPolicy]), bulk purges of any size with exact accounting ([Client.Bulk]), and a
// [Purger] that merges the purges of many goroutines into few requests. Both keep to the
// server's rate limit, learned from its answers, and to any outside [Limiter].
//
// Package edgecachetest holds a fake of the API that validates every request against the same
// spec, for tests that must not reach Vercel.
package edgecache
