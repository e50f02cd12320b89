package consent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// A signed record with a key named twice is refused: the decoder would keep
// the last value while the stored file also shows the first, so one proof
// could be read two ways.
func TestBadInputGetsClearError_DuplicateKeys(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "dup")
	pub := key.Public().(ed25519.PublicKey)
	if _, err := Verify(good, pub); err != nil {
		t.Fatalf("the good record must verify: %v", err)
	}
	cases := map[string][]byte{
		// a second, different retention after the signed one
		"header": bytes.Replace(good, []byte(`"retentionMonths": 36,`), []byte(`"retentionMonths": 36, "retentionMonths": 240,`), 1),
		// a second principal e-mail inside an event
		"nested": bytes.Replace(good, []byte(`"lang": "en"`), []byte(`"lang": "en", "lang": "nl"`), 1),
		// same value twice is still two keys
		"same value": bytes.Replace(good, []byte(`"format": "`+Format+`",`), []byte(`"format": "`+Format+`", "format": "`+Format+`",`), 1),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(b, good) {
				t.Fatal("the test did not change the record")
			}
			_, err := Verify(b, pub)
			var fe *FieldError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) || !strings.Contains(fe.Msg, "appears twice") {
				t.Fatalf("want a duplicate-key ErrMalformed naming the key, got %v", err)
			}
		})
	}
}

// Only the encoding the app writes is accepted, with or without whitespace.
func TestBadInputGetsClearError_NonCanonical(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "canon")
	pub := key.Public().(ed25519.PublicKey)

	var compact bytes.Buffer
	if err := json.Compact(&compact, good); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(compact.Bytes(), pub); err != nil {
		t.Fatalf("a compacted record (as sent inside a request) must verify: %v", err)
	}

	var m map[string]any // re-encoding through a map sorts the keys
	json.Unmarshal(good, &m)
	sorted, _ := json.Marshal(m)
	cases := map[string][]byte{
		"keys reordered":     sorted,
		"number exponent":    bytes.Replace(good, []byte(`"retentionMonths": 36`), []byte(`"retentionMonths": 3.6e1`), 1),
		"escaped letter":     bytes.Replace(good, []byte(`"format": "assent`), []byte(`"format": "\u0061ssent`), 1),
		"explicit null":      bytes.Replace(good, []byte(`"type": "RecordingRequested",`), []byte(`"type": "RecordingRequested", "principal": null,`), 1),
		"empty omitted item": bytes.Replace(good, []byte(`"seq": 1,`), []byte(`"seq": 1, "reason": "",`), 1),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(b, good) {
				t.Fatal("the test did not change the record")
			}
			_, err := Parse(b)
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSchema) {
				t.Fatalf("want ErrMalformed or ErrSchema, got %v", err)
			}
			if err != nil && errors.Is(err, ErrMalformed) && !strings.Contains(err.Error(), "canonical") {
				t.Fatalf("the error must say the record is not canonical: %v", err)
			}
		})
	}
}

// FuzzStrictJSON: the strict checks never panic; whatever Parse accepts has
// no duplicate key and is byte-identical (modulo whitespace) to its
// re-encoding, so the stored bytes are the signed facts.
func FuzzStrictJSON(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"":1,"":2}`))
	f.Add([]byte(`[{"a":{"b":[1,{"c":1,"c":1}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dupErr := noDuplicateKeys(data)
		r, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSchema) {
				t.Fatalf("Parse error without a sentinel: %v", err)
			}
			return
		}
		if dupErr != nil {
			t.Fatalf("Parse accepted a record with a duplicate key: %v", dupErr)
		}
		want, _ := json.Marshal(r)
		var got bytes.Buffer
		if err := json.Compact(&got, data); err != nil || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("Parse accepted a non-canonical record:\n%s\nwant\n%s", got.Bytes(), want)
		}
	})
}
