package webtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the failures it is told about.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// TestContractCheck: the hook of Do reports a response or request that the
// documents do not allow, and passes the ones they do.
func TestContractCheck(t *testing.T) {
	env := New(t)
	json := http.Header{"Content-Type": []string{"application/json"}}
	cases := []struct {
		name, method, path, reqBody string
		status                      int
		body                        string
		want                        string // "" = no failure, else a substring of it
	}{
		{"documented response", "GET", "/api/price", "", 200, `{"price":0.1,"currency":"USD","source":"kaspa","updatedAt":"2026-01-01T00:00:00.000Z"}`, ""},
		{"wrong field type", "GET", "/api/price", "", 200, `{"price":"0.1","currency":"USD","source":"kaspa","updatedAt":"x"}`, "response of GET /api/price"},
		{"undocumented field", "GET", "/api/price", "", 200, `{"price":0.1,"currency":"USD","source":"kaspa","updatedAt":"x","extra":1}`, "response of GET /api/price"},
		{"error body shape", "GET", "/api/price", "", 503, `{"message":"down"}`, "response of GET /api/price"},
		{"kaspay error body", "GET", "/api/price", "", 503, `{"error":"Price unavailable"}`, ""},
		{"unknown path, KasPay error", "GET", "/api/nope", "", 404, `{"error":"Not Found"}`, ""},
		{"unknown path, other error shape", "GET", "/api/nope", "", 404, `{"statusCode":404}`, "not the Error schema"},
		{"unknown path answering 200", "GET", "/api/nope", "", 200, `{}`, "not in the document"},
		{"bad request body on a success", "POST", "/api/auth/login", `{"email":1}`, 200,
			`{"user":{"id":"u","email":"e","name":"n"},"token":"t"}`, "request POST /api/auth/login"},
		{"bad request body refused on purpose", "POST", "/api/auth/login", `{"email":1}`, 400, `{"error":"email must be a string"}`, ""},
		{"outside the API", "GET", "/login", "", 200, `<html>`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			env.T = rec
			defer func() { env.T = t }()
			req, err := http.NewRequest(tc.method, "http://till.test"+tc.path, strings.NewReader(tc.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			if tc.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			env.checkContract(req, []byte(tc.reqBody), Response{Status: tc.status, Header: json, Body: []byte(tc.body)})
			got := strings.Join(rec.errs, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Fatalf("unexpected failure: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("want a failure with %q, got %q", tc.want, got)
			}
		})
	}
}
