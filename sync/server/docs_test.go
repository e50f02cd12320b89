package server

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute keeps docs/openapi.yaml and docs/server-api.md
// true: every route the server registers is documented in both.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	api, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prose, err := os.ReadFile("../../docs/server-api.md")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`m\.HandleFunc\("([A-Z]+) ([^"]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 15 {
		t.Fatalf("found only %d routes in server.go", len(routes))
	}
	// The remote consent routes that cmd/assentd mounts on the same mux.
	pages, err := os.ReadFile("consentpage/handler.go")
	if err != nil {
		t.Fatal(err)
	}
	more := regexp.MustCompile(`"([A-Z]+) (/[^"]*)":\s+h\.`).FindAllStringSubmatch(string(pages), -1)
	if len(more) < 5 {
		t.Fatalf("found only %d routes in consentpage/handler.go", len(more))
	}
	routes = append(routes, more...)
	for _, r := range routes {
		method, path := strings.ToLower(r[1]), r[2]
		i := strings.Index(string(api), "\n  "+path+":\n")
		if i < 0 {
			t.Errorf("openapi.yaml lacks path %s", path)
			continue
		}
		rest := string(api)[i+len(path)+4:]
		if j := strings.Index(rest, "\n  /"); j >= 0 {
			rest = rest[:j]
		}
		if !strings.Contains(rest, "\n    "+method+":") {
			t.Errorf("openapi.yaml lacks %s %s", r[1], path)
		}
		short := strings.TrimSuffix(strings.Split(path, "{")[0], "/")
		if !strings.Contains(string(prose), short) {
			t.Errorf("server-api.md does not mention %s", path)
		}
	}
}
