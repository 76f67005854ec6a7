package double

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// start serves a fresh chain on loopback for the duration of the test.
func start(t *testing.T, opts Options) (*Chain, string) {
	t.Helper()
	c := New(opts)
	url, stop, err := c.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		c.Close()
	})
	return c, url
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body with numbers kept as json.Number.
func (r response) json(t *testing.T) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
	return v
}

// call performs a request; hdr is "Key: value" pairs.
func call(t *testing.T, method, url, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// jget walks a decoded JSON value: string keys index objects, ints index
// arrays. A missing key yields the sentinel missing.
func jget(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("jget %v: %T is not an object", path, v)
			}
			x, ok := m[k]
			if !ok {
				return missing{}
			}
			v = x
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("jget %v: not an array or index %d out of range (%v)", path, k, v)
			}
			v = a[k]
		}
	}
	return v
}

type missing struct{}

// jtype names the JSON type of a decoded value.
func jtype(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case missing:
		return "absent"
	}
	return "?"
}

func num(t *testing.T, v any) uint64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("%v is not an unsigned integer", v)
	}
	return u
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
