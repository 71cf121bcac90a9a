package edgecache_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeImports are the packages a README snippet may use without importing them: a snippet
// is what a reader pastes into a file that already imports what it needs.
var readmeImports = []struct{ path, use string }{
	{"context", "context.Background"},
	{"errors", "errors.New"},
	{"fmt", "fmt.Sprint"},
	{"log", "log.Print"},
	{"net/http", "http.StatusOK"},
	{"os", "os.Getenv"},
	{"testing", "testing.Short"},
	{"time", "time.Second"},
	{"github.com/vercelkit/edgecache", "edgecache.TagList"},
	{"github.com/vercelkit/edgecache/edgecachetest", "edgecachetest.NewServer"},
}

// readmeSnippet is one ```go block of README.md.
type readmeSnippet struct {
	line int // the README line of the block's first line of code
	code string
}

// readmeSnippets extracts the ```go blocks of the README.
func readmeSnippets(t *testing.T) []readmeSnippet {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var (
		snippets []readmeSnippet
		current  *readmeSnippet
		n        int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case current == nil && strings.TrimSpace(line) == "```go":
			current = &readmeSnippet{line: n + 1}
		case current != nil && strings.TrimSpace(line) == "```":
			snippets = append(snippets, *current)
			current = nil
		case current != nil:
			current.code += line + "\n"
		}
	}
	if current != nil {
		t.Fatalf("README.md:%d: a ```go block is never closed", current.line-1)
	}
	return snippets
}

// TestREADMESnippetsCompile builds and vets every ```go block of README.md, as a reader would
// paste it: a block of declarations (func, type, var, const) into a file of its own, any other
// block into the body of a function that has a ctx and a client (an *edgecache.Client) and
// returns an error, each file importing the packages of readmeImports. Errors name
// README.md's lines. It runs offline: the dependencies come from the module cache, with this
// module's go.sum.
func TestREADMESnippetsCompile(t *testing.T) {
	snippets := readmeSnippets(t)
	if len(snippets) == 0 {
		t.Fatal("README.md has no ```go block")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(root, "README.md")
	dir := t.TempDir()
	goSum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	goMod := "module readme.example\n\ngo 1.26.0\n\nrequire github.com/vercelkit/edgecache v0.0.0\n\nreplace github.com/vercelkit/edgecache => " + root + "\n"
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", goMod)
	write("go.sum", string(goSum))
	for i, s := range snippets {
		var b strings.Builder
		fmt.Fprintf(&b, "package snippet%d\n\nimport (\n", i)
		for _, imp := range readmeImports {
			fmt.Fprintf(&b, "\t%q\n", imp.path)
		}
		b.WriteString(")\n\n")
		for _, imp := range readmeImports {
			fmt.Fprintf(&b, "var _ = %s\n", imp.use)
		}
		if declarations(s.code) {
			fmt.Fprintf(&b, "\n//line %s:%d\n%s", readme, s.line, s.code)
		} else {
			fmt.Fprintf(&b, "\nfunc snippet(ctx context.Context, client *edgecache.Client) error {\n//line %s:%d\n%s\treturn nil\n}\n", readme, s.line, s.code)
		}
		write(fmt.Sprintf("snippet%d/snippet.go", i), b.String())
	}

	vet := exec.CommandContext(t.Context(), "go", "vet", "./...")
	vet.Dir = dir
	// -mod=mod fills in the requirements edgecache's go.mod states; GOPROXY=off keeps it to
	// the module cache, where `go test` of this module already put every one of them.
	vet.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("README.md's Go snippets do not compile as pasted (go vet: %v):\n%s", err, out)
	}
}

// declarations reports whether a snippet is top-level declarations rather than statements:
// its first line of code declares a func, type, var or const.
func declarations(code string) bool {
	for line := range strings.Lines(code) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		for _, kw := range []string{"func ", "type ", "var ", "const "} {
			if strings.HasPrefix(line, kw) {
				return true
			}
		}
		return false
	}
	return false
}

// The rule for zero fields is stated on RetryPolicy itself, where a newcomer reading the type
// looks for it (issue 18), not only on WithRetry.
func TestRetryPolicyDocStatesTheZeroFieldRule(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "retry.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := doc.NewFromFiles(fset, []*ast.File{f}, "github.com/vercelkit/edgecache")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range pkg.Types {
		if typ.Name != "RetryPolicy" {
			continue
		}
		text := strings.Join(strings.Fields(typ.Doc), " ")
		for _, want := range []string{"A zero field takes the value of [DefaultRetryPolicy]", "RetryPolicy{} is the default policy", "MaxAttempts 1 disables retries"} {
			if !strings.Contains(text, want) {
				t.Errorf("RetryPolicy's doc lacks %q:\n%s", want, typ.Doc)
			}
		}
		return
	}
	t.Fatal("retry.go declares no RetryPolicy")
}
