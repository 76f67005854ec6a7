package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"till/web/metrics"
)

// TestPprofOnlyWhenAsked checks that the metrics listener serves the Go
// profiles only with Options.Pprof (TILL_PPROF), and /metrics either way.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		pprof bool
		want  int
	}{{false, http.StatusNotFound}, {true, http.StatusOK}} {
		srv := httptest.NewServer(metrics.New(metrics.Options{Pprof: tc.pprof}).Handler())
		get := func(path string) (int, string) {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		if got, body := get("/debug/pprof/"); got != tc.want || (tc.pprof && !strings.Contains(body, "allocs")) {
			t.Errorf("pprof %v: /debug/pprof/ answered %d, want %d", tc.pprof, got, tc.want)
		}
		if got, _ := get("/debug/pprof/allocs?debug=0"); got != tc.want {
			t.Errorf("pprof %v: allocs answered %d, want %d", tc.pprof, got, tc.want)
		}
		if got, _ := get("/metrics"); got != http.StatusOK {
			t.Errorf("pprof %v: /metrics answered %d", tc.pprof, got)
		}
		srv.Close()
	}
}
