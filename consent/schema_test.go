package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func decodeDoc(t *testing.T, b []byte) any {
	t.Helper()
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Records the session produces (open, mid-call, final, recovered) are
// valid against consent/schema/record.schema.json.
func TestProducedRecordsMatchSchema(t *testing.T) {
	key := testKey(t, 1)
	s := newTestSession(t, key, "r1")
	check := func() []byte {
		b, err := s.Record()
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaValidate(decodeDoc(t, b)); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return b
	}
	check()
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"),
		{Type: ParticipantAdded, Participant: "p1", Principal: &Principal{Name: "Piet", Email: "piet@example.nl", Lang: "nl"}},
		{Type: ConsentRequested, Participant: "p1", Notice: &NoticeRef{Lang: "fr"}},
		{Type: ConsentGiven, Participant: "p1", Method: Remote, Evidence: "sha256:abc", Notice: &NoticeRef{Lang: "fr"}},
		{Type: AgeConfirmed, Participant: "p1", Method: VerbalAttested, AttestedBy: "host"},
		{Type: RecordingRequested}} {
		must(t, s, e)
		check()
	}
	s.Admit(4800)
	saved := check()
	rec, err := Recover(saved, fakeSegs(4800), s.now(), key, s.now())
	if err != nil {
		t.Fatal(err)
	}
	if err := schemaValidate(decodeDoc(t, rec)); err != nil {
		t.Fatal(err)
	}
	must(t, s, Event{Type: RecordingStopped})
	check()
}

// The validator is driven by the schema file: changing the file changes
// what is accepted, and keywords it cannot check are refused.
func TestSchemaValidatorReadsTheSchema(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	doc := decodeDoc(t, good)
	stricter := bytes.Replace(SchemaJSON, []byte(`"minAge": {"type": "integer", "minimum": 13, "maximum": 18}`), []byte(`"minAge": {"type": "integer", "minimum": 13, "maximum": 15}`), 1)
	if bytes.Equal(stricter, SchemaJSON) {
		t.Fatal("schema text changed; update the test")
	}
	err := mustCompileSchema(stricter).validate(mustCompileSchema(stricter).root, doc, "")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "/minAge" {
		t.Fatalf("stricter schema: %v", err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "unsupported keyword \"oneOf\"") {
			t.Fatalf("unsupported keyword accepted: %v", r)
		}
	}()
	mustCompileSchema([]byte(`{"type": "object", "oneOf": []}`))
}

func TestSchemaSubsetSemantics(t *testing.T) {
	s := mustCompileSchema([]byte(`{
		"type": "object", "additionalProperties": false, "required": ["a"],
		"properties": {
			"a": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"$ref": "#/$defs/s"}},
			"n": {"type": "integer", "minimum": 1, "maximum": 3},
			"k": {"enum": ["x", 1]},
			"c": {"const": "z"}
		},
		"allOf": [{"if": {"properties": {"c": {"const": "z"}}, "required": ["c"]}, "then": {"required": ["n"]}, "else": {"required": ["k"]}}],
		"$defs": {"s": {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-zé]+$"}}
	}`))
	for in, wantPath := range map[string]string{
		`{"a": ["ab"], "k": 1}`:             "",
		`{"a": ["éé"], "c": "z", "n": 2}`:   "",
		`{"a": ["ab"]}`:                     "/",
		`{"a": ["ab"], "c": "z"}`:           "/",
		`{"a": []}`:                         "/a",
		`{"a": ["ab","ab","ab"]}`:           "/a",
		`{"a": ["a"], "k": 1}`:              "/a/0",
		`{"a": ["abcd"], "k": 1}`:           "/a/0",
		`{"a": ["AB"], "k": 1}`:             "/a/0",
		`{"a": [1], "k": 1}`:                "/a/0",
		`{"a": ["ab"], "k": 2}`:             "/k",
		`{"a": ["ab"], "k": "x", "n": 4}`:   "/n",
		`{"a": ["ab"], "k": "x", "n": 1.5}`: "/n",
		`{"a": ["ab"], "k": "x", "q": 1}`:   "/q",
		`{"a": ["ab"], "c": "y", "k": 1}`:   "/c",
		`[]`:                                "/",
	} {
		var doc any
		dec := json.NewDecoder(strings.NewReader(in))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		err := s.validate(s.root, doc, "")
		var fe *FieldError
		switch {
		case wantPath == "" && err != nil:
			t.Errorf("%s: %v", in, err)
		case wantPath != "" && (!errors.As(err, &fe) || fe.Path != wantPath):
			t.Errorf("%s: %v, want error at %s", in, err, wantPath)
		}
	}
}
