package vault

import (
	"encoding/json"
	"testing"
	"time"
)

func FuzzParseMeta(f *testing.F) {
	m := meta{Format: 1, ID: newID(time.Unix(1700000000, 0)), Title: "t", Participants: []Participant{{Name: "a"}},
		State: stateClosed, Sync: SyncLocal, PreSkip: 312, Channels: 1,
		Segments: []segMeta{{Index: 1, SHA256: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", Size: 10, EndGranule: 48000}}}
	b, _ := json.Marshal(m)
	f.Add(b)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMeta(data)
		if err != nil {
			if m != nil {
				t.Fatal("metadata returned with an error")
			}
			return
		}
		// Whatever parses must hold its invariants and round-trip.
		if checkID(m.ID) != nil || m.sealedSamples() < 0 {
			t.Fatalf("accepted invalid metadata %+v", m)
		}
		for i, s := range m.Segments {
			if s.Index != i+1 || s.Size <= 0 {
				t.Fatalf("accepted bad segment %+v", s)
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseMeta(b); err != nil {
			t.Fatalf("re-encoded metadata does not parse: %v", err)
		}
		_ = m.summary()
	})
}

func FuzzParseIndex(f *testing.F) {
	s := Summary{ID: newID(time.Unix(1700000000, 0)), Title: "x;%|\t\n", Sync: SyncSynced, Started: time.Unix(1700000000, 5),
		Participants: []Participant{{Name: "A|B", Email: "a@b"}, {Name: "C"}}, Recovered: true}
	f.Add(encodeIndex([]Summary{s}))
	f.Add([]byte(indexMagic + "\n"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := parseIndex(data)
		if err != nil {
			return
		}
		var list []Summary
		for id, s := range ix {
			if id != s.ID || checkID(id) != nil || !s.Sync.valid() {
				t.Fatalf("accepted invalid entry %+v", s)
			}
			list = append(list, *s)
		}
		// What parses re-encodes to something that parses to the same.
		ix2, err := parseIndex(encodeIndex(list))
		if err != nil || len(ix2) != len(ix) {
			t.Fatalf("round trip failed: %v", err)
		}
		for id, s := range ix {
			s2 := ix2[id]
			if s2.Title != s.Title || !s2.Started.Equal(s.Started) || len(s2.Participants) != len(s.Participants) || s2.StopReason != s.StopReason {
				t.Fatalf("round trip changed %+v to %+v", s, s2)
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"format":1,"key_id":"0011223344556677","recipient":"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p","signing_public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","created":"x"}`))
	f.Add([]byte(`{"format":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data)
		if err == nil && (c.Format != formatVersion || len(c.KeyID) != 16) {
			t.Fatalf("accepted invalid config %+v", c)
		}
	})
}

func FuzzParseDeletions(f *testing.F) {
	f.Add([]byte(`{"format":1,"tombstones":[{"id":"01m84sh47x08b4x373xp75zq4w","deleted":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"format":1,"tombstones":[{"id":"../x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := parseDeletions(data)
		if err != nil {
			return
		}
		for _, x := range ts {
			if checkID(x.ID) != nil {
				t.Fatalf("accepted bad id %q", x.ID)
			}
		}
	})
}

func FuzzScanPages(f *testing.F) {
	fs := newFakeStream(1)
	h := fs.headers()
	f.Add(append(append(h[0], h[1]...), fs.dataPage()...))
	f.Add([]byte("OggS"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		info := newPageInfo()
		if err := scanPages(data, &info); err != nil {
			return
		}
		if len(data) > 0 && info.pages == 0 {
			t.Fatal("accepted bytes as zero pages")
		}
		if info.preSkip > 65535 || info.channels > 255 {
			t.Fatalf("out-of-range header %+v", info)
		}
	})
}

func FuzzCheckID(f *testing.F) {
	f.Add(newID(time.Now()))
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, id string) {
		if checkID(id) != nil {
			return
		}
		if len(id) != idLen {
			t.Fatalf("accepted %q", id)
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
				t.Fatalf("accepted %q", id)
			}
		}
	})
}
