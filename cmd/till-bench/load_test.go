package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad checks the load generator against a plain HTTP server: every
// request is sent once and answered, failures are counted, and a server that
// closes connections (Connection: close) is followed by a redial.
func TestLoad(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		if r.Method != "POST" || r.Header.Get("X-Test") != "yes" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if n%7 == 0 {
			w.Header().Set("Connection", "close")
		}
		if strings.HasSuffix(r.URL.Path, "/fail") {
			http.Error(w, "nope", http.StatusTeapot)
			return
		}
		_, _ = w.Write(bytes.Repeat([]byte("x"), 1000))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	l := &Load{Addr: host, Clients: 4, Request: func(i int) []byte {
		path := "/ok"
		if i%10 == 9 {
			path = "/fail"
		}
		return RawRequest("POST", host, path, []byte(`{}`), "X-Test", "yes")
	}}
	res, err := l.Run(Count(100))
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 100 || served.Load() != 100 || len(res.Latencies) != 100 {
		t.Fatalf("N %d, served %d, latencies %d; want 100 each", res.N, served.Load(), len(res.Latencies))
	}
	if res.Errors != 10 || res.FirstErr == nil || !strings.Contains(res.FirstErr.Error(), "418") {
		t.Fatalf("errors %d (%v), want the 10 teapots", res.Errors, res.FirstErr)
	}
	if p50, p99 := res.Percentile(50), res.Percentile(99); p50 <= 0 || p99 < p50 || res.Rate() <= 0 {
		t.Fatalf("p50 %s, p99 %s, rate %f", p50, p99, res.Rate())
	}

	served.Store(0)
	res, err = l.Run(Until(50 * time.Millisecond))
	if err != nil || res.N == 0 || int64(res.N) != served.Load() {
		t.Fatalf("timed run: %d requests, %d served, %v", res.N, served.Load(), err)
	}
}

func TestPercentile(t *testing.T) {
	r := Result{}
	for i := 1; i <= 200; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	if got := r.Percentile(50); got != 100*time.Millisecond {
		t.Errorf("p50 %s", got)
	}
	if got := r.Percentile(99); got != 198*time.Millisecond {
		t.Errorf("p99 %s", got)
	}
	if got := r.Percentile(100); got != 200*time.Millisecond {
		t.Errorf("p100 %s", got)
	}
}
