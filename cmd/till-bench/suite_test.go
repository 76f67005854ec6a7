package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
)

func TestSpread(t *testing.T) {
	cases := []struct {
		in   []float64
		want [3]float64
	}{
		{nil, [3]float64{}},
		{[]float64{5}, [3]float64{5, 5, 5}},
		{[]float64{9, 1, 5}, [3]float64{1, 5, 9}},
		{[]float64{4, 1, 3, 2}, [3]float64{1, 2.5, 4}},
	}
	for _, tc := range cases {
		in := append([]float64(nil), tc.in...)
		if got := spread(tc.in); got != tc.want {
			t.Errorf("spread(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("spread reordered its input: %v", tc.in)
			}
		}
	}
}

// TestSummarize checks that each figure is divided by its own run's
// ceiling: the HTTP one at 32 connections whatever the workload's, the
// insert one at the workload's concurrency; what is divided by the insert
// ceiling is also divided by the session-row ceiling where the run has
// one, and the session-row ceilings themselves by the insert ceiling.
func TestSummarize(t *testing.T) {
	ms := []measurement{
		{Run: 1, Workload: "ceiling: http", Clients: 32, Provides: ceilHTTP, Rate: 1000},
		{Run: 1, Workload: "ceiling: insert", Clients: 8, Provides: ceilInsert, Rate: 400},
		{Run: 1, Workload: "ceiling: insert", Clients: 32, Provides: ceilInsert, Rate: 500},
		{Run: 1, Workload: "ceiling: session-row", Clients: 8, Provides: ceilSession, Ceiling: ceilInsert, Rate: 200},
		{Run: 1, Workload: "ceiling: no indexes", Clients: 8, Provides: ceilSessionBare, Ceiling: ceilInsert, Rate: 300},
		{Run: 1, Workload: "polls", Clients: 32, Ceiling: ceilHTTP, Rate: 250, P99: 4 * time.Millisecond, ChainCalls: 3},
		{Run: 1, Workload: "sessions", Clients: 8, Ceiling: ceilInsert, Rate: 100, CPU: 300 * time.Microsecond},
		{Run: 1, Workload: "sessions", Clients: 32, Ceiling: ceilInsert, Rate: 100, Errors: 1},
		{Run: 2, Workload: "ceiling: http", Clients: 32, Provides: ceilHTTP, Rate: 2000},
		{Run: 2, Workload: "ceiling: insert", Clients: 8, Provides: ceilInsert, Rate: 200},
		{Run: 2, Workload: "ceiling: insert", Clients: 32, Provides: ceilInsert, Rate: 500},
		{Run: 2, Workload: "ceiling: session-row", Clients: 8, Provides: ceilSession, Ceiling: ceilInsert, Rate: 100},
		{Run: 2, Workload: "ceiling: no indexes", Clients: 8, Provides: ceilSessionBare, Ceiling: ceilInsert, Rate: 150},
		{Run: 2, Workload: "polls", Clients: 32, Ceiling: ceilHTTP, Rate: 1000, P99: 8 * time.Millisecond, ChainCalls: 5},
		{Run: 2, Workload: "sessions", Clients: 8, Ceiling: ceilInsert, Rate: 100, CPU: 500 * time.Microsecond},
		{Run: 2, Workload: "sessions", Clients: 32, Ceiling: ceilInsert, Rate: 250, Errors: 2},
	}
	rows := summarize(ms)
	var names []string
	byName := map[string]row{}
	for _, r := range rows {
		name := r.Workload + "/" + strconv.Itoa(r.Clients)
		names = append(names, name)
		byName[name] = r
	}
	if got := strings.Join(names, " "); got != "ceiling: http/32 ceiling: insert/8 ceiling: insert/32 ceiling: session-row/8 "+
		"ceiling: no indexes/8 polls/32 sessions/8 sessions/32" {
		t.Fatalf("rows %s", got)
	}
	polls, s8, s32 := byName["polls/32"], byName["sessions/8"], byName["sessions/32"]
	if polls.Ratio != [3]float64{0.25, 0.375, 0.5} || polls.Rate != [3]float64{250, 625, 1000} ||
		polls.P99 != [3]float64{4, 6, 8} || polls.ChainCalls[1] != 4 || polls.Runs != 2 || polls.HasSession {
		t.Errorf("polls %+v", polls)
	}
	if s8.Ratio != [3]float64{0.25, 0.375, 0.5} {
		t.Errorf("sessions c=8 ratio %v: want 100/400 and 100/200", s8.Ratio)
	}
	if !s8.HasSession || s8.SessionRatio != [3]float64{0.5, 0.75, 1} {
		t.Errorf("sessions c=8 session-row ratio %v (%v): want 100/200 and 100/100", s8.SessionRatio, s8.HasSession)
	}
	if s32.Ratio != [3]float64{0.2, 0.35, 0.5} || s32.Errors != 3 || s32.HasSession {
		t.Errorf("sessions c=32 (no session-row ceiling at 32) %+v", s32)
	}
	if r := byName["ceiling: session-row/8"]; r.Ratio != [3]float64{0.5, 0.5, 0.5} || r.HasSession {
		t.Errorf("the session-row ceiling over the insert one: %+v", r)
	}
	if r := byName["ceiling: no indexes/8"]; r.Ratio != [3]float64{0.75, 0.75, 0.75} || r.SessionRatio != [3]float64{1.5, 1.5, 1.5} {
		t.Errorf("the no-index ceiling: %+v", r)
	}
	if rows[0].Ratio != [3]float64{} || rows[1].HasSession {
		t.Errorf("a ceiling has a ratio: %+v %+v", rows[0], rows[1])
	}
	var out bytes.Buffer
	writeTable(&out, rows)
	for _, want := range []string{
		"| polls | 32 | 625 (250–1000) |", "0.38× (0.25–0.50) of http | – |", "| ceiling: insert | 8 | 300 (200–400) |", "(ceiling) | – |",
		"| ceiling: session-row | 8 | 150 (100–200) | 0.00 | 0.00 (0.00–0.00) | 0.50× (0.50–0.50) of insert | – |",
		"| sessions | 8 | 100 (100–100) | 0.00 | 0.00 (0.00–0.00) | 0.38× (0.25–0.50) of insert | 0.75× (0.50–1.00) | – | – | 0 | 0 | 400 (300–500) |",
		"| sessions | 32 | 175 (100–250) | 0.00 | 0.00 (0.00–0.00) | 0.35× (0.20–0.50) of insert | – | – | – | 0 | 3 | – |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSummarizePlainPreparedBatched checks the ceilings measured plain
// and prepared: each run's faster one is the ceiling, per concurrency;
// Till's own figures are also divided by the batched session-row
// ceiling, which is itself divided by the insert and session-row ones,
// and the table names every ratio's ceiling.
func TestSummarizePlainPreparedBatched(t *testing.T) {
	var ms []measurement
	for _, m := range []measurement{
		{Workload: "ceiling: single-row insert, plain", Provides: ceilInsert, Rate: 400},
		{Workload: "ceiling: single-row insert, prepared", Provides: ceilInsert, Rate: 500},
		{Workload: "ceiling: session-row insert, plain", Provides: ceilSession, Ceiling: ceilInsert, Rate: 250},
		{Workload: "ceiling: session-row insert, prepared", Provides: ceilSession, Ceiling: ceilInsert, Rate: 200},
		{Workload: "ceiling: session-row, batched, plain", Provides: ceilBatched, Ceiling: ceilInsert, Rate: 800},
		{Workload: "ceiling: session-row, batched, prepared", Provides: ceilBatched, Ceiling: ceilInsert, Rate: 1000},
		{Workload: "sessions", Ceiling: ceilInsert, Rate: 100},
	} {
		for run, scale := range []float64{1, 2} {
			for _, c := range []int{8, 32} {
				m.Run, m.Clients, m.Rate = run+1, c, m.Rate*scale*float64(c/8)
				ms = append(ms, m)
				m.Rate /= scale * float64(c/8)
			}
		}
	}
	byName := map[string]row{}
	for _, r := range summarize(ms) {
		byName[r.Workload+"/"+strconv.Itoa(r.Clients)] = r
	}
	for _, c := range []string{"8", "32"} {
		s := byName["sessions/"+c]
		if s.Ratio != [3]float64{0.2, 0.2, 0.2} || s.SessionRatio != [3]float64{0.4, 0.4, 0.4} ||
			!s.HasBatch || s.BatchRatio != [3]float64{0.1, 0.1, 0.1} {
			t.Errorf("sessions c=%s: %+v", c, s)
		}
	}
	plainRow, batched := byName["ceiling: session-row insert, plain/8"], byName["ceiling: session-row, batched, prepared/32"]
	if plainRow.Ratio != [3]float64{0.5, 0.5, 0.5} || plainRow.HasBatch || plainRow.HasSession {
		t.Errorf("the session-row ceiling, plain: %+v", plainRow)
	}
	if batched.Ratio != [3]float64{2, 2, 2} || batched.SessionRatio != [3]float64{4, 4, 4} || batched.HasBatch {
		t.Errorf("the batched ceiling: %+v", batched)
	}
	if r := byName["ceiling: single-row insert, plain/32"]; r.Ratio != [3]float64{} || r.Rate != [3]float64{1600, 2400, 3200} {
		t.Errorf("the slower insert ceiling: %+v", r)
	}
	var out bytes.Buffer
	writeTable(&out, summarize(ms))
	for _, want := range []string{
		"| × ceiling median (min–max) | × session-row ceiling | × batched session-row ceiling |",
		"| sessions | 8 | 150 (100–200) | 0.00 | 0.00 (0.00–0.00) | 0.20× (0.20–0.20) of insert | 0.40× (0.40–0.40) | 0.10× (0.10–0.10) | – | 0 | 0 | – |",
		"| ceiling: session-row, batched, prepared | 32 | 6000 (4000–8000) | 0.00 | 0.00 (0.00–0.00) | 2.00× (2.00–2.00) of insert | 4.00× (4.00–4.00) | – |",
		"× batched session-row ceiling: the same rows committed in batches",
		"the faster of the two in each run is the ceiling",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestProcCPU reads CPU time from /proc/PID/stat: a command name with
// spaces and parentheses, utime and stime in clock ticks, and this
// process's own figure growing with work.
func TestProcCPU(t *testing.T) {
	stat := []byte("4242 (till (serve) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 250 40 0 0 20 0 12 0 100 0 0\n")
	if d, err := parseStatCPU(stat); err != nil || d != 2900*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 2.9s", d, err)
	}
	for _, bad := range []string{"4242 till S 1", "4242 (till) S 1 2 3", "4242 (till) S 1 4242 4242 0 -1 4194560 5000 0 0 0 x 40 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q): no error", bad)
		}
	}
	if d, err := procCPU(0); d != 0 || err != nil {
		t.Errorf("procCPU(0) = %v, %v", d, err)
	}
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var after time.Duration
	for x := 0; after <= before; x++ {
		if after, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		for i := range 1_000_000 {
			x ^= i
		}
	}
}

func TestParseSuite(t *testing.T) {
	ok := []string{"-till", "http://127.0.0.1:3000", "-kaspa", "http://127.0.0.1:18080", "-evm", "http://127.0.0.1:8545",
		"-ceiling", "http://127.0.0.1:3999", "-insert-db", "sqlite:///tmp/c.db"}
	o, err := parseSuite(ok, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Label != "sqlite" || o.Duration != 5*time.Second || o.Runs != 3 || o.Open != 1000 || o.Pprof != "" || !o.XFF || o.Only != nil {
		t.Fatalf("defaults %+v", o)
	}
	o, err = parseSuite(append(ok, "-label", "pg", "-d", "2s", "-runs", "1", "-pprof", "http://127.0.0.1:9100", "-profile-dir", "/tmp/p",
		"-only", "sessions", "-xff=false"), io.Discard)
	if err != nil || o.Label != "pg" || o.Duration != 2*time.Second || o.Runs != 1 || o.ProfileDir != "/tmp/p" || o.XFF ||
		!o.Only.MatchString("sessions: USDC") || o.Only.MatchString("status: KasPay") {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parseSuite([]string{"-till", "http://127.0.0.1:3000", "-setup-only", "-state", "/tmp/s.json"}, io.Discard)
	if err != nil || !o.SetupOnly || o.State != "/tmp/s.json" {
		t.Fatalf("set-up only needs only -till and -state: %+v %v", o, err)
	}
	o, err = parseSuite(append(ok, "-rows", "1M", "-json", "/tmp/r.jsonl", "-state", "/tmp/s.json", "-pid", "42"), io.Discard)
	if err != nil || o.Rows != "1M" || o.Past != 1_000_000 || o.JSON != "/tmp/r.jsonl" || o.SetupOnly || o.PID != 42 {
		t.Fatalf("%+v %v", o, err)
	}
	if o.RowCeiling != "" || o.RowCeilingPID != 0 {
		t.Fatalf("no HTTP + session-row ceiling unless asked: %+v", o)
	}
	o, err = parseSuite(append(ok, "-row-ceiling", "http://127.0.0.1:4000", "-row-ceiling-pid", "43"), io.Discard)
	if err != nil || o.RowCeiling != "http://127.0.0.1:4000" || o.RowCeilingPID != 43 {
		t.Fatalf("%+v %v", o, err)
	}
	with := func(k, v string) []string {
		out := append([]string(nil), ok...)
		for i := 0; i < len(out); i += 2 {
			if out[i] == k {
				out[i+1] = v
				return out
			}
		}
		return append(out, k, v)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"till not http", with("-till", "https://x:1"), "-till"},
		{"kaspa missing", with("-kaspa", ""), "-kaspa"},
		{"insert db", with("-insert-db", "mysql://x"), "-insert-db"},
		{"pprof without dir", with("-pprof", "http://127.0.0.1:9100"), "go together"},
		{"zero runs", with("-runs", "0"), "-runs"},
		{"negative pid", with("-pid", "-1"), "-pid"},
		{"negative db pid", with("-db-pid", "-1"), "-db-pid"},
		{"negative ceiling pid", with("-ceiling-pid", "-1"), "-ceiling-pid"},
		{"row ceiling not http", with("-row-ceiling", "127.0.0.1:4000"), "-row-ceiling"},
		{"negative row ceiling pid", with("-row-ceiling-pid", "-1"), "-row-ceiling-pid"},
		{"pgstat not postgres", with("-pgstat", "sqlite:///x"), "-pgstat"},
		{"rows not a count", with("-rows", "many"), "-rows"},
		{"bad only", with("-only", "("), "-only"},
		{"stray argument", append(append([]string(nil), ok...), "extra"), "unexpected argument"},
		{"setup without state", append(append([]string(nil), ok...), "-setup-only"), "needs -state"},
	} {
		if _, err := parseSuite(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestCeilings runs both ceilings briefly: the bare handler over real HTTP
// and the insert loop on a SQLite file, whose rows must all be there.
func TestCeilings(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := ceilingApp()
	go func() { _ = app.Listener(ln) }()
	defer func() { _ = app.Shutdown() }()
	host := ln.Addr().String()
	res, err := (&Load{Addr: host, Clients: 4, Request: func(int) []byte { return RawRequest("GET", host, "/status/abc", nil) },
		Check: expect(200, `"id":"abc","status":"pending"`)}).Run(Count(50))
	if err != nil || res.Errors > 0 || res.N != 50 {
		t.Fatalf("http ceiling: %v %v %+v", err, res.FirstErr, res)
	}

	in, err := openInserter("sqlite://" + filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for i, mode := range []insertMode{plain, prepared} {
		res = in.Run(8, mode, Count(200))
		var n int
		if err := in.db.QueryRow("SELECT COUNT(DISTINCT id) FROM ceiling_payments").Scan(&n); err != nil || res.Errors > 0 || res.N != 200 || n != 200*(i+1) {
			t.Fatalf("insert ceiling, %s: %d rows, %+v, %v %v", mode, n, res, err, res.FirstErr)
		}
	}
}

// TestTakeQueued checks what one batch takes: the first row and whatever
// else is queued, up to maxBatch, stopping at an empty or closed queue.
func TestTakeQueued(t *testing.T) {
	queue := make(chan batchReq, 2*maxBatch)
	for n := range 2 * maxBatch {
		queue <- batchReq{row: []any{n + 1}}
	}
	if b := takeQueued(queue, batchReq{row: []any{0}}); len(b) != maxBatch || b[0].row[0] != 0 || b[maxBatch-1].row[0] != maxBatch-1 {
		t.Fatalf("full queue: %d rows", len(b))
	}
	if b := takeQueued(queue, batchReq{row: []any{-1}}); len(b) != maxBatch || b[1].row[0] != maxBatch {
		t.Fatalf("second batch: %d rows", len(b))
	}
	if b := takeQueued(queue, batchReq{row: []any{-2}}); len(b) != 3 {
		t.Fatalf("the rest: %d rows", len(b))
	}
	if b := takeQueued(queue, batchReq{row: []any{-3}}); len(b) != 1 {
		t.Fatalf("empty queue: %d rows", len(b))
	}
	close(queue)
	if b := takeQueued(queue, batchReq{row: []any{-4}}); len(b) != 1 {
		t.Fatalf("closed queue: %d rows", len(b))
	}
}

// dropSibling drops, at the end of the test, the Postgres database
// sessionDB made beside base (SQLite's file is in the test's temp folder).
func dropSibling(t *testing.T, base, sibling string) {
	if modeltest.Engine() != models.Postgres {
		return
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		u, _ := url.Parse(base)
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+strings.TrimPrefix(u.Path, "/")+"_"+sibling+" WITH (FORCE)")
	})
}

// TestSessionCeiling makes the session-row ceiling's database twice beside
// a fresh one (SQLite or Postgres, TILL_TEST_DB): with Till's schema and
// past sessions it takes Till-shaped rows plain, prepared and batched (each
// row committed once: as many rows as inserts, no amount twice, and on
// Postgres fewer transactions than rows), which Till's own model reads
// back; it refuses a second pending session with the same amount on the
// address (the real partial unique index is there), alone and in a batch,
// which then commits nothing; made again without indexes it starts empty,
// has no secondary index left, and takes that duplicate.
func TestSessionCeiling(t *testing.T) {
	ctx := context.Background()
	base := modeltest.URL(t)
	postgres := modeltest.Engine() == models.Postgres
	dropSibling(t, base, "session")
	const past = 1000
	in, err := openSessionInserter(ctx, base, "session", false, past)
	if err != nil {
		t.Fatal(err)
	}
	if in.Indexes < 10 {
		t.Errorf("payments has %d secondary indexes in Till's schema", in.Indexes)
	}
	var n, amounts, ids int
	count := func() {
		t.Helper()
		if err := in.db.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT amount_expected), COUNT(DISTINCT p.id) FROM payments p"+
			" JOIN payment_links l ON l.id = p.link_id AND l.merchant_id = p.merchant_id WHERE p.status = 'pending' AND l.slug = 'ceiling'").
			Scan(&n, &amounts, &ids); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments WHERE status <> 'pending'").Scan(&n); err != nil || n != past {
		t.Fatalf("%d past sessions, want %d: %v", n, past, err)
	}
	total := 0
	for _, run := range []struct {
		mode    insertMode
		batched bool
		clients int
		rows    int
	}{{plain, false, 8, 100}, {prepared, false, 8, 100}, {plain, true, 32, 300}, {prepared, true, 8, 300}} {
		var res Result
		if run.batched {
			res = in.RunBatched(run.clients, run.mode, Count(run.rows))
		} else {
			res = in.Run(run.clients, run.mode, Count(run.rows))
		}
		total += run.rows
		count()
		if res.Errors > 0 || res.N != run.rows || n != total || amounts != total || ids != total {
			t.Fatalf("%s, batched %v: %d pending sessions on the link, %d amounts, %d ids after %d inserts; %+v %v",
				run.mode, run.batched, n, amounts, ids, total, res, res.FirstErr)
		}
	}
	if postgres {
		var txs int
		if err := in.db.QueryRowContext(ctx, "SELECT COUNT(DISTINCT xmin::text) FROM payments WHERE status = 'pending' AND amount_expected > $1",
			10*sompiPerKAS+200).Scan(&txs); err != nil || txs >= 600 {
			t.Errorf("%d transactions for the 600 batched rows: %v", txs, err)
		}
	}
	if err := in.insertOne(ctx, prepared, 1); err == nil {
		t.Error("a second pending session with the same amount went in")
	}
	for _, mode := range []insertMode{plain, prepared} {
		in.rows.Store(int64(total - 1)) // the next row, total, is there
		if res := in.RunBatched(1, mode, Count(1)); res.Errors != 1 {
			t.Errorf("%s: a second pending session of the same amount went in batched: %+v", mode, res)
		}
		if err := in.commitBatch(ctx, mode, []batchReq{{row: in.row(int64(total + 1))}, {row: in.row(int64(total))}}); err == nil {
			t.Errorf("%s: a batch with a second pending session of the same amount went in", mode)
		}
	}
	if count(); n != total {
		t.Errorf("%d pending sessions after failed batches, want %d", n, total)
	}
	mdb, err := models.Open(ctx, in.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var p models.Payment
	err = mdb.R(ctx).Where("status = ?", models.StatusPending).Order("amount_expected").First(&p).Error
	mdb.Close()
	if err != nil || p.AmountExpected != 10*sompiPerKAS+1 || p.PayAddress != suiteAddress ||
		p.RateAt == nil || p.USDCents == nil || p.DerivationIndex != nil || !p.ExpiresAt.After(p.CreatedAt) || p.LinkID == nil {
		t.Fatalf("read back through Till's model: %+v %v", p, err)
	}
	in.Close()

	in, err = openSessionInserter(ctx, base, "session", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := in.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments").Scan(&n); err != nil || n != 0 || in.Indexes != 0 {
		t.Fatalf("made again without indexes: %d rows, %d indexes, %v", n, in.Indexes, err)
	}
	for _, mode := range []insertMode{plain, prepared} {
		if err := in.insertOne(ctx, mode, 1); err != nil {
			t.Fatalf("without indexes, %s: %v", mode, err)
		}
	}
}
