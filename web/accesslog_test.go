package web_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/web"
	"till/web/webtest"
)

// TestAccessLogPolicy: at info, the successful answers of the polled routes
// write no access log line; their errors do, with the final status and the
// request id; other routes write their line as before; a slow request is
// logged at warn even when it is a successful poll; at debug the polls'
// lines come back.
func TestAccessLogPolicy(t *testing.T) {
	logs := &syncBuffer{}
	level := new(slog.LevelVar)
	h := newCheckoutHarness(t, func(o *web.Options) {
		o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
		o.SlowRequest = time.Hour
	})
	p := h.apiSession(h.link(nil))

	// lineOf sends the request and returns its access log line ("" when
	// none), checking the line carries the request's id.
	lineOf := func(path string, headers ...string) (int, string) {
		t.Helper()
		before := len(logs.String())
		r := h.env.Do("GET", path, nil, headers...)
		id := r.Header.Get("X-Request-Id")
		var line string
		for _, l := range strings.Split(logs.String()[before:], "\n") {
			if strings.Contains(l, `msg="http request"`) {
				if line != "" {
					t.Fatalf("%s: two access log lines:\n%s\n%s", path, line, l)
				}
				line = l
			}
		}
		if line != "" && !strings.Contains(line, "request_id="+id+" ") {
			t.Fatalf("%s: line without the request id %s: %s", path, id, line)
		}
		return r.Status, line
	}

	polls := []struct {
		name, path string
		headers    []string
		status     int
	}{
		{"KasPay status", "/api/payments/" + p.ID + "/status", nil, http.StatusOK},
		{"checkout status", "/pay/status/" + p.ID, nil, http.StatusOK},
		{"KiraPay wallet", "/api/wallet/transactions", h.m.Key(), http.StatusOK},
	}
	for _, tc := range polls {
		if status, line := lineOf(tc.path, tc.headers...); status != tc.status || line != "" {
			t.Errorf("%s at info: %d, line %q; want %d and no line", tc.name, status, line, tc.status)
		}
	}

	errorsLogged := []struct {
		name, path string
		status     int
	}{
		{"KasPay status, unknown id", "/api/payments/00000000-0000-4000-8000-000000000000/status", http.StatusNotFound},
		{"KiraPay link, unknown code", "/api/link/zzzzzzzzzz", http.StatusNotFound},
		{"checkout status, unknown id", "/pay/status/00000000-0000-4000-8000-000000000000", http.StatusNotFound},
		{"KiraPay wallet, no key", "/api/wallet/transactions", http.StatusUnauthorized},
	}
	for _, tc := range errorsLogged {
		status, line := lineOf(tc.path)
		want := "level=INFO"
		if status != tc.status || !strings.Contains(line, want) || !strings.Contains(line, " status="+strconv.Itoa(tc.status)+" ") {
			t.Errorf("%s: %d, line %q; want %d logged at info with its status", tc.name, status, line, tc.status)
		}
	}

	// A route that is not a poll keeps its line at info.
	if status, line := lineOf("/api/links", h.m.Bearer()...); status != http.StatusOK || !strings.Contains(line, "level=INFO") {
		t.Errorf("links list: %d, line %q; want a line at info", status, line)
	}

	// At debug, the polls are logged again (at debug).
	level.Set(slog.LevelDebug)
	if _, line := lineOf(polls[0].path); !strings.Contains(line, "level=DEBUG") || !strings.Contains(line, " status=200 ") {
		t.Errorf("poll at debug: line %q, want a debug line", line)
	}

	// Slow requests are logged at warn whatever the route: a server whose
	// threshold every request passes.
	logs2 := &syncBuffer{}
	env := webtest.New(t, func(o *web.Options) {
		o.Log = slog.New(slog.NewTextHandler(logs2, nil))
		o.SlowRequest = time.Nanosecond
	})
	if r := env.Do("GET", "/healthz", nil); r.Status != http.StatusOK ||
		!strings.Contains(logs2.String(), `level=WARN msg="http request" request_id=`+r.Header.Get("X-Request-Id")+" ") {
		t.Errorf("slow request: %d, log %q; want a warn line", r.Status, logs2.String())
	}
}
