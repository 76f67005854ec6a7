package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Webhook receivers written for KasPay verify signatures over
// JSON.stringify(JSON.parse(body)) rather than over the raw bytes, so every
// JSON document Till signs must be a fixed point of that round trip. This
// file reproduces it exactly:
//
//   - compact output, no HTML escaping, no trailing newline;
//   - strings escape only '"', '\\', \b \f \n \r \t, other control characters
//     as lowercase \u00xx, and lone UTF-16 surrogates as lowercase \udxxx;
//     everything else (U+2028, U+2029, DEL, emoji) is written raw;
//   - numbers are parsed as IEEE doubles and printed by the rules of
//     Number.prototype.toString (1.0 → 1, 1e21 → 1e+21, -0 → 0, 1e400 → null);
//   - object keys keep their first-seen position and the last value wins for
//     duplicates, except that array-index keys ("0" … "4294967294") come
//     first in ascending numeric order, as in every JavaScript engine.

// CanonicalJSON encodes v with encoding/json and returns the bytes
// JSON.stringify(JSON.parse(…)) would produce for it.
func CanonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonicalize(raw)
}

// Canonicalize returns exactly what JavaScript's
// JSON.stringify(JSON.parse(text)) returns for the UTF-8 JSON text. It
// rejects text JSON.parse would reject, and text that is not valid UTF-8.
func Canonicalize(text []byte) ([]byte, error) {
	v, err := parseJS(text)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(text))
	v.write(&buf)
	return buf.Bytes(), nil
}

// canonicalObject canonicalizes text that must hold one JSON object.
func canonicalObject(text []byte) ([]byte, error) {
	v, err := parseJS(text)
	if err != nil {
		return nil, err
	}
	if v.kind != jsObject {
		return nil, errors.New("not a JSON object")
	}
	var buf bytes.Buffer
	v.write(&buf)
	return buf.Bytes(), nil
}

// ErrJSONSyntax is returned by Canonicalize for input that is not JSON.
var ErrJSONSyntax = errors.New("models: invalid JSON")

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 512

type jsKind uint8

const (
	jsNull jsKind = iota
	jsBool
	jsNumber
	jsString
	jsArray
	jsObject
)

// jsValue is a parsed JSON value as JavaScript holds it. Strings are kept
// in WTF-8 (UTF-8 that may also encode lone surrogates), so "\ud800"
// survives the round trip as JavaScript keeps it.
type jsValue struct {
	kind    jsKind
	boolean bool
	text    string // number: its JavaScript form; string: WTF-8 content
	items   []*jsValue
	members []jsMember // object members in first-seen order
}

type jsMember struct {
	key   string
	value *jsValue
	index int64 // array index of the key, or -1
}

type jsParser struct {
	s     []byte
	i     int
	depth int
}

func parseJS(text []byte) (*jsValue, error) {
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrJSONSyntax)
	}
	p := &jsParser{s: text}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.fail("unexpected data after the value")
	}
	return v, nil
}

func (p *jsParser) fail(msg string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrJSONSyntax, msg, p.i)
}

// space skips the whitespace JSON.parse allows: space, tab, LF, CR.
func (p *jsParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsParser) literal(word string) bool {
	if bytes.HasPrefix(p.s[p.i:], []byte(word)) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsParser) value() (*jsValue, error) {
	if p.i >= len(p.s) {
		return nil, p.fail("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &jsValue{kind: jsString, text: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.literal("true"):
		return &jsValue{kind: jsBool, boolean: true}, nil
	case p.literal("false"):
		return &jsValue{kind: jsBool}, nil
	case p.literal("null"):
		return &jsValue{kind: jsNull}, nil
	}
	return nil, p.fail("unexpected character")
}

func (p *jsParser) enter() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return p.fail("nesting too deep")
	}
	return nil
}

func (p *jsParser) array() (*jsValue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // [
	v := &jsValue{kind: jsArray}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		p.space()
		item, err := p.value()
		if err != nil {
			return nil, err
		}
		v.items = append(v.items, item)
		p.space()
		if p.i >= len(p.s) {
			return nil, p.fail("unterminated array")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected , or ]")
		}
	}
}

func (p *jsParser) object() (*jsValue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // {
	v := &jsValue{kind: jsObject}
	var pos map[string]int
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.fail("expected a string key")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.fail("expected :")
		}
		p.i++
		p.space()
		val, err := p.value()
		if err != nil {
			return nil, err
		}
		// A repeated key keeps its first position and takes the last value.
		if j, dup := pos[key]; dup {
			v.members[j].value = val
		} else {
			if pos == nil {
				pos = map[string]int{}
			}
			pos[key] = len(v.members)
			v.members = append(v.members, jsMember{key: key, value: val, index: arrayIndex(key)})
		}
		p.space()
		if p.i >= len(p.s) {
			return nil, p.fail("unterminated object")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected , or }")
		}
	}
}

// maxArrayIndex is the largest array index, 2^32 − 2: JavaScript orders such
// keys numerically before all other keys.
const maxArrayIndex = 1<<32 - 2

// arrayIndex returns the numeric value of key when it is the canonical
// decimal form of an array index, else -1.
func arrayIndex(key string) int64 {
	if key == "" || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return -1
	}
	var n int64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	if n > maxArrayIndex {
		return -1
	}
	return n
}

// number reads a JSON number and converts it to JavaScript's text for the
// double it denotes.
func (p *jsParser) number() (*jsValue, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	f, err := strconv.ParseFloat(string(p.s[start:p.i]), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, p.fail("invalid number")
	}
	return &jsValue{kind: jsNumber, text: JSNumber(f)}, nil
}

// JSNumber formats f as JSON.stringify does: Number.prototype.toString for
// finite values (shortest round-trip digits, exponent form below 1e-6 and
// from 1e21), "null" for NaN and ±Infinity, and "0" for -0.
func JSNumber(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "null"
	case f == 0:
		return "0"
	}
	var out []byte
	if f < 0 {
		out = append(out, '-')
		f = -f
	}
	// Shortest digits that round-trip, as "d.ddde±x".
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	x, _ := strconv.Atoi(exp)
	digits := make([]byte, 0, len(mant))
	for i := 0; i < len(mant); i++ {
		if mant[i] != '.' {
			digits = append(digits, mant[i])
		}
	}
	k, n := len(digits), x+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		out = append(out, digits...)
		for i := 0; i < n-k; i++ {
			out = append(out, '0')
		}
	case 0 < n && n <= 21:
		out = append(out, digits[:n]...)
		out = append(out, '.')
		out = append(out, digits[n:]...)
	case -6 < n && n <= 0:
		out = append(out, '0', '.')
		for i := 0; i < -n; i++ {
			out = append(out, '0')
		}
		out = append(out, digits...)
	default:
		out = append(out, digits[0])
		if k > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'e')
		if n-1 >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, int64(n-1), 10)
	}
	return string(out)
}

// str reads a JSON string and returns its content in WTF-8.
func (p *jsParser) str() (string, error) {
	p.i++ // opening quote
	var b []byte
	for {
		if p.i >= len(p.s) {
			return "", p.fail("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		// Escape sequence.
		p.i++
		if p.i >= len(p.s) {
			return "", p.fail("unterminated string")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			u, ok := p.hex4()
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			// A high surrogate followed by an escaped low one is one code
			// point; any other surrogate stays a lone code unit.
			if u >= 0xD800 && u <= 0xDBFF && p.i+6 <= len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
				save := p.i
				p.i += 2
				if lo, ok := p.hex4(); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					b = utf8.AppendRune(b, 0x10000+(rune(u)-0xD800)<<10+(rune(lo)-0xDC00))
					continue
				}
				p.i = save
			}
			b = appendWTF8(b, rune(u))
		default:
			return "", p.fail("invalid escape")
		}
	}
}

func (p *jsParser) hex4() (uint16, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var u uint16
	for _, c := range p.s[p.i : p.i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(d)
	}
	p.i += 4
	return u, true
}

// appendWTF8 encodes r like UTF-8 but also encodes surrogates (which UTF-8
// forbids) as their three-byte form, so lone surrogates survive.
func appendWTF8(b []byte, r rune) []byte {
	if r >= 0xD800 && r <= 0xDFFF {
		return append(b, byte(0xE0|r>>12), byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F)) //nolint:gosec // r is a surrogate (0xD800-0xDFFF): each part fits a byte
	}
	return utf8.AppendRune(b, r)
}

const hexDigits = "0123456789abcdef"

func (v *jsValue) write(buf *bytes.Buffer) {
	switch v.kind {
	case jsNull:
		buf.WriteString("null")
	case jsBool:
		if v.boolean {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case jsNumber:
		buf.WriteString(v.text)
	case jsString:
		writeJSString(buf, v.text)
	case jsArray:
		buf.WriteByte('[')
		for i, it := range v.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			it.write(buf)
		}
		buf.WriteByte(']')
	case jsObject:
		// Array-index keys first, ascending; then the rest in first-seen order.
		order := make([]int, 0, len(v.members))
		for i, m := range v.members {
			if m.index >= 0 {
				order = append(order, i)
			}
		}
		sort.Slice(order, func(a, b int) bool { return v.members[order[a]].index < v.members[order[b]].index })
		for i, m := range v.members {
			if m.index < 0 {
				order = append(order, i)
			}
		}
		buf.WriteByte('{')
		for n, i := range order {
			if n > 0 {
				buf.WriteByte(',')
			}
			writeJSString(buf, v.members[i].key)
			buf.WriteByte(':')
			v.members[i].value.write(buf)
		}
		buf.WriteByte('}')
	}
}

// writeJSString writes the WTF-8 string s quoted as JSON.stringify does.
func writeJSString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				buf.WriteString(`\"`)
			case '\\':
				buf.WriteString(`\\`)
			case '\b':
				buf.WriteString(`\b`)
			case '\f':
				buf.WriteString(`\f`)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				if c < 0x20 {
					buf.WriteString(`\u00`)
					buf.WriteByte(hexDigits[c>>4])
					buf.WriteByte(hexDigits[c&0xF])
				} else {
					buf.WriteByte(c)
				}
			}
			i++
			continue
		}
		// A surrogate in WTF-8 is ED A0..BF xx: JavaScript escapes it.
		if c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 {
			r := rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			buf.WriteString(`\u`)
			for sh := 12; sh >= 0; sh -= 4 {
				buf.WriteByte(hexDigits[(r>>sh)&0xF])
			}
			i += 3
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		buf.WriteString(s[i : i+size])
		i += size
	}
	buf.WriteByte('"')
}
