package edgecache

// The generated package api/ comes from two files and nothing else: openapi.yaml, the
// vendored Edge Cache group of Vercel's OpenAPI document, and oapi-codegen.yaml, which holds
// every Go name and type mapping, so that the spec stays as upstream wrote it. The generator
// is oapi-codegen, pinned as a tool in tools/go.mod rather than in this module's go.mod, so
// that importers of edgecache never download it. `make check-generated` fails when api/ is
// not what this directive produces; `make update-spec` vendors a newer upstream document and
// runs it.

//go:generate go tool -modfile=tools/go.mod oapi-codegen -config oapi-codegen.yaml openapi.yaml
