package specsync

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SpecFile is the vendored spec's name at the repository root.
const SpecFile = "openapi.yaml"

// Provenance says where a vendored spec came from; it becomes the comment
// block at the top of openapi.yaml.
type Provenance struct {
	// Source is the upstream file's base name; a full path would record the
	// vendoring machine's layout rather than the document.
	Source string
	// Date is the day the spec was vendored.
	Date time.Time
}

// Render prefixes an extracted spec with its provenance comment block.
func Render(spec []byte, p Provenance) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Vendored from %s, the upstream Vercel OpenAPI document: the Edge Cache group\n", p.Source)
	fmt.Fprintf(&b, "# (operationIds %s)\n", strings.Join(edgeCacheGroup[:], ", "))
	b.WriteString("# with everything they reference (servers, security schemes, tag definitions and $ref'd\n")
	b.WriteString("# components), cut out by `make update-spec` (tools/specsync). Keys and values are upstream's,\n")
	b.WriteString("# unchanged and in upstream's order; only the layout is re-encoded as YAML.\n")
	fmt.Fprintf(&b, "# Vendored on %s.\n", p.Date.Format(time.DateOnly))
	b.WriteString("#\n")
	b.WriteString("# Go naming lives in oapi-codegen.yaml, never here, so that a newer upstream document can be\n")
	b.WriteString("# dropped in unchanged (see `make update-spec` and docs/spec-updates.md).\n")
	b.Write(spec)
	return b.Bytes()
}

// WriteSpec replaces the repository's openapi.yaml, keeping its file mode.
func WriteSpec(repo string, data []byte) error {
	name := filepath.Join(repo, SpecFile)
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(name); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.WriteFile(name, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", SpecFile, err)
	}
	return nil
}

// SameDocument reports whether two OpenAPI texts (JSON or YAML, comments
// and layout aside) hold the same data.
func SameDocument(a, b []byte) (bool, error) {
	var va, vb any
	if err := yaml.Unmarshal(a, &va); err != nil {
		return false, fmt.Errorf("parse first document: %w", err)
	}
	if err := yaml.Unmarshal(b, &vb); err != nil {
		return false, fmt.Errorf("parse second document: %w", err)
	}
	return reflect.DeepEqual(va, vb), nil
}
