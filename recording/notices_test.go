package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/assent-app/assent/consent"
)

// noticeStore is a memStore that also keeps the notice texts and notes
// whether they arrived before the first record.
type noticeStore struct {
	memStore
	texts        map[string][]byte
	beforeRecord bool
}

func (s *noticeStore) StoreNotices(texts [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeRecord = len(s.records) == 0
	s.texts = map[string][]byte{}
	for _, t := range texts {
		sum := sha256.Sum256(t)
		s.texts[hex.EncodeToString(sum[:])] = t
	}
	return nil
}

// Issue 10 item 5: Start hands the store every notice text the record
// cites, before the first record is saved.
func TestStartStoresNoticeTextsBeforeTheRecord(t *testing.T) {
	st := &noticeStore{}
	c, _ := newCall(t, nil, st)
	_ = c
	if !st.beforeRecord {
		t.Fatal("the notice texts were not stored before the first record")
	}
	rec, err := consent.Parse(st.last())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Notice.Texts) == 0 {
		t.Fatal("the record cites no notice text")
	}
	for _, nt := range rec.Notice.Texts {
		if st.texts[nt.SHA256] == nil {
			t.Fatalf("the %s text the record cites was not stored", nt.Lang)
		}
	}
}
