package vault

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The index (index.age, decrypted) is a line-based text format chosen for
// speed: opening a library of 10,000 recordings must take < 300 ms, and
// JSON decoding alone took most of that on a busy 2-core machine.
//
//	assent-index 1
//	<id> TAB <started ns> TAB <duration ns> TAB <size> TAB <segments> TAB
//	  <sync> TAB <synced-at ns> TAB <flags> TAB <stop reason> TAB <title> TAB <participants>
//
// One line per recording, "\n" terminated. Times are Unix nanoseconds (0 =
// unset). flags holds "r" (recovered) and/or "p" (in progress), or "-".
// participants is name;email pairs joined by "|". Text fields escape
// % TAB LF CR ; | as %25 %09 %0A %0D %3B %7C. See docs/vault.md.
const indexMagic = "assent-index 1"

var indexEscaper = strings.NewReplacer("%", "%25", "\t", "%09", "\n", "%0A", "\r", "%0D", ";", "%3B", "|", "%7C")

func escField(s string) string {
	if !strings.ContainsAny(s, "%\t\n\r;|") {
		return s
	}
	return indexEscaper.Replace(s)
}

func unescField(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q", s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func timeNS(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func encodeIndex(list []Summary) []byte {
	var b bytes.Buffer
	b.Grow(len(list) * 160)
	b.WriteString(indexMagic + "\n")
	for _, s := range list {
		flags := ""
		if s.Recovered {
			flags += "r"
		}
		if s.InProgress {
			flags += "p"
		}
		if flags == "" {
			flags = "-"
		}
		var ps []string
		for _, p := range s.Participants {
			ps = append(ps, escField(p.Name)+";"+escField(p.Email))
		}
		fmt.Fprintf(&b, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.ID, timeNS(s.Started), int64(s.Duration), s.Size, s.Segments, s.Sync, timeNS(s.SyncedAt),
			flags, escField(s.StopReason), escField(s.Title), strings.Join(ps, "|"))
	}
	return b.Bytes()
}

func parseIndex(data []byte) (map[string]*Summary, error) {
	rest, ok := bytes.CutPrefix(data, []byte(indexMagic+"\n"))
	if !ok {
		return nil, fmt.Errorf("index does not start with %q (unknown format)", indexMagic)
	}
	n := bytes.Count(rest, []byte{'\n'})
	out := make(map[string]*Summary, n)
	all := make([]Summary, 0, n) // one allocation for all entries
	line := 1
	for len(rest) > 0 {
		line++
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("index line %d is not terminated (truncated file)", line)
		}
		l := string(rest[:nl])
		rest = rest[nl+1:]
		s, err := parseIndexLine(l)
		if err != nil {
			return nil, fmt.Errorf("index line %d: %v", line, err)
		}
		if _, dup := out[s.ID]; dup {
			return nil, fmt.Errorf("index lists recording %s twice", s.ID)
		}
		all = append(all, s)
		out[s.ID] = &all[len(all)-1]
	}
	return out, nil
}

func parseIndexLine(l string) (Summary, error) {
	var f [11]string
	for i := 0; i < 10; i++ {
		tab := strings.IndexByte(l, '\t')
		if tab < 0 {
			return Summary{}, fmt.Errorf("has %d fields, want 11", i+1)
		}
		f[i], l = l[:tab], l[tab+1:]
	}
	f[10] = l
	if strings.IndexByte(l, '\t') >= 0 {
		return Summary{}, fmt.Errorf("has more than 11 fields")
	}
	var s Summary
	var err error
	if err = checkID(f[0]); err != nil {
		return s, err
	}
	s.ID = f[0]
	num := func(field string, name string) int64 {
		if err != nil {
			return 0
		}
		var n int64
		n, err = strconv.ParseInt(field, 10, 64)
		if err == nil && n < 0 {
			err = fmt.Errorf("negative %s", name)
		}
		if err != nil {
			err = fmt.Errorf("bad %s: %v", name, err)
		}
		return n
	}
	ts := func(field, name string) time.Time {
		n := num(field, name)
		if n == 0 {
			return time.Time{}
		}
		return time.Unix(0, n).UTC()
	}
	s.Started = ts(f[1], "start time")
	s.Duration = time.Duration(num(f[2], "duration"))
	s.Size = num(f[3], "size")
	segs := num(f[4], "segment count")
	s.SyncedAt = ts(f[6], "sync time")
	if err != nil {
		return s, err
	}
	if segs > 1<<30 {
		return s, fmt.Errorf("segment count out of range")
	}
	s.Segments = int(segs)
	s.Sync = SyncState(f[5])
	if !s.Sync.valid() {
		return s, fmt.Errorf("unknown sync state %q", clip(f[5]))
	}
	switch f[7] {
	case "-":
	case "r":
		s.Recovered = true
	case "p":
		s.InProgress = true
	case "rp":
		s.Recovered, s.InProgress = true, true
	default:
		return s, fmt.Errorf("unknown flags %q", clip(f[7]))
	}
	if s.StopReason, err = unescField(f[8]); err != nil {
		return s, fmt.Errorf("stop reason: %v", err)
	}
	if s.Title, err = unescField(f[9]); err != nil {
		return s, fmt.Errorf("title: %v", err)
	}
	s.Participants = []Participant{}
	if f[10] != "" {
		for _, p := range strings.Split(f[10], "|") {
			name, email, ok := strings.Cut(p, ";")
			if !ok {
				return s, fmt.Errorf("participant %q lacks the ; separator", clip(p))
			}
			var pp Participant
			if pp.Name, err = unescField(name); err == nil {
				pp.Email, err = unescField(email)
			}
			if err != nil {
				return s, fmt.Errorf("participant: %v", err)
			}
			s.Participants = append(s.Participants, pp)
		}
	}
	return s, nil
}
