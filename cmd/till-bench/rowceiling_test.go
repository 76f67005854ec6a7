package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"till/models"
	"till/models/modeltest"
)

// TestRowCeiling serves the HTTP + session-row ceiling on a fresh database
// beside one of Till's (SQLite or Postgres, TILL_TEST_DB) and drives both
// routes over real HTTP with the suite's session load: every request
// inserts its row exactly once (as many pending rows, distinct ids and
// distinct amounts as requests, and the ids answered are the ids stored),
// the rows read back through Till's model, an answer describes its own
// row, and a body that is not a create request gets 400 and inserts
// nothing.
func TestRowCeiling(t *testing.T) {
	ctx := context.Background()
	base := modeltest.URL(t)
	dropSibling(t, base, "httprow")
	const past = 100
	rc, err := openRowCeiling(ctx, base, past)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := ceilingApp()
	rc.routes(app)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		_ = app.Shutdown()
		rc.Close()
	})
	host := ln.Addr().String()

	f := &suiteFixture{o: suiteOptions{XFF: true}}
	var mu sync.Mutex
	answered := map[string]bool{}
	seen := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		if answered[id] {
			t.Errorf("id %s answered twice", id)
		}
		answered[id] = true
	}
	total := 0
	for _, run := range []struct {
		path            string
		clients, events int
	}{{"/sessions", 8, 150}, {"/sessions/batched", 8, 150}, {"/sessions/batched", 32, 200}} {
		res, err := f.sessionLoadAt(host, run.path, http.StatusCreated, []string{"coffee", "tea"}, run.clients, seen).Run(Count(run.events))
		total += run.events
		if err != nil || res.Errors > 0 || res.N != run.events {
			t.Fatalf("%s c=%d: %+v %v %v", run.path, run.clients, res, err, res.FirstErr)
		}
	}

	mdb, err := models.Open(ctx, rc.in.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()
	pending := func() []models.Payment {
		t.Helper()
		var ps []models.Payment
		if err := mdb.R(ctx).Where("status = ?", models.StatusPending).Find(&ps).Error; err != nil {
			t.Fatal(err)
		}
		return ps
	}
	ps := pending()
	amounts := map[int64]bool{}
	for _, p := range ps {
		if !answered[p.ID] || p.PayAddress != suiteAddress || p.LinkID == nil || p.AmountExpected <= 10*sompiPerKAS ||
			!p.ExpiresAt.After(p.CreatedAt) || p.RateAt == nil {
			t.Fatalf("row %+v (answered %v)", p, answered[p.ID])
		}
		amounts[p.AmountExpected] = true
	}
	if len(ps) != total || len(answered) != total || len(amounts) != total {
		t.Fatalf("%d requests: %d pending rows, %d ids answered, %d distinct amounts", total, len(ps), len(answered), len(amounts))
	}
	var old int64
	if err := mdb.R(ctx).Model(&models.Payment{}).Where("status <> ?", models.StatusPending).Count(&old).Error; err != nil || old != past {
		t.Fatalf("%d past sessions, want %d: %v", old, past, err)
	}

	post := func(path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+path, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, path := range []string{"/sessions", "/sessions/batched"} {
		resp := post(path, `{"paymentLinkSlug":"coffee"}`)
		var got models.KasPayCreated
		err := json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		var p models.Payment
		if err == nil {
			err = mdb.R(ctx).Where("id = ?", got.ID).First(&p).Error
		}
		if want := p.KasPayCreated(); err != nil || resp.StatusCode != http.StatusCreated || got.AmountExpected != want.AmountExpected ||
			got.KaspaAddress == nil || *got.KaspaAddress != suiteAddress || got.Status != want.Status || got.PaymentURI != want.PaymentURI {
			t.Fatalf("%s: status %d, answer %+v, row %+v: %v", path, resp.StatusCode, got, p, err)
		}
		total++
		for _, body := range []string{``, `not json`, `[1]`, `{"paymentLinkSlug":""}`, `{"customerEmail":"a@b.c"}`} {
			resp := post(path, body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %q: status %d, want 400", path, body, resp.StatusCode)
			}
		}
	}
	if n := len(pending()); n != total {
		t.Errorf("%d pending rows after the bad bodies, want %d", n, total)
	}
}

// TestSummarizeHTTPRow checks the HTTP + session-row ceiling's ratio:
// Till's session figures are divided by the faster of its plain and
// batched routes in the same run at the same concurrency. The ceiling's
// own rows are divided by the insert and session-row ceilings (what HTTP
// costs over the bare insert) and get no such ratio, nor does what is
// divided by the HTTP ceiling. The table and the report across sizes
// show it, and say which ceiling it is.
func TestSummarizeHTTPRow(t *testing.T) {
	var ms []measurement
	for _, m := range []struct {
		run      int
		workload string
		provides string
		ceiling  string
		rate     float64
	}{
		{1, "ceiling: single-row insert", ceilInsert, "", 1000},
		{1, "ceiling: HTTP + session-row insert", ceilHTTPRow, ceilInsert, 200},
		{1, "ceiling: HTTP + session-row insert, batched", ceilHTTPRow, ceilInsert, 400},
		{1, "ceiling: session-row insert", ceilSession, ceilInsert, 500},
		{1, "sessions", "", ceilInsert, 100},
		{2, "ceiling: single-row insert", ceilInsert, "", 1000},
		{2, "ceiling: HTTP + session-row insert", ceilHTTPRow, ceilInsert, 800},
		{2, "ceiling: HTTP + session-row insert, batched", ceilHTTPRow, ceilInsert, 100},
		{2, "ceiling: session-row insert", ceilSession, ceilInsert, 500},
		{2, "sessions", "", ceilInsert, 100},
	} {
		for _, c := range []int{8, 32} {
			ms = append(ms, measurement{Run: m.run, Workload: m.workload, Clients: c, Provides: m.provides, Ceiling: m.ceiling, Rate: m.rate})
		}
	}
	ms = append(ms, measurement{Run: 1, Workload: "ceiling: http", Clients: 32, Provides: ceilHTTP, Rate: 4000},
		measurement{Run: 1, Workload: "polls", Clients: 32, Ceiling: ceilHTTP, Rate: 1000})
	byName := map[string]row{}
	for _, r := range summarize(ms) {
		byName[r.Workload+"/"+strconv.Itoa(r.Clients)] = r
	}
	for _, tc := range []struct {
		name       string
		ratio      [3]float64
		hasHTTPRow bool
		httpRow    [3]float64
	}{
		{"sessions/8", [3]float64{0.1, 0.1, 0.1}, true, [3]float64{0.125, 0.1875, 0.25}},
		{"sessions/32", [3]float64{0.1, 0.1, 0.1}, true, [3]float64{0.125, 0.1875, 0.25}},
		{"ceiling: HTTP + session-row insert/8", [3]float64{0.2, 0.5, 0.8}, false, [3]float64{}},
		{"ceiling: HTTP + session-row insert, batched/32", [3]float64{0.1, 0.25, 0.4}, false, [3]float64{}},
		{"ceiling: session-row insert/8", [3]float64{0.5, 0.5, 0.5}, false, [3]float64{}},
		{"polls/32", [3]float64{0.25, 0.25, 0.25}, false, [3]float64{}},
	} {
		r := byName[tc.name]
		if r.Ratio != tc.ratio || r.HasHTTPRow != tc.hasHTTPRow || r.HTTPRowRatio != tc.httpRow {
			t.Errorf("%s: ratio %v, HTTP + session-row %v %v; want %v, %v %v", tc.name, r.Ratio, r.HasHTTPRow, r.HTTPRowRatio,
				tc.ratio, tc.hasHTTPRow, tc.httpRow)
		}
	}
	var out bytes.Buffer
	writeTable(&out, summarize(ms))
	for _, want := range []string{
		"| × batched session-row ceiling | × HTTP + session-row ceiling | chain calls/run |",
		"| sessions | 8 | 100 (100–100) | 0.00 | 0.00 (0.00–0.00) | 0.10× (0.10–0.10) of insert | 0.20× (0.20–0.20) | – | 0.19× (0.12–0.25) | 0 |",
		"| ceiling: HTTP + session-row insert | 8 | 500 (200–800) | 0.00 | 0.00 (0.00–0.00) | 0.50× (0.20–0.80) of insert | 1.00× (0.40–1.60) | – | – | 0 |",
		"× HTTP + session-row ceiling: till-bench ceiling-http -insert-db",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	var recs bytes.Buffer
	enc := json.NewEncoder(&recs)
	for _, rows := range []string{"0", "1M"} {
		for i := range ms {
			if err := enc.Encode(record{Label: "postgres", Rows: rows, Suite: &ms[i]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	file := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(file, recs.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runReport([]string{file}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"rows=0 req/s (× ceiling / × session-row / × HTTP + session-row) |",
		"| sessions | 32 | 100 (0.10× / 0.20× / 0.19×) | 100 (0.10× / 0.20× / 0.19×) | 1.00× |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRowCeilingWorkloads checks the suite measures the HTTP + session-row
// ceiling only when given -row-ceiling, on both routes at 8 and 32
// clients, and keeps it (a ceiling) when -only selects Till's sessions.
func TestRowCeilingWorkloads(t *testing.T) {
	for _, tc := range []struct {
		rowCeiling, only string
		want             []string
	}{
		{"", "", nil},
		{"", "sessions", nil},
		{"http://127.0.0.1:4000", "sessions", []string{"ceiling: HTTP + session-row insert/8", "ceiling: HTTP + session-row insert/32",
			"ceiling: HTTP + session-row insert, batched/8", "ceiling: HTTP + session-row insert, batched/32"}},
		{"http://127.0.0.1:4000", "", []string{"ceiling: HTTP + session-row insert/8", "ceiling: HTTP + session-row insert/32",
			"ceiling: HTTP + session-row insert, batched/8", "ceiling: HTTP + session-row insert, batched/32"}},
	} {
		f := &suiteFixture{o: suiteOptions{Ceiling: "http://127.0.0.1:3999", RowCeiling: tc.rowCeiling}, host: "127.0.0.1:3000"}
		if tc.only != "" {
			f.o.Only = regexp.MustCompile(tc.only)
		}
		var got []string
		sessions := 0
		for _, w := range f.workloads() {
			if w.provides == ceilHTTPRow {
				if w.ceiling != ceilInsert || w.inProcess {
					t.Errorf("%s: ceiling %q, in process %v", w.name, w.ceiling, w.inProcess)
				}
				got = append(got, w.name+"/"+strconv.Itoa(w.clients))
			}
			if strings.HasPrefix(w.name, "sessions:") {
				sessions++
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") || sessions != 6 {
			t.Errorf("-row-ceiling %q -only %q: %v and %d session workloads; want %v and 6", tc.rowCeiling, tc.only, got, sessions, tc.want)
		}
	}
}
