// Package specsync vendors a newer upstream revision of Vercel's Edge Cache
// group, the four operations this repository wraps (see Operations), from the
// upstream OpenAPI document into openapi.yaml.
//
// The steps are separate so that each can be used and tested alone:
// Extract finds the operations by operationId and cuts them out of the
// upstream document with everything they reference, then validates the
// result; Diff grades the change against the vendored spec with oasdiff and
// says what it means for this client (Report.ClientImpact); Render and
// WriteSpec write openapi.yaml with its provenance comment; Regenerate
// reruns go generate and builds api/. Update chains them for cmd/update-spec
// and rolls back openapi.yaml and api/ when regeneration fails.
package specsync
