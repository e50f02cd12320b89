package consent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// rechain recomputes every hash of r and signs it with key, as an attacker
// holding key (or a buggy device) could.
func rechain(t testing.TB, r *Record, key ed25519.PrivateKey) []byte {
	t.Helper()
	r.DeviceKeyID = KeyID(key.Public().(ed25519.PublicKey))
	prev := r.HeaderHash()
	for i := range r.Events {
		r.Events[i].Prev = prev
		r.Events[i].Hash = EventHash(&r.Events[i])
		prev = r.Events[i].Hash
	}
	if err := r.sign(key); err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parsed(t testing.TB, b []byte) *Record {
	t.Helper()
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantEventErr(t *testing.T, err error, sentinel error, index int) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want %v", err, sentinel)
	}
	var ee *EventError
	if !errors.As(err, &ee) || ee.Index != index {
		t.Fatalf("error %v should name event %d", err, index)
	}
}

func TestBadInputGetsClearError_Malformed(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	pub := key.Public().(ed25519.PublicKey)
	for name, in := range map[string][]byte{
		"empty":         nil,
		"not json":      []byte("hello"),
		"array":         []byte("[]"),
		"trailing":      append(append([]byte{}, good...), []byte(" {}")...),
		"truncated":     good[:len(good)/2],
		"bad utf8 name": bytes.Replace(good, []byte("Piet Jansen"), []byte("Piet \xff"), 1),
	} {
		_, err := Verify(in, pub)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSchema) {
			t.Errorf("%s: %v, want ErrMalformed or ErrSchema", name, err)
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Msg == "" {
			t.Errorf("%s: error %v has no location", name, err)
		}
	}
	_, err := Verify(good[:len(good)/2], pub)
	if !strings.Contains(err.Error(), "truncated") && !strings.Contains(err.Error(), "unexpected end") {
		t.Errorf("truncated record error does not say so: %v", err)
	}
}

func TestBadInputGetsClearError_SchemaViolations(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	pub := key.Public().(ed25519.PublicKey)
	cases := []struct {
		name, from, to, path string
	}{
		{"unknown field", `"format":`, `"extra": 1, "format":`, "/extra"},
		{"bad enum", `"type": "ConsentGiven"`, `"type": "ConsentAssumed"`, "/events/3/type"},
		{"bad method", `"method": "on-screen"`, `"method": "implied"`, "/events/3/method"},
		{"min age out of range", `"minAge": 16,`, `"minAge": 12,`, "/minAge"},
		{"negative offset", `"offset": 0`, `"offset": -5`, "/events/0/offset"},
		{"offset not integer", `"offset": 0`, `"offset": 0.5`, "/events/0/offset"},
		{"bad time", `"createdAt": "2026-03-01T10:00:00.001000000Z"`, `"createdAt": "yesterday"`, "/createdAt"},
		{"missing principal", `"principal": {`, `"principalX": {`, "/events/0/principalX"},
	}
	for _, c := range cases {
		in := bytes.Replace(good, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(in, good) {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		_, err := Verify(in, pub)
		var fe *FieldError
		if !errors.Is(err, ErrSchema) || !errors.As(err, &fe) || fe.Path != c.path {
			t.Errorf("%s: %v, want ErrSchema at %s", c.name, err, c.path)
		}
	}
	// Removing every required top-level field is caught by name. The rest
	// of the record keeps its order (canonical form, strict.go): a record
	// re-encoded with sorted keys would be refused as non-canonical before
	// a missing optional field could show.
	for _, k := range topLevelKeys(t, good) {
		b := withoutTopLevelKey(t, good, k)
		_, err := Verify(b, pub)
		if k == "facts" { // optional (older records have none), but bound by the header hash
			if !errors.Is(err, ErrChain) {
				t.Errorf("without facts: %v, want a broken chain", err)
			}
			continue
		}
		if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), `"`+k+`"`) {
			t.Errorf("without %s: %v", k, err)
		}
	}
}

// topLevelKeys returns the keys of the JSON object b, in order.
func topLevelKeys(t testing.TB, b []byte) []string {
	t.Helper()
	var keys []string
	eachTopLevel(t, b, func(k string, _ json.RawMessage) { keys = append(keys, k) })
	return keys
}

// withoutTopLevelKey returns the JSON object b without key k, every other
// member unchanged and in its place.
func withoutTopLevelKey(t testing.TB, b []byte, k string) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteByte('{')
	eachTopLevel(t, b, func(name string, v json.RawMessage) {
		if name == k {
			return
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		kb, _ := json.Marshal(name)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(v)
	})
	out.WriteByte('}')
	return out.Bytes()
}

func eachTopLevel(t testing.TB, b []byte, f func(string, json.RawMessage)) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %v %v", tok, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		f(tok.(string), v)
	}
}

func TestBadInputGetsClearError_Reordered(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	r := parsed(t, good)
	r.Events[3], r.Events[4] = r.Events[4], r.Events[3]
	b, _ := r.Marshal()
	_, err := Verify(b, key.Public().(ed25519.PublicKey))
	wantEventErr(t, err, ErrSequence, 3)

	// Reordered and renumbered, so only the chain can tell.
	r.Events[3].Seq, r.Events[4].Seq = 3, 4
	b, _ = r.Marshal()
	_, err = Verify(b, key.Public().(ed25519.PublicKey))
	wantEventErr(t, err, ErrChain, 3)
}

func TestBadInputGetsClearError_Truncated(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	pub := key.Public().(ed25519.PublicKey)
	r := parsed(t, good)
	r.Events = r.Events[:len(r.Events)-2] // drop RecordingStopped and the audio before it
	b, _ := r.Marshal()
	if _, err := Verify(b, pub); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated events: %v", err)
	}
	r = parsed(t, good)
	r.Events = r.Events[1:]
	b, _ = r.Marshal()
	_, err := Verify(b, pub)
	wantEventErr(t, err, ErrSequence, 0)
}

func TestBadInputGetsClearError_Tampered(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	pub := key.Public().(ed25519.PublicKey)

	// Change a name inside event 1.
	r := parsed(t, good)
	r.Events[1].Principal.Name = "Someone Else"
	b, _ := r.Marshal()
	_, err := Verify(b, pub)
	wantEventErr(t, err, ErrChain, 1)

	// Change the notice hash in the header: event 0 no longer chains.
	r = parsed(t, good)
	r.Notice.Texts[0].SHA256 = strings.Repeat("0", 64)
	b, _ = r.Marshal()
	_, err = Verify(b, pub)
	wantEventErr(t, err, ErrChain, 0)

	// Change the retention and fix the whole chain, but not the signature.
	r = parsed(t, good)
	r.RetentionMonths = 240
	prev := r.HeaderHash()
	for i := range r.Events {
		r.Events[i].Prev = prev
		r.Events[i].Hash = EventHash(&r.Events[i])
		prev = r.Events[i].Hash
	}
	b, _ = r.Marshal()
	if _, err := Verify(b, pub); !errors.Is(err, ErrSignature) {
		t.Fatalf("rechained without key: %v", err)
	}

	// Flip one bit of the signature.
	r = parsed(t, good)
	sig := []byte(r.Signature.Value)
	if sig[5] == 'A' { // change one character to another base64 digit (a bit flip could leave the alphabet)
		sig[5] = 'B'
	} else {
		sig[5] = 'A'
	}
	r.Signature.Value = string(sig)
	b, _ = r.Marshal()
	if _, err := Verify(b, pub); !errors.Is(err, ErrSignature) {
		t.Fatalf("flipped signature: %v", err)
	}
}

func TestBadInputGetsClearError_ResignedWithOtherKey(t *testing.T) {
	key, evil := testKey(t, 1), testKey(t, 66)
	_, good := happy(t, key, "r1")
	pub := key.Public().(ed25519.PublicKey)

	r := parsed(t, good)
	r.Events[1].Principal.Name = "Forged"
	b := rechain(t, r, evil)
	if _, err := Verify(b, pub); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("re-signed with another key: %v", err)
	}
	// Keep the device key id but sign with the other key.
	r = parsed(t, good)
	r.Events[1].Principal.Name = "Forged"
	prev := r.HeaderHash()
	for i := range r.Events {
		r.Events[i].Prev = prev
		r.Events[i].Hash = EventHash(&r.Events[i])
		prev = r.Events[i].Hash
	}
	if err := r.sign(evil); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("signing with a key that is not the record's: %v", err)
	}
	r.Signature = &Signature{Alg: "Ed25519", KeyID: r.DeviceKeyID, Count: len(r.Events), Head: r.Head()}
	r.Signature.Value = b64(ed25519.Sign(evil, signedMessage(r.RecordID, len(r.Events), r.Head())))
	b, _ = r.Marshal()
	if _, err := Verify(b, pub); !errors.Is(err, ErrSignature) {
		t.Fatalf("signature by another key under the right key id: %v", err)
	}
}

func TestBadInputGetsClearError_CrossRecordingReplay(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	_, a := happy(t, key, "rec-A")
	_, b := happy(t, key, "rec-B")

	// The whole record of A offered for B.
	p, err := Verify(a, pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Expect("rec-B"); !errors.Is(err, ErrWrongRecording) {
		t.Fatalf("record of A accepted for B: %v", err)
	}
	if err := p.Expect("rec-A"); err != nil {
		t.Fatal(err)
	}

	// A's events and signature under B's header.
	ra, rb := parsed(t, a), parsed(t, b)
	rb.Events, rb.Signature = ra.Events, ra.Signature
	out, _ := rb.Marshal()
	_, err = Verify(out, pub)
	wantEventErr(t, err, ErrChain, 0)

	// Only the recording id changed.
	ra = parsed(t, a)
	ra.RecordingID = "rec-B"
	out, _ = ra.Marshal()
	_, err = Verify(out, pub)
	wantEventErr(t, err, ErrChain, 0)
}

func TestBadInputGetsClearError_TimeAndOffsets(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	pub := key.Public().(ed25519.PublicKey)

	r := parsed(t, good)
	r.Events[5].Time = "2026-02-01T10:00:00.000000000Z"
	_, err := Verify(rechain(t, r, key), pub)
	wantEventErr(t, err, ErrTime, 5)

	r = parsed(t, good)
	n := len(r.Events)
	r.Events[n-1].Offset = 10 // stop before audio the record admits
	r.Events[n-2].Offset = 20
	_, err = Verify(rechain(t, r, key), pub)
	wantEventErr(t, err, ErrOffset, n-1)
}

func TestBadInputGetsClearError_IllegalEvents(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	_, good := happy(t, key, "r1")

	// Consent for a participant who was never added.
	r := parsed(t, good)
	r.Events[6].Participant = "ghost"
	_, err := Verify(rechain(t, r, key), pub)
	wantEventErr(t, err, ErrTransition, 6)

	// Consent to a notice text of another version.
	r = parsed(t, good)
	r.Events[6].Notice.Version = "2"
	_, err = Verify(rechain(t, r, key), pub)
	wantEventErr(t, err, ErrNoticeMismatch, 6)

	// Age confirmed for a lower minimum than the record demands.
	r = parsed(t, good)
	r.Events[7].MinAge = 13
	_, err = Verify(rechain(t, r, key), pub)
	wantEventErr(t, err, ErrTransition, 7)

	// An event after RecordingStopped.
	r = parsed(t, good)
	last := r.Events[len(r.Events)-1]
	last.Seq++
	last.Type = RecordingRequested
	r.Events = append(r.Events, last)
	_, err = Verify(rechain(t, r, key), pub)
	wantEventErr(t, err, ErrFinal, len(r.Events)-1)
}

// Errors read as sentences that say what to do, for dialogs and the CLI.
func TestBadInputGetsClearError_SessionMisuse(t *testing.T) {
	key := testKey(t, 1)
	s := newTestSession(t, key, "r1")
	for _, c := range []struct {
		e    Event
		want error
		text string
	}{
		{give("nobody"), ErrTransition, "add the participant first"},
		{add("p1", "", "en"), ErrTransition, "needs a name"},
		{add("p1", "Ann", "es"), ErrNoNotice, "available: [de en fr nl]"},
		{add("bad id!", "Ann", "en"), ErrTransition, "participant id"},
		{Event{Type: RecordingStarted}, ErrTransition, "appended by the session"},
		{Event{Type: RecordingResumed}, ErrTransition, "resume needs a paused recording"},
	} {
		_, err := s.Apply(c.e)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %v saying %q", c.e.Type, err, c.want, c.text)
		}
	}
	if st := s.State(); st.Seq != 0 {
		t.Fatalf("rejected events left %d events in the record", st.Seq)
	}
	if _, err := NewSession(Config{RecordingID: "r", Notices: testSet(t)}); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "keyring") {
		t.Fatalf("no signer: %v", err)
	}
	if _, err := NewSession(Config{RecordingID: "../x", Notices: testSet(t), Signer: key}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("bad recording id: %v", err)
	}
}
