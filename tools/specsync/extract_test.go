package specsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// multiOperation is a small upstream-like document: the wanted operation
// shares its path with another method and its document with other paths,
// and reaches components through $refs, a discriminator mapping and
// security requirements, beside components nothing of it uses.
const multiOperation = `
openapi: 3.0.3
info:
  title: Synthetic
  version: "1.0"
x-vendor-only: dropped
servers:
  - url: https://api.example.com
security:
  - apiKey: []
tags:
  - name: edge-cache
    description: Edge cache
  - name: unrelated
paths:
  /v1/other:
    get:
      operationId: other
      tags: [unrelated]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Unused'
  /v1/edge-cache/dangerously-delete-by-tags:
    parameters:
      - $ref: '#/components/parameters/TeamId'
    get:
      operationId: notThisOne
      responses:
        "200":
          $ref: '#/components/responses/UnusedResponse'
    post:
      operationId: dangerouslyDeleteByTags
      tags: [edge-cache]
      security:
        - bearerToken: []
      requestBody:
        $ref: '#/components/requestBodies/DeleteBody'
      responses:
        "200":
          description: ""
        "400":
          $ref: '#/components/responses/BadRequest'
components:
  schemas:
    Unused:
      type: string
    Target:
      type: string
      enum: [production, preview]
    Body:
      type: object
      properties:
        target:
          $ref: '#/components/schemas/Target'
        tags:
          $ref: '#/components/schemas/Tags'
    Tags:
      type: array
      maxItems: 16
      items:
        type: string
        maxLength: 256
    Error:
      type: object
      properties:
        detail:
          oneOf:
            - $ref: '#/components/schemas/Limit'
            - $ref: '#/components/schemas/Quota'
          discriminator:
            propertyName: kind
            mapping:
              limit: Limit
              quota: '#/components/schemas/Quota'
    Limit:
      type: object
      required: [kind]
      properties:
        kind: {type: string}
        remaining: {type: integer}
    Quota:
      type: object
      required: [kind]
      properties:
        kind: {type: string}
    AlsoUnused:
      $ref: '#/components/schemas/Unused'
  parameters:
    TeamId:
      name: teamId
      in: query
      schema:
        type: string
  requestBodies:
    DeleteBody:
      required: true
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Body'
  responses:
    UnusedResponse:
      description: unused
    BadRequest:
      description: bad request
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://example.com/token
          scopes: {}
    apiKey:
      type: apiKey
      in: header
      name: X-Key
    bearerToken:
      type: http
      scheme: bearer
`

// wantExtracted is multiOperation minus what the operation does not use.
func wantExtracted(t *testing.T) any {
	t.Helper()
	doc := asJSON(t, []byte(multiOperation)).(map[string]any)
	delete(doc, "x-vendor-only")
	doc["tags"] = doc["tags"].([]any)[:1]
	paths := doc["paths"].(map[string]any)
	delete(paths, "/v1/other")
	delete(paths[Path].(map[string]any), "get")
	comps := doc["components"].(map[string]any)
	delete(comps["schemas"].(map[string]any), "Unused")
	delete(comps["schemas"].(map[string]any), "AlsoUnused")
	delete(comps["responses"].(map[string]any), "UnusedResponse")
	delete(comps["securitySchemes"].(map[string]any), "oauth")
	return doc
}

func TestExtractKeepsOnlyTheOperationAndWhatItReferences(t *testing.T) {
	t.Parallel()
	asJSONText, err := json.MarshalIndent(asJSON(t, []byte(multiOperation)), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, input := range map[string][]byte{"yaml": []byte(multiOperation), "json": asJSONText} {
		t.Run(name, func(t *testing.T) {
			out, err := Extract(input, Path, Method)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if got, want := asJSON(t, out), wantExtracted(t); !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("extracted:\n%s\nwant:\n%s", g, w)
			}
		})
	}

	// Upstream's order survives, within the document and within components.
	out, err := Extract([]byte(multiOperation), Path, Method)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   []string
		want []string
	}{
		{nil, []string{"openapi", "info", "servers", "security", "tags", "paths", "components"}},
		{[]string{"paths", Path}, []string{"parameters", "post"}},
		{[]string{"components"}, []string{"schemas", "parameters", "requestBodies", "responses", "securitySchemes"}},
		{[]string{"components", "schemas"}, []string{"Target", "Body", "Tags", "Error", "Limit", "Quota"}},
		{[]string{"components", "securitySchemes"}, []string{"apiKey", "bearerToken"}},
	} {
		if got := keyOrder(t, out, tc.at...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("keys at %v = %v, want %v", tc.at, got, tc.want)
		}
	}
}

// TestExtractJSONValuesExact checks that values read on the JSON fast path
// come out with the same type and value, whatever they look like to YAML.
func TestExtractJSONValuesExact(t *testing.T) {
	t.Parallel()
	doc := `{"openapi":"3.0.3","info":{"title":"caf\u00e9 \/ \"q\"","version":"010"},
	"paths":{"/v1/{odd}\"]\\":{"get":{"description":"}]\\\"{[","responses":{}}},"` + Path + `":{"post":{
	  "description":"line one\nline two\ttab: yes # not a comment",
	  "x-values":{"int":31536000,"float":0.10,"exp":1e3,"neg":-2,"bool":false,"null":null,"br{ace\"s]":"}] \\","arr":[{"a":"]"},[],"\"",[1,[2]]],
	    "strs":["yes","no","on","null","~","1e3","0x1F","2024-01-02",": colon","- dash","","  padded  "]},
	  "responses":{"410":{"description":""}}}}}}`
	out, err := Extract([]byte(doc), Path, Method)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	var want any
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatal(err)
	}
	// Only the one path survives, exactly as it was.
	delete(want.(map[string]any)["paths"].(map[string]any), `/v1/{odd}"]\`)
	if got := asJSON(t, out); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed values:\n%s\ngot  %v\nwant %v", out, got, want)
	}
}

func TestExtractErrors(t *testing.T) {
	t.Parallel()
	op := func(body string) string {
		return fmt.Sprintf(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{%q:{"post":%s}}}`, Path, body)
	}
	for _, tc := range []struct {
		name string
		doc  string
		is   error
		says string
	}{
		{"empty", "  \n", ErrInvalidSpec, "empty document"},
		{"bad JSON", `{"openapi": "3.0.3",}`, ErrInvalidSpec, "parse JSON"},
		{"bad YAML", "openapi: [3.0.3\n", ErrInvalidSpec, "parse YAML"},
		{"not a mapping", "- a\n- b\n", ErrInvalidSpec, "not a mapping"},
		{"swagger 2", `{"swagger":"2.0","paths":{}}`, ErrInvalidSpec, `found swagger "2.0"`},
		{"no paths", `{"openapi":"3.0.3","info":{"title":"t","version":"1"}}`, ErrOperationNotFound, "POST " + Path},
		{"other path only", `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/v1/x":{"post":{"responses":{"200":{"description":""}}}}}}`,
			ErrOperationNotFound, "POST " + Path},
		{"other method only", strings.Replace(op(`{"responses":{"200":{"description":""}}}`), `"post"`, `"get"`, 1), ErrOperationNotFound, "POST " + Path},
		{"dangling ref", op(`{"responses":{"200":{"$ref":"#/components/responses/Gone"}}}`), ErrInvalidSpec, "#/components/responses/Gone is referenced but not defined"},
		{"external ref", op(`{"responses":{"200":{"$ref":"common.yaml#/Ok"}}}`), ErrInvalidSpec, "external $ref"},
		{"ref outside components", op(`{"responses":{"200":{"$ref":"#/paths/x"}}}`), ErrInvalidSpec, "outside #/components"},
		{"undefined security scheme", op(`{"security":[{"nope":[]}],"responses":{"200":{"description":""}}}`), ErrInvalidSpec, "securitySchemes/nope"},
		// kin-openapi's own validation: a parameter must say where it goes.
		{"invalid operation", op(`{"parameters":[{"name":"x","schema":{"type":"string"}}],"responses":{"200":{"description":""}}}`), ErrInvalidSpec, "parameter"},
		{"invalid schema", op(`{"requestBody":{"content":{"application/json":{"schema":{"type":"strnig"}}}},"responses":{"200":{"description":""}}}`), ErrInvalidSpec, "strnig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Extract([]byte(tc.doc), Path, Method)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Extract error = %v, want %v (output %q)", err, tc.is, out)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not mention %q", err, tc.says)
			}
		})
	}
}

func TestValidateChecksTheOperationIsThere(t *testing.T) {
	t.Parallel()
	doc := []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /v1/x:\n    post:\n      responses:\n        '200': {description: ok}\n")
	if err := Validate(doc, "/v1/x", "POST"); err != nil {
		t.Errorf("Validate(present) = %v", err)
	}
	if err := Validate(doc, Path, Method); !errors.Is(err, ErrOperationNotFound) {
		t.Errorf("Validate(absent) = %v, want ErrOperationNotFound", err)
	}
}

// TestYAMLAliasesAreExpanded: an anchor may sit in a part that is dropped.
func TestYAMLAliasesAreExpanded(t *testing.T) {
	t.Parallel()
	doc := `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/other:
    post:
      responses:
        "200": &ok {description: shared}
  ` + Path + `:
    post:
      responses:
        "200": *ok
`
	out, err := Extract([]byte(doc), Path, Method)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if strings.ContainsAny(string(out), "&*") {
		t.Errorf("output keeps anchors or aliases:\n%s", out)
	}
	if got := dig(t, asJSON(t, out), "paths", Path, Method, "responses", "200", "description"); got != "shared" {
		t.Errorf("aliased response description = %v", got)
	}
}

// largeUpstream builds a document of roughly the real upstream's size
// (about 11 MB, hundreds of operations and schemas).
func largeUpstream(tb testing.TB) []byte {
	tb.Helper()
	paths := map[string]any{}
	schemas := map[string]any{}
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 40)
	for i := range 800 {
		name := fmt.Sprintf("Model%d", i)
		props := map[string]any{}
		for j := range 12 {
			props[fmt.Sprintf("field%d", j)] = map[string]any{"type": "string", "description": filler}
		}
		schemas[name] = map[string]any{"type": "object", "properties": props}
		paths[fmt.Sprintf("/v%d/resource/%d", i%9, i)] = map[string]any{
			"post": map[string]any{
				"operationId": fmt.Sprintf("op%d", i),
				"description": filler,
				"responses": map[string]any{"200": map[string]any{
					"description": "",
					"content": map[string]any{"application/json": map[string]any{
						"schema": map[string]any{"$ref": "#/components/schemas/" + name}}},
				}},
			},
		}
	}
	paths[Path] = map[string]any{"post": map[string]any{
		"operationId": "dangerouslyDeleteByTags",
		"responses": map[string]any{"200": map[string]any{
			"description": "",
			"content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/Model7"}}},
		}},
	}}
	doc, err := json.Marshal(map[string]any{
		"openapi": "3.0.3", "info": map[string]any{"title": "big", "version": "1"},
		"paths": paths, "components": map[string]any{"schemas": schemas},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func TestExtractLargeDocument(t *testing.T) {
	t.Parallel()
	doc := largeUpstream(t)
	if len(doc) < 10<<20 {
		t.Fatalf("synthetic upstream is only %d bytes", len(doc))
	}
	out, err := Extract(doc, Path, Method)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	got := asJSON(t, out)
	if schemas := dig(t, got, "components", "schemas").(map[string]any); len(schemas) != 1 || schemas["Model7"] == nil {
		t.Errorf("schemas = %v, want only Model7", sortedKeys(schemas))
	}
	if paths := dig(t, got, "paths").(map[string]any); len(paths) != 1 {
		t.Errorf("kept %d paths", len(paths))
	}
}

func BenchmarkExtractLarge(b *testing.B) {
	doc := largeUpstream(b)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Extract(doc, Path, Method); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParsePointer(t *testing.T) {
	t.Parallel()
	got, err := parsePointer("#/components/schemas/a~1b~0c%20d")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"components", "schemas", "a/b~c d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("parsePointer = %q, want %q", got, want)
	}
	if _, err := parsePointer("#components"); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("parsePointer(no slash) = %v", err)
	}
}
