package specsync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// tree is read-only access to a parsed OpenAPI document by JSON pointer.
// Extraction needs only a handful of subtrees out of a document that can be
// megabytes large, so implementations only materialise what is asked for.
type tree interface {
	// keys returns the member names of the object at ptr in document order,
	// or ok == false when ptr does not name an object.
	keys(ptr []string) (names []string, ok bool, err error)
	// node returns a detached copy of the value at ptr, or nil when absent.
	node(ptr []string) (*yaml.Node, error)
}

// parseTree picks the fast JSON reader for JSON text (upstream publishes JSON)
// and falls back to a full YAML parse, which also accepts JSON, otherwise.
func parseTree(data []byte) (tree, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return nil, errors.New("empty document")
	}
	if trimmed[0] == '{' {
		t, err := newJSONTree(trimmed)
		if err != nil {
			return nil, fmt.Errorf("parse JSON: %w", err)
		}
		return t, nil
	}
	t, err := newYAMLTree(data)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	return t, nil
}

// jsonTree keeps raw JSON and splits objects on demand. Scanning an 11 MB
// document into json.RawMessage values is fast, whereas decoding it into a
// generic tree or a yaml.Node graph costs seconds and hundreds of megabytes.
type jsonTree struct {
	root    json.RawMessage
	objects map[string]*jsonObject // keyed by the joined pointer
}

// jsonObject is one JSON object split into its members, in document order.
type jsonObject struct {
	names  []string
	values map[string]json.RawMessage
}

func newJSONTree(data []byte) (*jsonTree, error) {
	if !json.Valid(data) {
		// json.Valid finds the error without allocating; decode again for a message with an offset.
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
	}
	t := &jsonTree{root: data, objects: map[string]*jsonObject{}}
	if _, err := t.object(nil); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *jsonTree) object(ptr []string) (*jsonObject, error) {
	key := strings.Join(ptr, "\x00")
	if o, ok := t.objects[key]; ok {
		return o, nil
	}
	raw, err := t.raw(ptr)
	if err != nil || raw == nil {
		return nil, err
	}
	o, err := splitObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pointerString(ptr), err)
	}
	t.objects[key] = o
	return o, nil
}

// raw returns the JSON text at ptr, or nil when absent.
func (t *jsonTree) raw(ptr []string) (json.RawMessage, error) {
	if len(ptr) == 0 {
		return t.root, nil
	}
	parent, last := ptr[:len(ptr)-1], ptr[len(ptr)-1]
	praw, err := t.raw(parent)
	if err != nil || praw == nil {
		return nil, err
	}
	switch firstByte(praw) {
	case '{':
		o, err := t.object(parent)
		if err != nil || o == nil {
			return nil, err
		}
		return o.values[last], nil
	case '[':
		items, err := splitArray(praw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pointerString(parent), err)
		}
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(items) {
			return nil, nil
		}
		return items[i], nil
	default:
		return nil, nil
	}
}

func (t *jsonTree) keys(ptr []string) ([]string, bool, error) {
	raw, err := t.raw(ptr)
	if err != nil || raw == nil || firstByte(raw) != '{' {
		return nil, false, err
	}
	o, err := t.object(ptr)
	if err != nil {
		return nil, false, err
	}
	return o.names, true, nil
}

func (t *jsonTree) node(ptr []string) (*yaml.Node, error) {
	raw, err := t.raw(ptr)
	if err != nil || raw == nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := jsonToNode(dec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pointerString(ptr), err)
	}
	return n, nil
}

func firstByte(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// splitObject reads one level of a JSON object, keeping member order, which
// encoding/json's map decoding would lose. Values are sub-slices of raw, not
// copies: the document was checked with json.Valid, so finding where a value
// ends is a plain byte scan, an order of magnitude cheaper than
// json.Decoder on a multi-megabyte document.
func splitObject(raw []byte) (*jsonObject, error) {
	o := &jsonObject{values: map[string]json.RawMessage{}}
	err := scanContainer(raw, '{', '}', func(key, value []byte) error {
		var name string
		if err := json.Unmarshal(key, &name); err != nil {
			return fmt.Errorf("member name %s: %w", key, err)
		}
		if _, dup := o.values[name]; !dup {
			o.names = append(o.names, name)
		}
		o.values[name] = value
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// splitArray is splitObject for arrays.
func splitArray(raw []byte) ([]json.RawMessage, error) {
	var items []json.RawMessage
	err := scanContainer(raw, '[', ']', func(_, value []byte) error {
		items = append(items, value)
		return nil
	})
	return items, err
}

// scanContainer calls fn for each member of the object or array in raw;
// key is nil for arrays. raw must be valid JSON.
func scanContainer(raw []byte, opener, closer byte, fn func(key, value []byte) error) error {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != opener {
		return fmt.Errorf("want %q", opener)
	}
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return io.ErrUnexpectedEOF
		}
		switch raw[i] {
		case closer:
			return nil
		case ',':
			i = skipSpace(raw, i+1)
		}
		var key []byte
		if opener == '{' {
			end, err := skipValue(raw, i)
			if err != nil {
				return err
			}
			key = raw[i:end]
			i = skipSpace(raw, end)
			if i >= len(raw) || raw[i] != ':' {
				return fmt.Errorf("want ':' after %s", key)
			}
			i = skipSpace(raw, i+1)
		}
		end, err := skipValue(raw, i)
		if err != nil {
			return err
		}
		if err := fn(key, raw[i:end]); err != nil {
			return err
		}
		i = end
	}
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the offset just past the JSON value starting at i.
func skipValue(raw []byte, i int) (int, error) {
	if i >= len(raw) {
		return 0, io.ErrUnexpectedEOF
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for i < len(raw) {
			switch raw[i] {
			case '"':
				end, err := skipString(raw, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, io.ErrUnexpectedEOF
	default: // number, true, false, null
		for i < len(raw) && !strings.ContainsRune(",}] \t\r\n", rune(raw[i])) {
			i++
		}
		return i, nil
	}
}

// skipString returns the offset just past the JSON string starting at i.
func skipString(raw []byte, i int) (int, error) {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, io.ErrUnexpectedEOF
}

// jsonToNode converts one JSON value to a yaml.Node directly from tokens, so
// numbers keep their exact text and strings never go through YAML's
// type guessing.
func jsonToNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				val, err := jsonToNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, strNode(k.(string)), val)
			}
			_, err := dec.Token() // '}'
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				val, err := jsonToNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, val)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		return strNode(v), nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(v.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// yamlTree holds a fully parsed YAML document; YAML has no cheap partial parse.
type yamlTree struct {
	root *yaml.Node
}

func newYAMLTree(data []byte) (*yamlTree, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if resolveAlias(root).Kind != yaml.MappingNode {
		return nil, errors.New("top level is not a mapping")
	}
	return &yamlTree{root: root}, nil
}

func (t *yamlTree) find(ptr []string) *yaml.Node {
	n := resolveAlias(t.root)
	for _, tok := range ptr {
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				return nil
			}
			n = resolveAlias(next)
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = resolveAlias(n.Content[i])
		default:
			return nil
		}
	}
	return n
}

func (t *yamlTree) keys(ptr []string) ([]string, bool, error) {
	n := t.find(ptr)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, false, nil
	}
	names := make([]string, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !seen[k] {
			seen[k] = true
			names = append(names, k)
		}
	}
	return names, true, nil
}

func (t *yamlTree) node(ptr []string) (*yaml.Node, error) {
	n := t.find(ptr)
	if n == nil {
		return nil, nil
	}
	return cloneNode(n), nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// cloneNode deep-copies n with aliases expanded and presentation dropped:
// an anchor may lie outside the extracted part, and the output's layout is
// the encoder's, not the source's.
func cloneNode(n *yaml.Node) *yaml.Node {
	n = resolveAlias(n)
	c := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Value: n.Value}
	if n.Kind == yaml.ScalarNode && n.Tag == "" {
		c.Tag = n.ShortTag()
	}
	for _, child := range n.Content {
		c.Content = append(c.Content, cloneNode(child))
	}
	return c
}

// mapGet returns the value under key in a mapping node, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// mapAppend adds key: value to a mapping node.
func mapAppend(m *yaml.Node, key string, value *yaml.Node) {
	m.Content = append(m.Content, strNode(key), value)
}

func newMapping() *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
}

// pointerString renders pointer tokens as a JSON pointer fragment for messages.
func pointerString(ptr []string) string {
	var b strings.Builder
	b.WriteString("#")
	for _, tok := range ptr {
		b.WriteString("/")
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return b.String()
}
