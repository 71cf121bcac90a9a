// Package specsync vendors a newer upstream revision of the one Vercel
// operation this repository wraps, POST /v1/edge-cache/dangerously-delete-by-tags.
//
// The steps are separate so that each can be used and tested alone:
// Extract cuts the operation and everything it references out of the
// upstream document and validates the result, Diff grades the change against
// the vendored spec with oasdiff, Render and WriteSpec write openapi.yaml
// with its provenance comment, and Regenerate reruns go generate and builds
// api/. Update chains them for cmd/update-spec and rolls back openapi.yaml
// and api/ when regeneration fails.
package specsync
