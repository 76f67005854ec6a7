package web_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"till/web"
	"till/web/webtest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestRequestIDTrustedProxiesOnly sends requests over loopback with and
// without an incoming X-Request-Id: the id is kept only when the peer is a
// configured trusted proxy, otherwise generated; it is always returned, and
// the request's log line carries it.
func TestRequestIDTrustedProxiesOnly(t *testing.T) {
	cases := []struct {
		name    string
		proxies []string
		in      string
		kept    bool
	}{
		{"no proxies configured: generated", nil, "from-client-1", false},
		{"no incoming id: generated", []string{"127.0.0.1"}, "", false},
		{"trusted proxy: kept", []string{"127.0.0.1"}, "edge-7f3a_b", true},
		{"trusted proxy range: kept", []string{"127.0.0.0/8"}, "edge-range", true},
		{"trusted proxy, unsafe id: generated", []string{"127.0.0.1"}, "bad id\twith space", false},
		{"trusted proxy, id too long: generated", []string{"127.0.0.1"}, strings.Repeat("a", 65), false},
		{"untrusted peer: generated", []string{"10.1.2.3"}, "forged-by-client", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			env := webtest.New(t, func(o *web.Options) {
				o.TrustedProxies = tc.proxies
				o.Log = slog.New(slog.NewTextHandler(logs, nil))
			})
			base := env.Listen()
			req, _ := http.NewRequest("GET", base+"/healthz?probe=1", nil)
			if tc.in != "" {
				req.Header.Set("X-Request-Id", tc.in)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			id := resp.Header.Get("X-Request-Id")
			switch {
			case tc.kept && id != tc.in:
				t.Fatalf("trusted proxy's id %q replaced by %q", tc.in, id)
			case !tc.kept && (!generatedID.MatchString(id) || id == tc.in):
				t.Fatalf("want a generated id, got %q", id)
			}
			// A second request gets its own id.
			r2, err := http.Get(base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			r2.Body.Close()
			if id2 := r2.Header.Get("X-Request-Id"); id2 == id || id2 == "" {
				t.Fatalf("second request id %q (first %q)", id2, id)
			}
			// The access log line is at debug level for /healthz: use a path
			// logged at info to check the line carries the id.
			req, _ = http.NewRequest("GET", base+"/api/payments/00000000-0000-0000-0000-000000000000/status", nil)
			if tc.in != "" {
				req.Header.Set("X-Request-Id", tc.in)
			}
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			id = resp.Header.Get("X-Request-Id")
			if !strings.Contains(logs.String(), "msg=\"http request\"") {
				t.Fatalf("no access log line: %s", logs)
			}
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "/api/payments/") && strings.Contains(line, "request_id="+id+" ") ||
					strings.Contains(line, "/api/payments/") && strings.HasSuffix(line, "request_id="+id) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no log line of the request carries request_id=%s:\n%s", id, logs)
			}
		})
	}
}
