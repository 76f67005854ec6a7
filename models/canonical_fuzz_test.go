package models_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"testing"
	"unicode/utf8"

	"till/models"
)

// FuzzCanonicalize feeds arbitrary bytes to the JSON.stringify(JSON.parse(…))
// writer. It accepts exactly the valid UTF-8 JSON texts (nested at most 512
// deep); its output is valid JSON and UTF-8, means the same as the input
// (numbers as IEEE doubles, out-of-range ones as null, last duplicate key
// wins), and canonicalizing it again changes nothing. Node's own answers are
// compared in canonical_test.go; this checks the properties on inputs nobody
// wrote by hand.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range trickyJSON {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := models.Canonicalize(in)
		valid := utf8.Valid(in) && json.Valid(in) && nesting(in) <= 512
		if (err == nil) != valid {
			t.Fatalf("Canonicalize(%q) = %q, %v; valid JSON: %v", in, out, err, valid)
		}
		if err != nil {
			if !errors.Is(err, models.ErrJSONSyntax) {
				t.Fatalf("Canonicalize(%q): %v does not wrap ErrJSONSyntax", in, err)
			}
			return
		}
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("Canonicalize(%q) = %q: not valid UTF-8 JSON", in, out)
		}
		if want, got := decodeJSON(t, in), decodeJSON(t, out); !sameJSON(want, got) {
			t.Fatalf("Canonicalize(%q) = %q: means something else", in, out)
		}
		again, err := models.Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Canonicalize is not a fixed point on %q: %q, %v", out, again, err)
		}
	})
}

// nesting returns the deepest array/object nesting of JSON text.
func nesting(text []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

func decodeJSON(t *testing.T, text []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}
	return v
}

// sameJSON compares decoded values, numbers as JavaScript reads them: a
// number beyond the double range is Infinity, which JSON.stringify writes
// as null.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return false
		}
		if math.IsInf(f, 0) {
			return b == nil
		}
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		g, err := strconv.ParseFloat(string(y), 64)
		return err == nil && f == g
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	default: // nil, bool, string
		return a == b
	}
}
