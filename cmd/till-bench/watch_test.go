package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"till/models"
	"till/models/modeltest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

// metricsText is a trimmed scrape of Till's metrics listener.
const metricsText = `# HELP till_watcher_cycle_duration_seconds Duration of one watcher cycle.
# TYPE till_watcher_cycle_duration_seconds histogram
till_watcher_cycle_duration_seconds_bucket{chain="kaspa",le="0.01"} 3
till_watcher_cycle_duration_seconds_sum{chain="kaspa"} 0.25
till_watcher_cycle_duration_seconds_count{chain="kaspa"} 10
till_watcher_cycle_duration_seconds_sum{chain="local"} 0.5
till_watcher_cycle_duration_seconds_count{chain="local"} 5
till_chain_calls_total{chain="kaspa",endpoint="/addresses/utxos"} 20
till_chain_calls_total{chain="kaspa",endpoint="/info/blockdag"} 10
till_chain_calls_total{chain="local",endpoint="eth_getLogs"} 5
till_http_requests_total{route="/a \"b\", c",status="200"} 7
go_goroutines 42
`

func TestParseMetrics(t *testing.T) {
	ss, err := parseMetrics(strings.NewReader(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 10 {
		t.Fatalf("%d samples, want 10", len(ss))
	}
	if s := ss[8]; s.Name != "till_http_requests_total" || s.Labels["route"] != `/a "b", c` || s.Labels["status"] != "200" || s.Value != 7 {
		t.Errorf("escaped label: %+v", s)
	}
	if s := ss[9]; s.Name != "go_goroutines" || s.Value != 42 || len(s.Labels) != 0 {
		t.Errorf("unlabelled: %+v", s)
	}
	calls := sumBy(ss, "till_chain_calls_total", "chain")
	if calls["kaspa"] != 30 || calls["local"] != 5 {
		t.Errorf("calls by chain %v", calls)
	}
	for _, bad := range []string{"x{a=\"1\"", "x{a=1} 2", "x", "x{a=\"1\"} two"} {
		if _, err := parseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestPerCycle checks the differences of two scrapes: mean cycle time and
// calls per cycle, and that a chain without a new cycle is left out.
func TestPerCycle(t *testing.T) {
	ss, err := parseMetrics(strings.NewReader(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	a := statsOf(ss)
	b := cycleStats{
		Count:   map[string]float64{"kaspa": 14, "local": 5},
		Seconds: map[string]float64{"kaspa": 0.45, "local": 0.5},
		Calls:   map[string]float64{"kaspa": 42, "local": 5},
	}
	got := perCycle(a, b)
	if len(got) != 1 || got["kaspa"] != [3]float64{4, 50, 3} {
		t.Fatalf("perCycle %v: want kaspa 4 cycles of 50 ms, 3 calls each", got)
	}
}

func TestProcMemory(t *testing.T) {
	status := []byte("Name:\ttill\nVmPeak:\t  900000 kB\nVmHWM:\t   153600 kB\nVmRSS:\t   102400 kB\nThreads:\t9\n")
	rss, hwm, err := procMemory(status)
	if err != nil || rss != 100 || hwm != 150 {
		t.Fatalf("rss %v hwm %v %v", rss, hwm, err)
	}
	if _, _, err := procMemory([]byte("Name:\tzombie\n")); err == nil {
		t.Error("no VmRSS: no error")
	}
}

// TestWatchReport checks the watcher tables: spread over rounds, detection
// percentiles over all payments (recorded, and polled beside), ratios to
// the poll interval, and the
// flatness of the biggest size over the smallest, through the JSON records.
func TestWatchReport(t *testing.T) {
	ms := []watchMeasurement{
		{Label: "sqlite", Open: 100, Run: 1, Chain: "kaspa", CycleMs: 10, CallsPerCycle: 2, DoubleCallsPerCycle: 2, PeriodMs: 1900, DetectMs: []float64{500, 1500}, PolledMs: []float64{1530, 520}, RSSMiB: 40, HWMMiB: 41, Load: "1.0 → 2.0"},
		{Label: "sqlite", Open: 100, Run: 2, Chain: "kaspa", CycleMs: 30, CallsPerCycle: 2, DoubleCallsPerCycle: 2, PeriodMs: 2100, DetectMs: []float64{1000}, PolledMs: []float64{1020}, RSSMiB: 42, HWMMiB: 45, Load: "2.0 → 3.0"},
		{Label: "sqlite", Open: 100, Run: 1, Chain: "local", CycleMs: 8, CallsPerCycle: 3, DoubleCallsPerCycle: 3, RSSMiB: 40, HWMMiB: 41},
		{Label: "sqlite", Open: 100000, Run: 1, Chain: "kaspa", CycleMs: 60, CallsPerCycle: 36, DoubleCallsPerCycle: 36, DetectMs: []float64{3000}, Missed: 1, RSSMiB: 120, HWMMiB: 130},
		{Label: "sqlite", Open: 100000, Run: 1, Chain: "local", CycleMs: 8, CallsPerCycle: 3, DoubleCallsPerCycle: 3, RSSMiB: 120, HWMMiB: 130},
	}
	var buf bytes.Buffer
	recs := make([]record, len(ms))
	for i := range ms {
		recs[i] = record{Watch: &ms[i]}
	}
	file := t.TempDir() + "/results.jsonl"
	if err := appendRecords(file, recs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := appendRecords(file, recs[2:]); err != nil {
		t.Fatal(err)
	}
	if err := runReport([]string{"-interval", "2s", file}, &buf, io.Discard); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"| sqlite | 100 | kaspa | 20.0 (10.0–30.0) | 2.0 (2.0–2.0) | 2.0 | 2000 → 1.00 | 1000 / 1500 (3) | 0.75× of 2s | 1020 / 1530 | 41 (45) | 1.0 → 3.0 |",
		"| sqlite | 100 | local | 8.0 (8.0–8.0) | 3.0 (3.0–3.0) | 3.0 | – | – | 0.00× of 2s | – |",
		"3000 / 3000 (1), 1 missed | 1.50× of 2s | – | 120 (130)",
		"| sqlite | kaspa | 100 → 100000 | 20.0 → 60.0 | 3.00× | 2.0 → 36.0 | 18.00× | 3000 ms = 1.50× of 2s | 120 (peak 130) |",
		"| sqlite | local | 100 → 100000 | 8.0 → 8.0 | 1.00× | 3.0 → 3.0 | 1.00× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "session creation by past sessions") {
		t.Errorf("a by-rows table without suite records:\n%s", out)
	}
}

// TestByRows checks the session-creation table across database sizes:
// each size's median rate and ratio to its own ceiling, and the largest
// size's rate over the smallest's.
func TestByRows(t *testing.T) {
	var recs []record
	add := func(rows string, run int, workload, ceiling, provides string, clients int, rate float64) {
		recs = append(recs, record{Label: "postgres", Rows: rows, Suite: &measurement{Run: run, Workload: workload, Clients: clients,
			Ceiling: ceiling, Provides: provides, Rate: rate}})
	}
	for _, size := range []struct {
		rows          string
		ceil, session float64
	}{{"0", 1000, 500}, {"1M", 800, 300}} {
		add(size.rows, 1, "ceiling: single-row insert", "", ceilInsert, 8, size.ceil)
		add(size.rows, 1, "sessions: USDC", ceilInsert, "", 8, size.session)
	}
	add("0", 1, "sessions: only at 0", ceilInsert, "", 32, 1)
	var buf bytes.Buffer
	writeByRows(&buf, recs)
	out := buf.String()
	for _, want := range []string{
		"### postgres: session creation by past sessions in the database",
		"| workload | conns | rows=0 req/s (× ceiling) | rows=1M req/s (× ceiling) | rows=1M / rows=0 |",
		"| sessions: USDC | 8 | 500 (0.50×) | 300 (0.38×) | 0.60× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ceiling: single-row insert |") {
		t.Errorf("a ceiling row in the by-rows table:\n%s", out)
	}
	buf.Reset()
	writeByRows(&buf, recs[:2])
	if buf.Len() != 0 {
		t.Errorf("one size printed a comparison:\n%s", buf.String())
	}
}

// TestByRowsSessionCeiling checks the by-rows table once the runs measured
// the session-row ceiling: each cell gives both ratios, and the
// session-row ceiling is a row of its own (divided by the insert one).
func TestByRowsSessionCeiling(t *testing.T) {
	var recs []record
	for _, size := range []struct {
		rows                string
		ceil, row, sessions float64
	}{{"0", 1000, 400, 200}, {"1M", 1000, 500, 100}} {
		for _, m := range []measurement{
			{Workload: "ceiling: single-row insert", Provides: ceilInsert, Rate: size.ceil},
			{Workload: "ceiling: session-row insert", Provides: ceilSession, Ceiling: ceilInsert, Rate: size.row},
			{Workload: "sessions: Kaspa kpub", Ceiling: ceilInsert, Rate: size.sessions},
		} {
			m.Run, m.Clients = 1, 8
			recs = append(recs, record{Label: "sqlite", Rows: size.rows, Suite: &m})
		}
	}
	var buf bytes.Buffer
	writeByRows(&buf, recs)
	out := buf.String()
	for _, want := range []string{
		"| workload | conns | rows=0 req/s (× ceiling / × session-row) | rows=1M req/s (× ceiling / × session-row) | rows=1M / rows=0 |",
		"| sessions: Kaspa kpub | 8 | 200 (0.20× / 0.50×) | 100 (0.10× / 0.20×) | 0.50× |",
		"| ceiling: session-row insert | 8 | 400 (0.40×) | 500 (0.50×) | 1.25× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestByRowsBatched checks the by-rows table once the runs measured the
// ceilings plain and prepared and the batched one: Till's cells divide by
// the faster insert and session-row ceilings and by the batched one.
func TestByRowsBatched(t *testing.T) {
	var recs []record
	for _, size := range []struct {
		rows     string
		sessions float64
	}{{"0", 200}, {"1M", 100}} {
		for _, m := range []measurement{
			{Workload: "ceiling: single-row insert, plain", Provides: ceilInsert, Rate: 800},
			{Workload: "ceiling: single-row insert, prepared", Provides: ceilInsert, Rate: 1000},
			{Workload: "ceiling: session-row insert, plain", Provides: ceilSession, Ceiling: ceilInsert, Rate: 400},
			{Workload: "ceiling: session-row insert, prepared", Provides: ceilSession, Ceiling: ceilInsert, Rate: 500},
			{Workload: "ceiling: session-row, batched, prepared", Provides: ceilBatched, Ceiling: ceilInsert, Rate: 2000},
			{Workload: "sessions: Kaspa single-address", Ceiling: ceilInsert, Rate: size.sessions},
		} {
			m.Run, m.Clients = 1, 32
			recs = append(recs, record{Label: "sqlite", Rows: size.rows, Suite: &m})
		}
	}
	var buf bytes.Buffer
	writeByRows(&buf, recs)
	out := buf.String()
	for _, want := range []string{
		"| workload | conns | rows=0 req/s (× ceiling / × session-row / × batched) | rows=1M req/s (× ceiling / × session-row / × batched) | rows=1M / rows=0 |",
		"| sessions: Kaspa single-address | 32 | 200 (0.20× / 0.40× / 0.10×) | 100 (0.10× / 0.20× / 0.05×) | 0.50× |",
		"| ceiling: session-row, batched, prepared | 32 | 2000 (2.00× / 4.00×) | 2000 (2.00× / 4.00×) | 1.00× |",
		"| ceiling: session-row insert, plain | 32 | 400 (0.40×) | 400 (0.40×) | 1.00× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestReportOldRecords reads JSON records as the suite wrote them before
// the session-row ceiling existed, and after it but before the plain,
// prepared and batched ceilings: the tables keep the ratios those runs
// measured.
func TestReportOldRecords(t *testing.T) {
	var lines []string
	for _, rows := range []string{"0", "1M"} {
		lines = append(lines,
			`{"Label":"sqlite","Rows":"`+rows+`","Suite":{"Run":1,"Workload":"ceiling: single-row insert","Clients":8,"Ceiling":"","Provides":"insert","Rate":6000,"P50":1000000,"P99":3000000,"N":12000,"Errors":0,"ChainCalls":0}}`,
			`{"Label":"sqlite","Rows":"`+rows+`","Suite":{"Run":1,"Workload":"sessions: USDC","Clients":8,"Ceiling":"insert","Provides":"","Rate":1500,"P50":4000000,"P99":9000000,"N":3000,"Errors":0,"ChainCalls":0}}`)
	}
	file := t.TempDir() + "/old.jsonl"
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := runReport([]string{file}, &buf, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "| sessions: USDC | 8 | 1500 (0.25×) | 1500 (0.25×) | 1.00× |"; !strings.Contains(buf.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, buf.String())
	}
	if strings.Contains(buf.String(), "session-row") {
		t.Errorf("a session-row column without its ceiling:\n%s", buf.String())
	}

	lines = nil
	for _, rows := range []string{"0", "1M"} {
		lines = append(lines,
			`{"Label":"postgres","Rows":"`+rows+`","Suite":{"Run":1,"Workload":"ceiling: single-row insert","Clients":32,"Ceiling":"","Provides":"insert","Rate":4000,"P50":1000000,"P99":3000000,"N":8000,"Errors":0,"ChainCalls":0,"CPU":90000}}`,
			`{"Label":"postgres","Rows":"`+rows+`","Suite":{"Run":1,"Workload":"ceiling: session-row insert","Clients":32,"Ceiling":"insert","Provides":"session-row","Rate":2000,"P50":1000000,"P99":3000000,"N":4000,"Errors":0,"ChainCalls":0}}`,
			`{"Label":"postgres","Rows":"`+rows+`","Suite":{"Run":1,"Workload":"sessions: USDC","Clients":32,"Ceiling":"insert","Provides":"","Rate":1000,"P50":4000000,"P99":9000000,"N":2000,"Errors":0,"ChainCalls":0}}`)
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := runReport([]string{file}, &buf, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "| sessions: USDC | 32 | 1000 (0.25× / 0.50×) | 1000 (0.25× / 0.50×) | 1.00× |"; !strings.Contains(buf.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, buf.String())
	}
	if strings.Contains(buf.String(), "batched") {
		t.Errorf("a batched column without its ceiling:\n%s", buf.String())
	}
}

func TestParseWatch(t *testing.T) {
	ok := []string{"-till", "http://127.0.0.1:3000", "-kaspa", "http://127.0.0.1:1", "-evm", "http://127.0.0.1:2",
		"-metrics", "http://127.0.0.1:9100", "-pid", "42", "-db", "postgres://x/y", "-state", "/tmp/s.json", "-open", "100k"}
	o, err := parseWatch(ok, io.Discard)
	if err != nil || o.Open != 100_000 || o.Label != "postgres" || o.Runs != 3 || o.Cycles != 3 || o.Settle != 17 || o.Pay != 5 || o.Interval != 2*time.Second {
		t.Fatalf("%+v %v", o, err)
	}
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{"-metrics", "localhost:9100"}, "-metrics"},
		{[]string{"-pid", "0"}, "-pid"},
		{[]string{"-db", "sqlite:/x"}, "-db"},
		{[]string{"-cycles", "0"}, "-cycles"},
		{[]string{"-settle", "-1"}, "-settle"},
		{[]string{"-open", "many"}, "-open"},
	} {
		if _, err := parseWatch(append(append([]string(nil), ok...), tc.extra...), io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.extra, err, tc.want)
		}
	}
}

func TestPercentileAndLoadSpan(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if percentile(xs, 50) != 5 || percentile(xs, 99) != 10 || percentile(nil, 50) != 0 {
		t.Errorf("percentile: %v %v", percentile(xs, 50), percentile(xs, 99))
	}
	if got := loadSpan([]string{"1 2 3 → 4 5 6", "7 8 9 → 10 11 12"}); got != "1 2 3 → 10 11 12" {
		t.Errorf("loadSpan %q", got)
	}
}

// TestDetectedAt: a payment the Kaspa watcher takes out of pending is read
// back through the harness's own connection (its driver and settings, not
// Till's) with the time Till recorded it, which lies between the payment
// and the end of the cycle that recorded it; a session still pending is
// left out.
func TestDetectedAt(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	var ps [2]*models.Payment
	for i := range ps {
		p, err := f.env.Store.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: f.slug})
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	w := &kaspa.Watcher{Client: f.client, Store: f.env.Store}
	f.chain.Advance(1)
	sent := time.Now()
	if _, err := f.chain.Submit(double.TxSpec{Outputs: []double.Output{{Address: ps[0].PayAddress, Sompi: ps[0].AmountExpected}}}); err != nil {
		t.Fatal(err)
	}
	if res, err := w.Cycle(ctx); err != nil || res.Matched != 1 {
		t.Fatalf("cycle: %+v %v", res, err)
	}
	after := time.Now()

	db, postgres := harnessDB(t, f.env.Store.DB().W(ctx))
	got, err := detectedAt(ctx, db, postgres, []string{ps[0].ID, ps[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	at, ok := got[ps[0].ID]
	if len(got) != 1 || !ok {
		t.Fatalf("detected %v, want only %s", got, ps[0].ID)
	}
	// Till stamps with microseconds (truncated).
	if at.Before(sent.Truncate(time.Microsecond)) || at.After(after) {
		t.Errorf("detected at %s, want between the payment %s and the cycle's end %s", at, sent, after)
	}
}

// harnessDB opens Till's test database the way till-bench does (openDB),
// from the name Till's own connection gives it.
func harnessDB(t *testing.T, gdb *gorm.DB) (*sql.DB, bool) {
	t.Helper()
	var dbURL string
	if modeltest.Engine() == models.Postgres {
		var name string
		if err := gdb.Raw("SELECT current_database()").Scan(&name).Error; err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(os.Getenv("TILL_TEST_POSTGRES_URL"))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		dbURL = u.String()
	} else {
		var file string
		if err := gdb.Raw("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file).Error; err != nil || file == "" {
			t.Fatalf("database file %q: %v", file, err)
		}
		dbURL = "sqlite://" + file
	}
	db, postgres, err := openDB(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, postgres
}

// TestPeriods times cycles from the scrapes at which their count moved:
// two more cycles over 3.8 s are 1.9 s each; a chain that moved once has
// no period yet, and one that never moved none either.
func TestPeriods(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	p := newPeriods(map[string]float64{"kaspa": 10, "local": 4, "idle": 1})
	for _, s := range []struct {
		ms     int
		counts map[string]float64
	}{
		{20, map[string]float64{"kaspa": 10, "local": 4, "idle": 1}},
		{40, map[string]float64{"kaspa": 11, "local": 4, "idle": 1}}, // kaspa: first completion seen
		{60, map[string]float64{"kaspa": 11, "local": 5, "idle": 1}}, // local: first, and only
		{1940, map[string]float64{"kaspa": 12, "local": 5, "idle": 1}},
		{3840, map[string]float64{"kaspa": 13, "local": 5, "idle": 1}},
		{3860, map[string]float64{"kaspa": 13, "local": 5, "idle": 1}},
	} {
		p.observe(at(s.ms), s.counts)
	}
	if got := p.ms("kaspa"); got != 1900 {
		t.Errorf("kaspa period %v ms, want 1900", got)
	}
	if got := p.ms("local"); got != 0 {
		t.Errorf("local period %v ms after one completion, want 0", got)
	}
	if got := p.ms("idle"); got != 0 {
		t.Errorf("idle period %v ms, want 0", got)
	}
}

// TestBothChains: a round waits for Kaspa's watcher and an EVM one.
func TestBothChains(t *testing.T) {
	for _, tc := range []struct {
		counts map[string]float64
		want   bool
	}{
		{map[string]float64{"kaspa": 3, "local": 2}, true},
		{map[string]float64{"local": 2}, false},
		{map[string]float64{"kaspa": 3}, false},
		{map[string]float64{}, false},
	} {
		if got := bothChains(tc.counts); got != tc.want {
			t.Errorf("bothChains(%v) = %v, want %v", tc.counts, got, tc.want)
		}
	}
}
