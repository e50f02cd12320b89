package consent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// checkStrict rejects what encoding/json accepts silently but a signed,
// stored proof must not hold:
//
//   - duplicate object keys: the decoder keeps the last value, while another
//     reader (or a person reading the stored file) may take the first, so the
//     same bytes would prove two different things;
//   - any encoding other than the canonical one, which is what
//     [Record.Marshal] writes, up to insignificant whitespace (indentation,
//     or none at all as when a record travels compacted inside a request):
//     the same key order, no extra or explicit-null optional fields, numbers
//     without exponents or fractions, strings escaped as encoding/json
//     escapes them.
//
// So a stored record says exactly what its hashes and signature cover, and a
// record re-encoded by any tool is refused instead of silently normalised.
// r is data decoded.
func checkStrict(data []byte, r *Record) error {
	if err := noDuplicateKeys(data); err != nil {
		return err
	}
	want, err := json.Marshal(r)
	if err != nil {
		return &FieldError{Path: "/", Msg: err.Error(), Err: ErrMalformed}
	}
	var got bytes.Buffer
	if err := json.Compact(&got, data); err != nil {
		return &FieldError{Path: "/", Msg: err.Error(), Err: ErrMalformed}
	}
	if bytes.Equal(got.Bytes(), want) {
		return nil
	}
	g := got.Bytes()
	i := 0
	for i < len(g) && i < len(want) && g[i] == want[i] {
		i++
	}
	near := func(b []byte) string {
		lo, hi := max(0, i-24), min(len(b), i+24)
		return strconv.Quote(string(b[lo:hi]))
	}
	return &FieldError{Path: "/", Err: ErrMalformed, Msg: fmt.Sprintf(
		"the record is not in canonical form (as the app writes it): near %s, canonical is %s; "+
			"records must not be re-encoded or edited, send the file the device wrote", near(g), near(want))}
}

// noDuplicateKeys walks the JSON tokens and reports the first object that
// names a key twice, with its path.
func noDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  string // last key (objects) awaiting its value
		want bool   // an object's next string token is a key
		idx  int    // next index (arrays)
		path string
	}
	var stack []*frame
	path := func() string {
		if len(stack) == 0 {
			return "/"
		}
		return stack[len(stack)-1].path
	}
	// child is the path of the value about to be read in the top frame.
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.obj {
			return f.path + "/" + f.key
		}
		return f.path + "/" + strconv.Itoa(f.idx)
	}
	// consumed marks that the top frame's pending value was read.
	consumed := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.obj {
			f.want = true
		} else {
			f.idx++
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &FieldError{Path: path(), Msg: err.Error(), Err: ErrMalformed}
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{obj: t == '{', want: t == '{', keys: map[string]bool{}, path: child()})
			case '}', ']':
				stack = stack[:len(stack)-1]
				consumed()
			}
		case string:
			if top != nil && top.obj && top.want {
				if top.keys[t] {
					return &FieldError{Path: top.path + "/" + t, Msg: fmt.Sprintf("key %q appears twice in one object; a record names each field once", t), Err: ErrMalformed}
				}
				top.keys[t] = true
				top.key, top.want = t, false
				continue
			}
			consumed()
		default:
			consumed()
		}
	}
}
