package edgecache

import _ "embed"

// OpenAPISpec is the vendored OpenAPI document (openapi.yaml) that api/ is generated from.
// edgecachetest validates requests against it, and the guard tests read the schema's limits
// from it, so the wrapper's validation can never drift from the spec unnoticed.
//
//go:embed openapi.yaml
var OpenAPISpec []byte
