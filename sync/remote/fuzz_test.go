package remote

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/assent-app/assent/sync/server/consentpage"
)

func FuzzReadEvents(f *testing.F) {
	f.Add("id: 1\nevent: answer\ndata: {\"seq\":1}\n\n")
	f.Add(": ping\r\n\r\nevent: end\rdata: {}\r\r")
	f.Add("data\ndata:\n\n\ufeffdata: x")
	f.Fuzz(func(t *testing.T, in string) {
		n := 0
		err := ReadEvents(strings.NewReader(in), func(e Event) error {
			n++
			if strings.ContainsAny(e.Type, "\r\n") || strings.ContainsAny(e.ID, "\r\n\x00") {
				t.Fatalf("event fields hold line breaks: %+v", e)
			}
			// What the device does with an answer must not panic either.
			var a consentpage.Answer
			_ = json.Unmarshal([]byte(e.Data), &a)
			return nil
		})
		if n > len(in) {
			t.Fatalf("%d events from %d bytes", n, len(in))
		}
		_ = err
	})
}
