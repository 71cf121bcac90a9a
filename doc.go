// Package edgecache calls Vercel's Edge Cache endpoint
// POST /v1/edge-cache/dangerously-delete-by-tags
// (https://vercel.com/docs/rest-api/reference/endpoints/edge-cache/dangerously-delete-by-tag).
//
// # Read this before calling it
//
// Deleting a tag marks every cache entry that carries it as deleted, so the next request for
// each of those pages is revalidated in the foreground, at the origin. One tag can cover many
// paths: deleting it can send many concurrent requests to the origin at once, a cache
// stampede. Vercel recommends it when the origin itself is gone (it answers 404 or 410);
// otherwise prefer invalidation, which serves stale content while revalidating in the
// background. A revalidation deadline softens the blow: until it passes, requests are served
// stale content and trigger a background revalidation.
//
// # Shape
//
// The request and response types and a raw client are generated from the vendored
// openapi.yaml into package api (see [OpenAPISpec]). This package is the thin handwritten
// layer over them: bearer authentication, the tags union ([TagList], [TagString]),
// validation before anything is sent ([ErrInvalidRequest]), typed errors ([APIError]),
// retries ([RetryPolicy]) and bulk purges of more than 16 tags with exact accounting
// ([Client.DangerouslyDeleteByTagsBulk]).
//
// Package edgecachetest holds a fake of the endpoint that validates every request against the
// same spec, for tests that must not reach Vercel.
package edgecache
