package consent

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SchemaJSON is the JSON Schema (draft 2020-12) of a consent record,
// consent/schema/record.schema.json. Parse and Verify validate against it.
//
//go:embed schema/record.schema.json
var SchemaJSON []byte

// The validator below implements the subset of JSON Schema the record
// schema uses; loading a schema with any other keyword panics, so the
// schema file cannot silently ask for a check that is not made.
var recordSchema = mustCompileSchema(SchemaJSON)

type jsonSchema struct {
	root  map[string]any
	res   map[string]*regexp.Regexp
	known map[string]bool
}

var schemaKeywords = []string{"$schema", "$id", "title", "description", "$defs", "$ref", "type", "const", "enum",
	"required", "properties", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength",
	"pattern", "minimum", "maximum", "allOf", "if", "then", "else"}

func mustCompileSchema(b []byte) *jsonSchema {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		panic("consent: record schema is not JSON: " + err.Error())
	}
	s := &jsonSchema{root: root, res: map[string]*regexp.Regexp{}, known: map[string]bool{}}
	for _, k := range schemaKeywords {
		s.known[k] = true
	}
	s.check(root, "#")
	return s
}

// check walks the schema once, compiling patterns and rejecting keywords
// the validator does not implement.
func (s *jsonSchema) check(node map[string]any, at string) {
	for k, v := range node {
		if !s.known[k] {
			panic(fmt.Sprintf("consent: record schema uses unsupported keyword %q at %s", k, at))
		}
		switch k {
		case "pattern":
			s.res[v.(string)] = regexp.MustCompile(v.(string))
		case "$defs", "properties":
			for name, sub := range v.(map[string]any) {
				s.check(sub.(map[string]any), at+"/"+k+"/"+name)
			}
		case "items", "if", "then", "else":
			s.check(v.(map[string]any), at+"/"+k)
		case "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				s.check(m, at+"/"+k)
			}
		case "allOf":
			for i, sub := range v.([]any) {
				s.check(sub.(map[string]any), fmt.Sprintf("%s/allOf/%d", at, i))
			}
		case "$ref":
			s.resolve(v.(string))
		}
	}
}

func (s *jsonSchema) resolve(ref string) map[string]any {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		panic("consent: record schema $ref must be #/$defs/<name>, got " + ref)
	}
	defs, _ := s.root["$defs"].(map[string]any)
	d, ok := defs[name].(map[string]any)
	if !ok {
		panic("consent: record schema $ref to missing definition " + ref)
	}
	return d
}

func schemaValidate(doc any) error {
	return recordSchema.validate(recordSchema.root, doc, "")
}

// jsonPath is a JSON pointer built only when an error needs it.
type jsonPath struct {
	parent *jsonPath
	key    string
	index  int // used when key is ""
}

func (p *jsonPath) String() string {
	if p == nil {
		return ""
	}
	if p.key != "" || p.index < 0 {
		return p.parent.String() + "/" + p.key
	}
	return p.parent.String() + "/" + strconv.Itoa(p.index)
}

func schemaErr(path, format string, a ...any) error {
	if path == "" {
		path = "/"
	}
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, a...), Err: ErrSchema}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func (s *jsonSchema) validate(sc map[string]any, v any, root string) error {
	return s.walk(sc, v, nil, false)
}

// errQuiet is returned instead of a formatted error while evaluating an
// "if" condition, whose failure is not an error.
var errQuiet = &FieldError{Path: "/", Msg: "condition not met", Err: ErrSchema}

func (s *jsonSchema) walk(sc map[string]any, v any, at *jsonPath, quiet bool) error {
	if ref, ok := sc["$ref"].(string); ok {
		if err := s.walk(s.resolve(ref), v, at, quiet); err != nil {
			return err
		}
	}
	if t, ok := sc["type"].(string); ok {
		got := jsonType(v)
		if got != t && !(t == "number" && got == "integer") {
			return s.fail(quiet, at, "want %s, got %s", t, got)
		}
	}
	if c, ok := sc["const"]; ok && !jsonEqual(c, v) {
		return s.fail(quiet, at, "want %v", c)
	}
	if en, ok := sc["enum"].([]any); ok {
		found := false
		for _, c := range en {
			found = found || jsonEqual(c, v)
		}
		if !found {
			return s.fail(quiet, at, "%v is not one of %v", v, en)
		}
	}
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if !utf8.ValidString(x) {
			return s.fail(quiet, at, "not valid UTF-8")
		}
		if m, ok := num(sc["minLength"]); ok && int64(n) < m {
			return s.fail(quiet, at, "shorter than %d characters", m)
		}
		if m, ok := num(sc["maxLength"]); ok && int64(n) > m {
			return s.fail(quiet, at, "longer than %d characters", m)
		}
		if p, ok := sc["pattern"].(string); ok && !s.res[p].MatchString(x) {
			return s.fail(quiet, at, "value (%d characters, not shown) does not match %s", n, p)
		}
	case json.Number:
		i, err := strconv.ParseInt(x.String(), 10, 64)
		if err == nil {
			if m, ok := num(sc["minimum"]); ok && i < m {
				return s.fail(quiet, at, "%d is below the minimum %d", i, m)
			}
			if m, ok := num(sc["maximum"]); ok && i > m {
				return s.fail(quiet, at, "%d is above the maximum %d", i, m)
			}
		}
	case []any:
		if m, ok := num(sc["minItems"]); ok && int64(len(x)) < m {
			return s.fail(quiet, at, "fewer than %d items", m)
		}
		if m, ok := num(sc["maxItems"]); ok && int64(len(x)) > m {
			return s.fail(quiet, at, "more than %d items", m)
		}
		if it, ok := sc["items"].(map[string]any); ok {
			for i, e := range x {
				if err := s.walk(it, e, &jsonPath{parent: at, index: i}, quiet); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		if req, ok := sc["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					return s.fail(quiet, at, "required field %q is missing", r)
				}
			}
		}
		props, _ := sc["properties"].(map[string]any)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := &jsonPath{parent: at, key: k, index: -1}
			if ps, ok := props[k].(map[string]any); ok {
				if err := s.walk(ps, x[k], p, quiet); err != nil {
					return err
				}
				continue
			}
			switch ap := sc["additionalProperties"].(type) {
			case bool:
				if !ap {
					return s.fail(quiet, p, "unknown field %q", clip(k))
				}
			case map[string]any:
				if err := s.walk(ap, x[k], p, quiet); err != nil {
					return err
				}
			}
		}
	}
	if all, ok := sc["allOf"].([]any); ok {
		for _, sub := range all {
			if err := s.walk(sub.(map[string]any), v, at, quiet); err != nil {
				return err
			}
		}
	}
	if cond, ok := sc["if"].(map[string]any); ok {
		if s.walk(cond, v, at, true) == nil {
			if th, ok := sc["then"].(map[string]any); ok {
				return s.walk(th, v, at, quiet)
			}
		} else if el, ok := sc["else"].(map[string]any); ok {
			return s.walk(el, v, at, quiet)
		}
	}
	return nil
}

func num(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func jsonEqual(a, b any) bool {
	if x, ok := a.(json.Number); ok {
		y, ok := b.(json.Number)
		return ok && x.String() == y.String()
	}
	return reflect.DeepEqual(a, b)
}

func clip(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

func (s *jsonSchema) fail(quiet bool, at *jsonPath, format string, a ...any) error {
	if quiet {
		return errQuiet
	}
	return schemaErr(at.String(), format, a...)
}
