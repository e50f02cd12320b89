package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	gosync "sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Every response the API tests of this package get from a real server is
// validated against docs/openapi.yaml (loaded and checked with kin-openapi):
// its status must be documented for the route, its headers and JSON body
// must match. TestMain fails the run if any response does not.

type oaState struct {
	router routers.Router
	mu     gosync.Mutex
	bad    map[string]bool
	n      int
}

var oa oaState

func loadOpenAPI() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromFile("../../docs/openapi.yaml")
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml does not load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml is not valid OpenAPI: %w", err)
	}
	return gorillamux.NewRouter(doc)
}

type validatingTransport struct{ next http.RoundTripper }

func (v validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(req)
	if err != nil || oa.router == nil {
		return resp, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A stream (consent link events) ends only when the link does:
		// reading it whole here would hold the caller until then. Its
		// status and headers are checked; its body reaches the caller as
		// it arrives.
		validateResponse(req, resp, nil)
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	validateResponse(req, resp, body)
	return resp, nil
}

func validateResponse(req *http.Request, resp *http.Response, body []byte) {
	p := req.URL.Path
	if !strings.HasPrefix(p, "/v1/") && p != "/healthz" && p != "/metrics" {
		return
	}
	// The server answers paths and methods the API does not have with
	// not-found / method-not-allowed from its fallback: not routes to check.
	if (resp.StatusCode == 404 || resp.StatusCode == 405) && (bytes.Contains(body, []byte("problem/not-found")) || bytes.Contains(body, []byte("problem/method-not-allowed"))) {
		return
	}
	probe := req.Clone(context.Background())
	probe.URL.Scheme, probe.URL.Host, probe.Host = "https", "assentd.example.org", "assentd.example.org"
	probe.Body = http.NoBody
	what := req.Method + " " + p + " → " + fmt.Sprint(resp.StatusCode)
	route, params, err := oa.router.FindRoute(probe)
	if err != nil {
		oa.fail(what, "no route in openapi.yaml: "+err.Error())
		return
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	ct := resp.Header.Get("Content-Type")
	if !strings.Contains(ct, "json") || req.Method == http.MethodHead {
		opts.ExcludeResponseBody = true
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts},
		Status:                 resp.StatusCode, Header: resp.Header, Options: opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "\n"); i > 0 {
			msg = msg[:i]
		}
		oa.fail(what, msg)
		return
	}
	oa.mu.Lock()
	oa.n++
	oa.mu.Unlock()
}

func (o *oaState) fail(what, why string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bad == nil {
		o.bad = map[string]bool{}
	}
	o.bad[what+": "+why] = true
}

func TestMain(m *testing.M) {
	r, err := loadOpenAPI()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	oa.router = r
	http.DefaultTransport = validatingTransport{next: http.DefaultTransport}
	code := m.Run()
	if len(oa.bad) > 0 {
		var lines []string
		for k := range oa.bad {
			lines = append(lines, k)
		}
		sort.Strings(lines)
		fmt.Fprintf(os.Stderr, "FAIL: %d kinds of response do not match docs/openapi.yaml:\n  %s\n", len(lines), strings.Join(lines, "\n  "))
		code = 1
	} else if code == 0 && oa.n > 0 {
		fmt.Fprintf(os.Stderr, "openapi: %d responses matched docs/openapi.yaml\n", oa.n)
	}
	os.Exit(code)
}

// TestOpenAPIIsValid loads docs/openapi.yaml with kin-openapi.
func TestOpenAPIIsValid(t *testing.T) {
	if _, err := loadOpenAPI(); err != nil {
		t.Fatal(err)
	}
}
