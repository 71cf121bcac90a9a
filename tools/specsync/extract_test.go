package specsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// group is the Edge Cache group's operationIds, for brevity.
var group = Operations()

// multiOperation is a small upstream-like document holding the group among
// operations it must leave out. The group sits at paths of its own and at
// one shared with an unwanted method; two of its operations share a path;
// it reaches components through $refs (one schema shared by two
// operations, chains of refs, path-level parameters), a discriminator
// mapping and security requirements, beside components nothing of it uses.
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
  - name: images
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
  /v1/edge-cache/invalidate-by-tags:
    post:
      operationId: invalidateByTags
      tags: [edge-cache]
      parameters:
        - $ref: '#/components/parameters/TeamId'
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                tags:
                  $ref: '#/components/schemas/Tags'
      responses:
        "410":
          description: gone
  /v9/images:
    summary: shared by the two src-images operations
    get:
      operationId: listImages
      responses:
        "200":
          description: ok
    delete:
      operationId: dangerouslyDeleteBySrcImages
      tags: [images]
      requestBody:
        $ref: '#/components/requestBodies/Images'
      responses:
        "402":
          $ref: '#/components/responses/PaymentRequired'
    patch:
      operationId: invalidateBySrcImages
      tags: [images]
      security:
        - bearerToken: []
      requestBody:
        $ref: '#/components/requestBodies/Images'
      responses:
        "402":
          $ref: '#/components/responses/PaymentRequired'
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
    SrcImages:
      type: array
      minItems: 1
      maxItems: 8
      items:
        $ref: '#/components/schemas/SrcImage'
    SrcImage:
      type: string
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
    Images:
      content:
        application/json:
          schema:
            type: object
            properties:
              srcImages:
                $ref: '#/components/schemas/SrcImages'
  responses:
    UnusedResponse:
      description: unused
    BadRequest:
      description: bad request
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
    PaymentRequired:
      description: payment required
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

// wantExtracted is multiOperation minus what the group does not use.
func wantExtracted(t *testing.T) any {
	t.Helper()
	doc := asJSON(t, []byte(multiOperation)).(map[string]any)
	delete(doc, "x-vendor-only")
	tags := doc["tags"].([]any)
	doc["tags"] = []any{tags[0], tags[2]}
	paths := doc["paths"].(map[string]any)
	delete(paths, "/v1/other")
	delete(paths["/v1/edge-cache/dangerously-delete-by-tags"].(map[string]any), "get")
	delete(paths["/v9/images"].(map[string]any), "get")
	comps := doc["components"].(map[string]any)
	delete(comps["schemas"].(map[string]any), "Unused")
	delete(comps["schemas"].(map[string]any), "AlsoUnused")
	delete(comps["responses"].(map[string]any), "UnusedResponse")
	delete(comps["securitySchemes"].(map[string]any), "oauth")
	return doc
}

func TestExtractKeepsTheGroupAndWhatItReferences(t *testing.T) {
	t.Parallel()
	asJSONText, err := json.MarshalIndent(asJSON(t, []byte(multiOperation)), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, input := range map[string][]byte{"yaml": []byte(multiOperation), "json": asJSONText} {
		t.Run(name, func(t *testing.T) {
			out, err := Extract(input, group)
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

	// Upstream's order survives, within the document, the paths, each path
	// item and components; $refs stay $refs.
	out, err := Extract([]byte(multiOperation), group)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   []string
		want []string
	}{
		{nil, []string{"openapi", "info", "servers", "security", "tags", "paths", "components"}},
		{[]string{"paths"}, []string{"/v1/edge-cache/dangerously-delete-by-tags", "/v1/edge-cache/invalidate-by-tags", "/v9/images"}},
		{[]string{"paths", "/v1/edge-cache/dangerously-delete-by-tags"}, []string{"parameters", "post"}},
		{[]string{"paths", "/v9/images"}, []string{"summary", "delete", "patch"}},
		{[]string{"components"}, []string{"schemas", "parameters", "requestBodies", "responses", "securitySchemes"}},
		{[]string{"components", "schemas"}, []string{"Target", "Body", "Tags", "SrcImages", "SrcImage", "Error", "Limit", "Quota"}},
		{[]string{"components", "requestBodies"}, []string{"DeleteBody", "Images"}},
		{[]string{"components", "responses"}, []string{"BadRequest", "PaymentRequired"}},
		{[]string{"components", "securitySchemes"}, []string{"apiKey", "bearerToken"}},
	} {
		if got := keyOrder(t, out, tc.at...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("keys at %v = %v, want %v", tc.at, got, tc.want)
		}
	}
	for _, want := range []string{
		"$ref: '#/components/requestBodies/Images'",
		"$ref: '#/components/schemas/Tags'",
		"$ref: '#/components/parameters/TeamId'",
		"$ref: '#/components/schemas/SrcImage'",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lost %s:\n%s", want, out)
		}
	}
}

// TestExtractFindsOperationsByID: an operation is found by its operationId
// wherever it is, and only the operations asked for are kept.
func TestExtractFindsOperationsByID(t *testing.T) {
	t.Parallel()
	out, err := Extract([]byte(multiOperation), []string{"invalidateBySrcImages"})
	if err != nil {
		t.Fatal(err)
	}
	doc := asJSON(t, out)
	if got := sortedKeys(dig(t, doc, "paths").(map[string]any)); !reflect.DeepEqual(got, []string{"/v9/images"}) {
		t.Errorf("paths = %v", got)
	}
	if got := sortedKeys(dig(t, doc, "paths", "/v9/images").(map[string]any)); !reflect.DeepEqual(got, []string{"patch", "summary"}) {
		t.Errorf("path item keys = %v", got)
	}
	if got := sortedKeys(dig(t, doc, "components", "schemas").(map[string]any)); !reflect.DeepEqual(got, []string{"Error", "Limit", "Quota", "SrcImage", "SrcImages"}) {
		t.Errorf("schemas = %v", got)
	}
}

func TestExtractTheReferenceGroup(t *testing.T) {
	t.Parallel()
	upstream := readFile(t, upstreamFixture(t))
	out, err := Extract(upstream, group)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	// The fixture holds exactly the group, so extraction keeps all of it.
	if got, want := asJSON(t, out), asJSON(t, upstream); !reflect.DeepEqual(got, want) {
		t.Errorf("extracted group differs from upstream's text:\n%s", out)
	}
	for _, at := range [][]string{nil, {"paths"}, {"paths", "/v1/edge-cache/dangerously-delete-by-src-images", "post"}} {
		if got, want := keyOrder(t, out, at...), keyOrder(t, upstream, at...); !reflect.DeepEqual(got, want) {
			t.Errorf("keys at %v = %v, want upstream's order %v", at, got, want)
		}
	}
}

// ddbt is the one operation most single-operation tests use.
const (
	ddbt     = "dangerouslyDeleteByTags"
	ddbtPath = "/v1/edge-cache/dangerously-delete-by-tags"
)

// TestExtractJSONValuesExact checks that values read on the JSON fast path
// come out with the same type and value, whatever they look like to YAML.
func TestExtractJSONValuesExact(t *testing.T) {
	t.Parallel()
	doc := `{"openapi":"3.0.3","info":{"title":"caf\u00e9 \/ \"q\"","version":"010"},
	"paths":{"/v1/{odd}\"]\\":{"get":{"description":"}]\\\"{[","responses":{}}},"` + ddbtPath + `":{"post":{
	  "operationId":"` + ddbt + `",
	  "description":"line one\nline two\ttab: yes # not a comment",
	  "x-values":{"int":31536000,"float":0.10,"exp":1e3,"neg":-2,"bool":false,"null":null,"br{ace\"s]":"}] \\","arr":[{"a":"]"},[],"\"",[1,[2]]],
	    "strs":["yes","no","on","null","~","1e3","0x1F","2024-01-02",": colon","- dash","","  padded  "]},
	  "responses":{"410":{"description":""}}}}}}`
	out, err := Extract([]byte(doc), []string{ddbt})
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
		return fmt.Sprintf(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{%q:{"post":%s}}}`, ddbtPath, body)
	}
	withID := func(body string) string { return op(`{"operationId":"` + ddbt + `",` + body[1:]) }
	ok := `{"responses":{"200":{"description":""}}}`
	for _, tc := range []struct {
		name string
		doc  string
		ids  []string
		is   error
		says string
	}{
		{"empty", "  \n", nil, ErrInvalidSpec, "empty document"},
		{"bad JSON", `{"openapi": "3.0.3",}`, nil, ErrInvalidSpec, "parse JSON"},
		{"bad YAML", "openapi: [3.0.3\n", nil, ErrInvalidSpec, "parse YAML"},
		{"not a mapping", "- a\n- b\n", nil, ErrInvalidSpec, "not a mapping"},
		{"swagger 2", `{"swagger":"2.0","paths":{}}`, nil, ErrInvalidSpec, `found swagger "2.0"`},
		{"no paths", `{"openapi":"3.0.3","info":{"title":"t","version":"1"}}`, nil, ErrOperationNotFound, `operationId "` + ddbt + `"`},
		{"no operationId", op(ok), nil, ErrOperationNotFound, `operationId "` + ddbt + `"`},
		{"path item not an object", fmt.Sprintf(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{%q:[]}}`, ddbtPath), nil, ErrOperationNotFound, ddbt},
		// One of the group missing is named, and only it.
		{"one of the group missing", multiOperationWithout(t, "invalidateBySrcImages"), group, ErrOperationNotFound,
			`no operation has operationId "invalidateBySrcImages"`},
		{"two missing", multiOperationWithout(t, "invalidateByTags", "dangerouslyDeleteBySrcImages"), group, ErrOperationNotFound,
			`no operation has operationId "invalidateByTags", "dangerouslyDeleteBySrcImages"`},
		{"duplicate operationId", strings.Replace(multiOperation, "operationId: listImages", "operationId: invalidateBySrcImages", 1), group, ErrInvalidSpec,
			`operationId "invalidateBySrcImages" is used twice, by GET /v9/images and PATCH /v9/images`},
		{"dangling ref", withID(`{"responses":{"200":{"$ref":"#/components/responses/Gone"}}}`), nil, ErrInvalidSpec, "#/components/responses/Gone is referenced but not defined"},
		{"external ref", withID(`{"responses":{"200":{"$ref":"common.yaml#/Ok"}}}`), nil, ErrInvalidSpec, "external $ref"},
		{"ref outside components", withID(`{"responses":{"200":{"$ref":"#/paths/x"}}}`), nil, ErrInvalidSpec, "outside #/components"},
		{"undefined security scheme", withID(`{"security":[{"nope":[]}],"responses":{"200":{"description":""}}}`), nil, ErrInvalidSpec, "securitySchemes/nope"},
		// kin-openapi's own validation: a parameter must say where it goes.
		{"invalid operation", withID(`{"parameters":[{"name":"x","schema":{"type":"string"}}],"responses":{"200":{"description":""}}}`), nil, ErrInvalidSpec, "parameter"},
		{"invalid schema", withID(`{"requestBody":{"content":{"application/json":{"schema":{"type":"strnig"}}}},"responses":{"200":{"description":""}}}`), nil, ErrInvalidSpec, "strnig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := tc.ids
			if ids == nil {
				ids = []string{ddbt}
			}
			out, err := Extract([]byte(tc.doc), ids)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Extract error = %v, want %v (output %q)", err, tc.is, out)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not mention %q", err, tc.says)
			}
		})
	}
	if _, err := Extract([]byte(multiOperation), nil); err == nil {
		t.Error("Extract with no operationIds succeeded")
	}
}

// multiOperationWithout renames the given operations' ids in multiOperation,
// so that the document stays valid but lacks them.
func multiOperationWithout(t *testing.T, ids ...string) string {
	t.Helper()
	doc := multiOperation
	for _, id := range ids {
		renamed := strings.Replace(doc, "operationId: "+id+"\n", "operationId: "+id+"Renamed\n", 1)
		if renamed == doc {
			t.Fatalf("fixture has no operationId %s", id)
		}
		doc = renamed
	}
	return doc
}

func TestValidateChecksTheOperationsAreThere(t *testing.T) {
	t.Parallel()
	doc := []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /v1/x:\n    post:\n      operationId: a\n      responses:\n        '200': {description: ok}\n")
	if err := Validate(doc, []string{"a"}); err != nil {
		t.Errorf("Validate(present) = %v", err)
	}
	err := Validate(doc, []string{"a", "b"})
	if !errors.Is(err, ErrOperationNotFound) || !strings.Contains(err.Error(), `"b"`) || strings.Contains(err.Error(), `"a"`) {
		t.Errorf("Validate(one absent) = %v, want ErrOperationNotFound naming b only", err)
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
  ` + ddbtPath + `:
    post:
      operationId: ` + ddbt + `
      responses:
        "200": *ok
`
	out, err := Extract([]byte(doc), []string{ddbt})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if strings.ContainsAny(string(out), "&*") {
		t.Errorf("output keeps anchors or aliases:\n%s", out)
	}
	if got := dig(t, asJSON(t, out), "paths", ddbtPath, "post", "responses", "200", "description"); got != "shared" {
		t.Errorf("aliased response description = %v", got)
	}
}

// largeUpstream builds a document of roughly the real upstream's size
// (about 11 MB, hundreds of operations and schemas) with the group spread
// among them, the last of it at the very end.
func largeUpstream(tb testing.TB) []byte {
	tb.Helper()
	paths := map[string]any{}
	schemas := map[string]any{}
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 40)
	ref := func(name string) map[string]any {
		return map[string]any{"200": map[string]any{
			"description": "",
			"content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + name}}},
		}}
	}
	for i := range 800 {
		name := fmt.Sprintf("Model%d", i)
		props := map[string]any{}
		for j := range 12 {
			props[fmt.Sprintf("field%d", j)] = map[string]any{"type": "string", "description": filler}
		}
		schemas[name] = map[string]any{"type": "object", "properties": props}
		paths[fmt.Sprintf("/v%d/resource/%d", i%9, i)] = map[string]any{
			"post": map[string]any{"operationId": fmt.Sprintf("op%d", i), "description": filler, "responses": ref(name)},
		}
	}
	for i, id := range Operations() {
		// encoding/json sorts keys, so a "/zz" path lands last.
		paths[fmt.Sprintf("/%s/edge-cache/%d", []string{"a", "m", "v5", "zz"}[i], i)] = map[string]any{
			"post": map[string]any{"operationId": id, "responses": ref(fmt.Sprintf("Model%d", 7+i))},
		}
	}
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
	out, err := Extract(doc, group)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	got := asJSON(t, out)
	if schemas := sortedKeys(dig(t, got, "components", "schemas").(map[string]any)); !reflect.DeepEqual(schemas, []string{"Model10", "Model7", "Model8", "Model9"}) {
		t.Errorf("schemas = %v, want Model7 to Model10", schemas)
	}
	if paths := dig(t, got, "paths").(map[string]any); len(paths) != 4 {
		t.Errorf("kept %d paths: %v", len(paths), sortedKeys(paths))
	}
}

// BenchmarkExtractLarge times extracting the group from an 11 MB document.
func BenchmarkExtractLarge(b *testing.B) {
	doc := largeUpstream(b)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Extract(doc, group); err != nil {
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
