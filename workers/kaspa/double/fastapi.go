package double

// FastAPI / pydantic-v1 look-alikes: ordered JSON objects, the 422
// validation-error shapes (path regex, query coercion, strict query params,
// bodies) and the JSON writers. The REST server runs FastAPI 0.110.3 with
// pydantic 1.10.21 (poetry.lock), so errors use the v1 vocabulary
// ("value is not a valid integer", "type_error.integer", …).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// kv is one key of an ordered JSON object.
type kv struct {
	k string
	v any
}

// obj is a JSON object that keeps its key order (Python dicts do).
type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(e.k)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal encodes like Starlette's JSONResponse: compact, no HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// pyNum is a JSON number rendered as Python would render a float.
func pyNum(f float64) json.Number { return json.Number(pyFloat(f)) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		panic(err) // → 500 {"message":"Internal server error"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeDetail writes an HTTPException body: {"detail": msg}.
func writeDetail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, obj{{"detail", msg}})
}

// verr builds one pydantic-v1 error item.
func verr(loc []any, msg, typ string, ctx obj) obj {
	o := obj{{"loc", loc}, {"msg", msg}, {"type", typ}}
	if ctx != nil {
		o = append(o, kv{"ctx", ctx})
	}
	return o
}

// params collects validation errors for one request in FastAPI's order:
// path parameters, then query parameters, then the body.
type params struct {
	r    *http.Request
	q    url.Values
	errs []obj
}

func newParams(r *http.Request) *params {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	return &params{r: r, q: q}
}

// strict implements StrictRoute: any query parameter not in known → 422
// (reported before any other validation). It reports whether the request
// may proceed.
func (p *params) strict(w http.ResponseWriter, known ...string) bool {
	var unknown []obj
	seen := map[string]bool{}
	for _, pair := range strings.Split(p.r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil || seen[k] {
			continue
		}
		seen[k] = true
		if contains(known, k) {
			continue
		}
		avail := known
		if avail == nil {
			avail = []string{}
		}
		unknown = append(unknown, obj{
			{"loc", []any{"query", k}},
			{"msg", "Unknown query parameter in request: " + k},
			{"type", "value_error"},
			{"input", k + "=" + lastOf(p.q[k])},
			{"ctx", obj{{"available_parameters", avail}}},
		})
	}
	if len(unknown) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, obj{{"detail", unknown}})
		return false
	}
	return true
}

// lastOf returns the last element of vs ("" if none): Starlette's
// query_params[k] yields the last value of a repeated parameter.
func lastOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// last returns the last value of a query parameter (Starlette semantics).
func (p *params) last(name string) (string, bool) {
	vs, ok := p.q[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// pathRegex validates a path parameter with pydantic-v1 constr(regex=…)
// semantics: re.match, i.e. anchored at the start only (the pattern itself
// may anchor the end). Python's "$" also matches before a final newline.
func (p *params) pathRegex(name, value string, re *regexp.Regexp, pattern string) {
	v := value
	if strings.HasSuffix(pattern, "$") {
		v = strings.TrimSuffix(v, "\n")
	}
	if loc := re.FindStringIndex(v); loc == nil || loc[0] != 0 {
		p.errs = append(p.errs, verr([]any{"path", name},
			fmt.Sprintf("string does not match regex %q", pattern), "value_error.str.regex",
			obj{{"pattern", pattern}}))
	}
}

// queryInt parses an int query parameter with optional ge/le bounds.
func (p *params) queryInt(name string, def int64, ge, le *int64) int64 {
	s, ok := p.last(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		p.errs = append(p.errs, verr([]any{"query", name}, "value is not a valid integer", "type_error.integer", nil))
		return def
	}
	if ge != nil && n < *ge {
		p.errs = append(p.errs, verr([]any{"query", name},
			fmt.Sprintf("ensure this value is greater than or equal to %d", *ge), "value_error.number.not_ge",
			obj{{"limit_value", *ge}}))
	}
	if le != nil && n > *le {
		p.errs = append(p.errs, verr([]any{"query", name},
			fmt.Sprintf("ensure this value is less than or equal to %d", *le), "value_error.number.not_le",
			obj{{"limit_value", *le}}))
	}
	return n
}

// requiredInt is queryInt for a parameter declared Query(...): absent, it
// is a "field required" error.
func (p *params) requiredInt(name string, ge, le *int64) int64 {
	if _, ok := p.last(name); !ok {
		p.errs = append(p.errs, verr([]any{"query", name}, "field required", "value_error.missing", nil))
		return 0
	}
	return p.queryInt(name, 0, ge, le)
}

// queryBool parses a bool query parameter the pydantic-v1 way.
func (p *params) queryBool(name string, def bool) bool {
	s, ok := p.last(name)
	if !ok {
		return def
	}
	switch strings.ToLower(s) {
	case "1", "on", "t", "true", "y", "yes":
		return true
	case "0", "off", "f", "false", "n", "no":
		return false
	}
	p.errs = append(p.errs, verr([]any{"query", name}, "value could not be parsed to a boolean", "type_error.bool", nil))
	return def
}

// queryEnum parses a str-Enum query parameter.
func (p *params) queryEnum(name, def string, allowed ...string) string {
	s, ok := p.last(name)
	if !ok {
		return def
	}
	if contains(allowed, s) {
		return s
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	p.errs = append(p.errs, verr([]any{"query", name},
		"value is not a valid enumeration member; permitted: "+strings.Join(quoted, ", "), "type_error.enum",
		obj{{"enum_values", allowed}}))
	return def
}

// queryStr returns a plain str query parameter.
func (p *params) queryStr(name, def string) string {
	if s, ok := p.last(name); ok {
		return s
	}
	return def
}

// done writes the collected 422 (if any) and reports whether the request
// may proceed.
func (p *params) done(w http.ResponseWriter) bool {
	if len(p.errs) == 0 {
		return true
	}
	writeJSON(w, http.StatusUnprocessableEntity, obj{{"detail", p.errs}})
	return false
}

// body reads and parses a JSON object body the way FastAPI does for a
// single pydantic-model parameter: missing body → "field required", a
// non-JSON content type or non-object JSON → "value is not a valid dict",
// malformed JSON → json_invalid. It returns nil (with errors recorded) when
// unusable; the caller still calls done().
func (p *params) body() map[string]json.RawMessage {
	raw, err := readBody(p.r)
	if err != nil {
		panic(err)
	}
	if len(raw) == 0 {
		p.errs = append(p.errs, verr([]any{"body"}, "field required", "value_error.missing", nil))
		return nil
	}
	isJSON := true
	if ct := p.r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		isJSON = err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
	}
	if !isJSON {
		p.errs = append(p.errs, verr([]any{"body"}, "value is not a valid dict", "type_error.dict", nil))
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		pos := int64(0)
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 {
			pos = se.Offset - 1
		}
		p.errs = append(p.errs, obj{
			{"type", "json_invalid"},
			{"loc", []any{"body", pos}},
			{"msg", "JSON decode error"},
			{"input", obj{}},
			{"ctx", obj{{"error", "Expecting value"}}},
		})
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		p.errs = append(p.errs, verr([]any{"body"}, "value is not a valid dict", "type_error.dict", nil))
		return nil
	}
	return m
}

// strList validates a list[str] body field (pydantic v1: numbers and bools
// are coerced to str, null is not allowed unless nullable). present reports
// whether the key was in the body.
func (p *params) strList(m map[string]json.RawMessage, key string, nullable bool) (list []string, present, isNull bool) {
	raw, ok := m[key]
	if !ok {
		return nil, false, false
	}
	loc := []any{"body", key}
	if string(bytes.TrimSpace(raw)) == "null" {
		if !nullable {
			p.errs = append(p.errs, verr(loc, "none is not an allowed value", "type_error.none.not_allowed", nil))
		}
		return nil, true, true
	}
	// One decoder for the whole list: a decoder per item cost the double
	// more CPU than Till's watcher spent on the same request (thousands of
	// addresses a cycle, docs/BENCHMARKS.md).
	var items []any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&items) != nil {
		p.errs = append(p.errs, verr(loc, "value is not a valid list", "type_error.list", nil))
		return nil, true, false
	}
	list = make([]string, 0, len(items))
	for i, v := range items {
		switch x := v.(type) {
		case string:
			list = append(list, x)
		case json.Number:
			list = append(list, x.String())
		case bool:
			list = append(list, map[bool]string{true: "True", false: "False"}[x])
		case nil:
			p.errs = append(p.errs, verr([]any{"body", key, i}, "none is not an allowed value", "type_error.none.not_allowed", nil))
		default:
			p.errs = append(p.errs, verr([]any{"body", key, i}, "str type expected", "type_error.str", nil))
		}
	}
	return list, true, false
}

// intField validates a required int field of a nested body object.
func (p *params) intField(m map[string]json.RawMessage, loc []any, key string) int64 {
	l := append(append([]any{}, loc...), key)
	raw, ok := m[key]
	if !ok {
		p.errs = append(p.errs, verr(l, "field required", "value_error.missing", nil))
		return 0
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	_ = d.Decode(&v)
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case nil:
		p.errs = append(p.errs, verr(l, "none is not an allowed value", "type_error.none.not_allowed", nil))
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && s != "" && !strings.ContainsAny(s, "nNiI") {
		return int64(f) // pydantic v1 int(float) truncates
	}
	p.errs = append(p.errs, verr(l, "value is not a valid integer", "type_error.integer", nil))
	return 0
}
