package edgecache

// The unexported limits, exposed to the external test package so that the guard test in
// wrapper_test.go can compare them with openapi.yaml.
var (
	MinTagsPerRequest       = minTagsPerRequest
	MinRevalidationDeadline = minRevalidationDeadline
)
