package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openAPIDocument is the part of an OpenAPI 3.0 document the tests check.
type openAPIDocument struct {
	OpenAPI    string                                `json:"openapi"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		Parameters      map[string]openAPIParam    `json:"parameters"`
		Schemas         map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Security    *[]map[string][]string     `json:"security"`
	Parameters  []openAPIParam             `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
	RequestBody json.RawMessage            `json:"requestBody"`
}

func loadOpenAPI(t *testing.T) openAPIDocument {
	t.Helper()
	var doc openAPIDocument
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes fails when the route table and openapi.json
// disagree in either direction.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, d := range openAPIDrift(doc, routes) {
		t.Error(d)
	}
	// The check itself notices drift both ways.
	extra := append(slices.Clone(routes), route{method: "GET", path: "/v1/undocumented"})
	if got := openAPIDrift(doc, extra); len(got) != 1 {
		t.Errorf("drift check missed an undocumented route: %v", got)
	}
	if got := openAPIDrift(doc, routes[1:]); len(got) != 1 {
		t.Errorf("drift check missed a documented route missing from the table: %v", got)
	}
}

// openAPIDrift lists the differences between a route table and the paths
// of an OpenAPI document. Go patterns and OpenAPI paths share the {name}
// syntax, so they compare directly.
func openAPIDrift(doc openAPIDocument, table []route) []string {
	inTable := map[string]bool{}
	for _, rt := range table {
		inTable[strings.ToLower(rt.method)+" "+rt.path] = true
	}
	httpMethods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	inDoc := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			if slices.Contains(httpMethods, method) {
				inDoc[method+" "+path] = true
			}
		}
	}
	var drift []string
	for key := range inTable {
		if !inDoc[key] {
			drift = append(drift, "route "+key+" is missing from openapi.json")
		}
	}
	for key := range inDoc {
		if !inTable[key] {
			drift = append(drift, "openapi.json documents "+key+", which is not in the route table")
		}
	}
	return drift
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// TestOpenAPIOperations checks each documented operation: path parameters
// declared, security matching the route's access, errors using the Error
// schema, and bodies declared for the routes that decode one.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	if _, ok := doc.Components.SecuritySchemes["bearer"]; !ok || len(doc.Security) == 0 || doc.Security[0]["bearer"] == nil {
		t.Fatal("bearer security scheme not defined as the default")
	}
	if _, ok := doc.Components.SecuritySchemes["apiKey"]; !ok {
		t.Fatal("X-API-Key security scheme not defined")
	}
	if _, ok := doc.Components.Schemas["Error"]; !ok {
		t.Fatal("no Error schema")
	}
	resolve := func(p openAPIParam) openAPIParam {
		if p.Ref == "" {
			return p
		}
		name := strings.TrimPrefix(p.Ref, "#/components/parameters/")
		q, ok := doc.Components.Parameters[name]
		if !ok {
			t.Errorf("dangling parameter ref %q", p.Ref)
		}
		return q
	}
	opIDs := map[string]bool{}
	for _, rt := range routes {
		item := doc.Paths[rt.path]
		var op openAPIOperation
		if err := json.Unmarshal(item[strings.ToLower(rt.method)], &op); err != nil {
			t.Errorf("%s: %v", rt.pattern(), err)
			continue
		}
		if op.OperationID == "" || opIDs[op.OperationID] {
			t.Errorf("%s: missing or duplicate operationId %q", rt.pattern(), op.OperationID)
		}
		opIDs[op.OperationID] = true

		var shared []openAPIParam
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				t.Fatalf("%s parameters: %v", rt.path, err)
			}
		}
		declared := map[string]bool{}
		for _, p := range append(shared, op.Parameters...) {
			p = resolve(p)
			if p.In == "path" {
				declared[p.Name] = true
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q not declared", rt.pattern(), m[1])
			}
		}

		isPublic := op.Security != nil && len(*op.Security) == 0
		if isPublic != (rt.access == public) {
			t.Errorf("%s: documented public=%v, route table says access %v", rt.pattern(), isPublic, rt.access)
		}
		if rt.access != public {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s: authenticated route without a 401 response", rt.pattern())
			}
		}
		if _, ok := op.Responses["429"]; ok != rt.limited() {
			t.Errorf("%s: 429 documented=%v, route is rate limited=%v", rt.pattern(), ok, rt.limited())
		}
		bodyless := rt.path == "/v1/agent/leave" || rt.path == "/v1/auth/keys/rotate" ||
			strings.HasPrefix(rt.path, "/v1/cluster/nodes/") ||
			strings.HasSuffix(rt.path, "/rotate-secret") || strings.HasSuffix(rt.path, "/redeliver")
		wantBody := rt.method == "POST" && !bodyless || rt.method == "PUT" || rt.method == "PATCH"
		if (len(op.RequestBody) > 0) != wantBody {
			t.Errorf("%s: requestBody documented=%v, want %v", rt.pattern(), len(op.RequestBody) > 0, wantBody)
		}
		for code, raw := range op.Responses {
			if code[0] >= '4' && !strings.Contains(string(raw), "#/components/responses/") {
				t.Errorf("%s: %s response does not use a shared error response", rt.pattern(), code)
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	rec := h.doWith("GET", "/v1/openapi.json", "", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(OpenAPI()) {
		t.Fatal("served document differs from the embedded one")
	}
}
