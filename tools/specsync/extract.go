package specsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// edgeCacheGroup lists, in the order reports show them, the operationIds of
// Vercel's Edge Cache group: the operations this repository vendors. It is
// the one place that names them.
var edgeCacheGroup = [...]string{
	"invalidateByTags",
	"dangerouslyDeleteByTags",
	"invalidateBySrcImages",
	"dangerouslyDeleteBySrcImages",
}

// Operations returns the operationIds of the Edge Cache group, the operations
// update-spec extracts, in report order. The slice is the caller's.
func Operations() []string { return slices.Clone(edgeCacheGroup[:]) }

// ErrOperationNotFound reports that the upstream document lacks an operation.
var ErrOperationNotFound = errors.New("operation not found")

// ErrInvalidSpec reports a document that is not valid OpenAPI 3, either as
// read or once cut down to the wanted operations.
var ErrInvalidSpec = errors.New("not a valid OpenAPI 3 document")

// httpMethods are the path item keys that hold operations; every other path
// item key (summary, parameters, servers, ...) applies to all of them.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace", "query"}

// keptTopLevel are the document-level keys that apply to every operation.
// Anything else at the top level (webhooks, x- extensions) belongs to the
// rest of the upstream API and is dropped.
var keptTopLevel = []string{"openapi", "info", "jsonSchemaDialect", "servers", "security", "externalDocs"}

// Extract cuts the operations named by operationIds out of an OpenAPI 3
// document (JSON or YAML), wherever their paths are, together with everything
// they depend on: document-level servers and security, the security schemes
// they use, the tag definitions they name and every component reachable
// through local $refs. Keys and values stay exactly as upstream wrote them,
// in upstream's order; only the layout is re-encoded as YAML. A missing
// operation is an ErrOperationNotFound naming it. The result is validated
// with kin-openapi.
func Extract(data []byte, operationIDs []string) ([]byte, error) {
	if len(operationIDs) == 0 {
		return nil, errors.New("extract: no operationIds given")
	}
	t, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	doc, err := extractNode(t, operationIDs)
	if err != nil {
		return nil, err
	}
	out, err := encodeYAML(doc)
	if err != nil {
		return nil, err
	}
	if err := Validate(out, operationIDs); err != nil {
		return nil, err
	}
	return out, nil
}

// opLocation is where an operation sits in the document.
type opLocation struct{ path, method string }

// findOperations locates each wanted operationId. Only operationId members
// are read, so on a large JSON document no operation is decoded whole.
func findOperations(t tree, ids []string) (map[string]opLocation, error) {
	wanted := map[string]bool{}
	for _, id := range ids {
		wanted[id] = true
	}
	found := map[string]opLocation{}
	paths, _, err := t.keys([]string{"paths"})
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		keys, _, err := t.keys([]string{"paths", p})
		if err != nil {
			return nil, err
		}
		for _, m := range keys {
			if !slices.Contains(httpMethods, m) {
				continue
			}
			n, err := t.node([]string{"paths", p, m, "operationId"})
			if err != nil {
				return nil, err
			}
			if n == nil || n.Kind != yaml.ScalarNode || !wanted[n.Value] {
				continue
			}
			here := opLocation{p, m}
			if prev, dup := found[n.Value]; dup {
				return nil, fmt.Errorf("%w: operationId %q is used twice, by %s and %s",
					ErrInvalidSpec, n.Value, prev, here)
			}
			found[n.Value] = here
		}
	}
	if err := notFound(ids, func(id string) bool { _, ok := found[id]; return ok }); err != nil {
		return nil, err
	}
	return found, nil
}

// notFound names every id that has is false for, or returns nil.
func notFound(ids []string, has func(string) bool) error {
	var missing []string
	for _, id := range ids {
		if !has(id) {
			missing = append(missing, strconv.Quote(id))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: no operation has operationId %s", ErrOperationNotFound, strings.Join(missing, ", "))
}

func (l opLocation) String() string { return strings.ToUpper(l.method) + " " + l.path }

func extractNode(t tree, ids []string) (*yaml.Node, error) {
	version, err := t.node([]string{"openapi"})
	if err != nil {
		return nil, err
	}
	if version == nil || version.Kind != yaml.ScalarNode || !strings.HasPrefix(version.Value, "3.") {
		if sw, _ := t.node([]string{"swagger"}); sw != nil {
			return nil, fmt.Errorf("%w: found swagger %q, want openapi 3.x", ErrInvalidSpec, sw.Value)
		}
		return nil, fmt.Errorf("%w: no `openapi: 3.x` field at the top level", ErrInvalidSpec)
	}

	found, err := findOperations(t, ids)
	if err != nil {
		return nil, err
	}
	keep := map[string][]string{} // path -> wanted methods
	for _, loc := range found {
		keep[loc.path] = append(keep[loc.path], loc.method)
	}

	// Paths in upstream's order; in each path item, the path-level keys and
	// the wanted methods in upstream's order, other methods dropped.
	paths := newMapping()
	var ops []*yaml.Node
	allPaths, _, err := t.keys([]string{"paths"})
	if err != nil {
		return nil, err
	}
	for _, p := range allPaths {
		methods := keep[p]
		if methods == nil {
			continue
		}
		itemKeys, _, err := t.keys([]string{"paths", p})
		if err != nil {
			return nil, err
		}
		item := newMapping()
		for _, k := range itemKeys {
			if slices.Contains(httpMethods, k) && !slices.Contains(methods, k) {
				continue
			}
			v, err := t.node([]string{"paths", p, k})
			if err != nil {
				return nil, err
			}
			if slices.Contains(methods, k) {
				if v.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("%w: %s is not an operation object", ErrInvalidSpec, opLocation{p, k})
				}
				ops = append(ops, v)
			}
			mapAppend(item, k, v)
		}
		mapAppend(paths, p, item)
	}

	top := map[string]*yaml.Node{}
	topKeys, _, err := t.keys(nil)
	if err != nil {
		return nil, err
	}
	for _, k := range topKeys {
		if slices.Contains(keptTopLevel, k) {
			if top[k], err = t.node([]string{k}); err != nil {
				return nil, err
			}
		}
	}

	deps := newDependencies(t)
	if err := deps.walk(paths); err != nil {
		return nil, err
	}
	// The document-level security is kept as upstream wrote it, so the
	// schemes it names must come along as well as the operations' own.
	securities := []*yaml.Node{top["security"]}
	for _, op := range ops {
		securities = append(securities, mapGet(op, "security"))
	}
	for _, security := range securities {
		if err := deps.security(security); err != nil {
			return nil, err
		}
	}

	out := newMapping()
	for _, k := range topKeys {
		switch {
		case top[k] != nil:
			mapAppend(out, k, top[k])
		case k == "tags":
			tags, err := usedTags(t, ops)
			if err != nil {
				return nil, err
			}
			if tags != nil {
				mapAppend(out, k, tags)
			}
		case k == "paths":
			mapAppend(out, k, paths)
		case k == "components":
			comps, err := deps.components()
			if err != nil {
				return nil, err
			}
			if comps != nil {
				mapAppend(out, k, comps)
			}
		}
	}
	return out, nil
}

// usedTags returns the document's tag definitions that the operations name,
// or nil when there are none.
func usedTags(t tree, ops []*yaml.Node) (*yaml.Node, error) {
	names := map[string]bool{}
	for _, op := range ops {
		if opTags := mapGet(op, "tags"); opTags != nil {
			for _, n := range opTags.Content {
				names[n.Value] = true
			}
		}
	}
	all, err := t.node([]string{"tags"})
	if err != nil || all == nil || all.Kind != yaml.SequenceNode {
		return nil, err
	}
	kept := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, def := range all.Content {
		if name := mapGet(def, "name"); name != nil && names[name.Value] {
			kept.Content = append(kept.Content, def)
		}
	}
	if len(kept.Content) == 0 {
		return nil, nil
	}
	return kept, nil
}

// dependencies collects the components an extracted operation reaches.
type dependencies struct {
	t    tree
	need map[string]map[string]bool // components section -> entry names
}

func newDependencies(t tree) *dependencies {
	return &dependencies{t: t, need: map[string]map[string]bool{}}
}

// walk records every local $ref under n, and discriminator mappings, which
// name schemas without a $ref key.
func (d *dependencies) walk(n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if k == "$ref" && v.Kind == yaml.ScalarNode {
				if err := d.ref(v.Value); err != nil {
					return err
				}
				continue
			}
			if k == "discriminator" {
				for _, target := range mappingValues(mapGet(v, "mapping")) {
					if !strings.Contains(target, "#") && !strings.Contains(target, "/") {
						target = "#/components/schemas/" + target
					}
					if err := d.ref(target); err != nil {
						return err
					}
				}
			}
			if err := d.walk(v); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := d.walk(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// security keeps the schemes a list of security requirements names; they
// are referenced by name, not by $ref.
func (d *dependencies) security(reqs *yaml.Node) error {
	if reqs == nil || reqs.Kind != yaml.SequenceNode {
		return nil
	}
	for _, req := range reqs.Content {
		if req.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(req.Content); i += 2 {
			if err := d.add([]string{"components", "securitySchemes", req.Content[i].Value}); err != nil {
				return err
			}
		}
	}
	return nil
}

func mappingValues(m *yaml.Node) []string {
	var vs []string
	if m != nil && m.Kind == yaml.MappingNode {
		for i := 1; i < len(m.Content); i += 2 {
			vs = append(vs, m.Content[i].Value)
		}
	}
	return vs
}

func (d *dependencies) ref(ref string) error {
	if !strings.HasPrefix(ref, "#") {
		return fmt.Errorf("%w: external $ref %q: a vendored single-file spec cannot follow it", ErrInvalidSpec, ref)
	}
	ptr, err := parsePointer(ref)
	if err != nil {
		return err
	}
	if len(ptr) < 3 || ptr[0] != "components" {
		return fmt.Errorf("%w: $ref %q points outside #/components, which extraction does not follow", ErrInvalidSpec, ref)
	}
	return d.add(ptr[:3])
}

// add keeps the component entry at ptr (components/<section>/<name>) and
// everything it references in turn.
func (d *dependencies) add(ptr []string) error {
	section, name := ptr[1], ptr[2]
	if d.need[section][name] {
		return nil
	}
	n, err := d.t.node(ptr)
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("%w: %s is referenced but not defined", ErrInvalidSpec, pointerString(ptr))
	}
	if d.need[section] == nil {
		d.need[section] = map[string]bool{}
	}
	d.need[section][name] = true
	return d.walk(n)
}

// components rebuilds #/components with only the needed entries, in the
// upstream order of sections and of entries within each section.
func (d *dependencies) components() (*yaml.Node, error) {
	if len(d.need) == 0 {
		return nil, nil
	}
	sections, _, err := d.t.keys([]string{"components"})
	if err != nil {
		return nil, err
	}
	out := newMapping()
	for _, section := range sections {
		if len(d.need[section]) == 0 {
			continue
		}
		names, _, err := d.t.keys([]string{"components", section})
		if err != nil {
			return nil, err
		}
		entries := newMapping()
		for _, name := range names {
			if !d.need[section][name] {
				continue
			}
			n, err := d.t.node([]string{"components", section, name})
			if err != nil {
				return nil, err
			}
			mapAppend(entries, name, n)
		}
		mapAppend(out, section, entries)
	}
	return out, nil
}

// parsePointer splits a local $ref ("#/a/b~1c") into unescaped tokens.
func parsePointer(ref string) ([]string, error) {
	frag, err := url.PathUnescape(strings.TrimPrefix(ref, "#"))
	if err != nil {
		return nil, fmt.Errorf("%w: $ref %q: %w", ErrInvalidSpec, ref, err)
	}
	if frag == "" {
		return nil, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, fmt.Errorf("%w: $ref %q is not a JSON pointer", ErrInvalidSpec, ref)
	}
	toks := strings.Split(frag[1:], "/")
	for i, tok := range toks {
		toks[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
	}
	return toks, nil
}

func encodeYAML(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// Validate loads spec with kin-openapi, validates it and checks that it
// holds every operation in operationIDs, so that nothing is vendored that the
// generator or the spec-validating fake would choke on.
func Validate(spec []byte, operationIDs []string) error {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	have := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			have[op.OperationID] = true
		}
	}
	return notFound(operationIDs, func(id string) bool { return have[id] })
}
