package consentpage

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkPage renders a participant's page (notice in 4 languages on the
// link, English shown) straight through the handler.
func BenchmarkPage(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.PerIP = Rate{Burst: 1 << 30, PerMinute: 1 << 30} })
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	req := httptest.NewRequest("GET", lr.Slots[0].URL, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkCreateLink creates a link with 4 notice texts (each re-hashed)
// and 10 slots.
func BenchmarkCreateLink(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.MaxLinks = 1 << 30 })
	var slots []Slot
	for _, r := range []string{"a", "b", "c", "d", "e"} {
		slots = append(slots, Slot{Ref: r, Name: strings.ToUpper(r), Lang: "en"})
	}
	body, _ := json.Marshal(e.request(slots, 5))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/v1/consent-links", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer dev-a-token")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
