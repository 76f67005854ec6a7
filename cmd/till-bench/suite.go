package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hdKpub is a mainnet kpub (the Go kaspawallet test vector used in
// models/kaspa): merchants with it get one derived address per session.
const hdKpub = "kpub2KUE88roSn5peP1rEZnbRuKYw1fEPbhqBoXVWW7mLfkrLvQBAjUqwx7m1ezeSfqfecv9RUYePuHf99iW51i31WjwWjnzKDCUcTucBSiBbJA"

// suiteLinks is how many links of each Kaspa kind the suite's sessions
// cycle over; USDC gets suiteUSDCLinks, ten times as many, because its
// unique offsets span 1…9,999 micro-USDC against Kaspa's 1…99,999 sompi:
// both kinds then have about 2M distinct open amounts, so sessions left
// open by earlier runs crowd neither (at 20 links a third of USDC's 200k
// amounts were taken by the third run, 1.5 insert attempts a session).
const (
	suiteLinks     = 20
	suiteUSDCLinks = 10 * suiteLinks
)

// suiteAddress is the single-address merchant's Kaspa payout address.
const suiteAddress = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"

// suiteReceiver receives the suite's USDC sessions (any EIP-55 address).
const suiteReceiver = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

// suiteOptions is what `till-bench suite` is told (see parseSuite).
type suiteOptions struct {
	Label    string
	Till     string // base URL of till serve
	Kaspa    string // base URL of kaspa-double
	EVM      string // base URL of evm-double
	Ceiling  string // base URL of till-bench ceiling-http
	InsertDB string // sqlite://path or postgres://… for the insert ceiling
	Pprof    string // base URL of Till's metrics listener with TILL_PPROF=true; empty: no profiles
	// PID is till serve's process: its CPU per request is read from /proc
	// (0: not measured).
	PID int
	// DBPID is the database server's main process (Postgres: the
	// postmaster), whose tree's CPU per request is read too; 0 for SQLite,
	// which runs inside Till.
	DBPID int
	// CeilingPID is the bare Fiber handler's process (its CPU per request
	// on the HTTP ceiling; 0: not measured).
	CeilingPID int
	// RowCeiling is the base URL of till-bench ceiling-http -insert-db
	// (the HTTP + session-row ceiling; empty: not measured) and
	// RowCeilingPID its process (its CPU per request; 0: not measured).
	RowCeiling    string
	RowCeilingPID int
	ProfileDir    string
	Duration      time.Duration
	Warmup        time.Duration
	Runs          int
	Open          int // open sessions the status workloads poll
	// Only, when set, keeps the workloads whose name matches (the
	// ceilings always run).
	Only *regexp.Regexp
	// XFF names a new customer every 50 session requests; without it all
	// come from 127.0.0.1 (Till's per-IP limit must then be raised).
	XFF bool
	// State is a file holding what the set-up made (suiteState): with
	// SetupOnly the suite sets Till up, writes it and stops (then
	// till-bench prefill adds rows with till serve stopped); without, an
	// existing file is read instead of setting up again.
	State     string
	SetupOnly bool
	// Rows names the database's size in the JSON records (e.g. 1M); Past
	// is that count, which the session-row ceilings' databases get too.
	Rows string
	Past int
	// JSON, when set, is a file the measurements are appended to, one JSON
	// object a line, for till-bench report.
	JSON string
	// PgStat, when set, is a Postgres URL on the server under test, which
	// has pg_stat_statements loaded: each workload's top statements are
	// read there (pgstat.go).
	PgStat string
}

// parseSuite reads the suite's flags:
//
//	till-bench suite -label sqlite -till URL -kaspa URL -evm URL -ceiling URL -insert-db DBURL
//	    [-d 5s] [-warmup 500ms] [-runs 3] [-open 1000] [-pprof URL -profile-dir DIR]
//	    [-state FILE [-setup-only]] [-rows 1M] [-json FILE] [-pid PID] [-db-pid PID] [-ceiling-pid PID]
//	    [-pgstat postgres://…] [-row-ceiling URL [-row-ceiling-pid PID]]
func parseSuite(args []string, stderr io.Writer) (suiteOptions, error) {
	var o suiteOptions
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Label, "label", "", "name of this configuration in the report (e.g. sqlite)")
	fs.StringVar(&o.Till, "till", "", "base URL of till serve")
	fs.StringVar(&o.Kaspa, "kaspa", "", "base URL of kaspa-double (chain calls are read from its /_double/calls)")
	fs.StringVar(&o.EVM, "evm", "", "base URL of evm-double (chain calls are read from its /_double/calls)")
	fs.StringVar(&o.Ceiling, "ceiling", "", "base URL of till-bench ceiling-http")
	fs.StringVar(&o.InsertDB, "insert-db", "", "sqlite://PATH or postgres://… for the single-row insert ceiling")
	fs.StringVar(&o.Pprof, "pprof", "", "base URL of Till's metrics listener with TILL_PPROF=true: take CPU and allocation profiles in run 1")
	fs.StringVar(&o.ProfileDir, "profile-dir", "", "where -pprof writes the profiles")
	fs.DurationVar(&o.Duration, "d", 5*time.Second, "how long each workload runs")
	fs.DurationVar(&o.Warmup, "warmup", 500*time.Millisecond, "unmeasured load before each workload")
	fs.IntVar(&o.Runs, "runs", 3, "how many times the whole set runs (the report gives the spread)")
	fs.IntVar(&o.Open, "open", 1000, "open sessions the status workloads poll")
	only := fs.String("only", "", "run only the workloads matching this regexp (and the ceilings)")
	fs.BoolVar(&o.XFF, "xff", true, "send X-Forwarded-For, a new customer every 50 session requests")
	fs.StringVar(&o.State, "state", "", "file of what the set-up made: read it if it exists, else set up and write it")
	fs.BoolVar(&o.SetupOnly, "setup-only", false, "set Till up, write -state and stop (needs only -till)")
	fs.IntVar(&o.PID, "pid", 0, "till serve's process id: measure its CPU per request (/proc/PID/stat)")
	fs.IntVar(&o.DBPID, "db-pid", 0, "the database server's main process id (the postmaster): measure its and its children's CPU per request")
	fs.IntVar(&o.CeilingPID, "ceiling-pid", 0, "till-bench ceiling-http's process id: measure its CPU per request")
	fs.StringVar(&o.RowCeiling, "row-ceiling", "", "base URL of till-bench ceiling-http -insert-db: measure the HTTP + session-row ceiling")
	fs.IntVar(&o.RowCeilingPID, "row-ceiling-pid", 0, "that process's id: measure its CPU per request")
	fs.StringVar(&o.Rows, "rows", "0", "past sessions in Till's database, for the JSON records (till-bench prefill -rows)")
	fs.StringVar(&o.PgStat, "pgstat", "", "postgres://… on the server under test, with pg_stat_statements loaded: print each workload's top statements")
	fs.StringVar(&o.JSON, "json", "", "append the measurements to this file, one JSON object a line (till-bench report)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("suite: unexpected argument %q", fs.Arg(0))
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return o, fmt.Errorf("suite: -only: %w", err)
		}
		o.Only = re
	}
	if o.SetupOnly && o.State == "" {
		return o, errors.New("suite: -setup-only needs -state")
	}
	for _, u := range []struct{ name, value string }{{"till", o.Till}, {"kaspa", o.Kaspa}, {"evm", o.EVM}, {"ceiling", o.Ceiling}} {
		if o.SetupOnly && u.name != "till" {
			continue
		}
		if err := checkHTTP(u.name, u.value); err != nil {
			return o, fmt.Errorf("suite: %w", err)
		}
	}
	if o.SetupOnly {
		return o, nil
	}
	var err error
	if o.Past, err = parseCount(o.Rows); err != nil {
		return o, fmt.Errorf("suite: -rows: %w", err)
	}
	if !strings.HasPrefix(o.InsertDB, "sqlite://") && !strings.HasPrefix(o.InsertDB, "postgres://") {
		return o, fmt.Errorf("suite: -insert-db %q: want sqlite://PATH or postgres://…", o.InsertDB)
	}
	if o.RowCeiling != "" {
		if err := checkHTTP("row-ceiling", o.RowCeiling); err != nil {
			return o, fmt.Errorf("suite: %w", err)
		}
	}
	if o.PgStat != "" && !strings.HasPrefix(o.PgStat, "postgres://") {
		return o, fmt.Errorf("suite: -pgstat %q: want postgres://…", o.PgStat)
	}
	if (o.Pprof == "") != (o.ProfileDir == "") {
		return o, errors.New("suite: -pprof and -profile-dir go together")
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Runs < 1 || o.Open < 1 || o.PID < 0 || o.DBPID < 0 || o.CeilingPID < 0 || o.RowCeilingPID < 0 {
		return o, errors.New("suite: -d must be positive, -warmup, -pid, -db-pid, -ceiling-pid and -row-ceiling-pid not negative, -runs and -open at least 1")
	}
	if o.Label == "" {
		o.Label = strings.SplitN(o.InsertDB, ":", 2)[0]
	}
	return o, nil
}

// Ceilings a workload is compared with.
const (
	ceilHTTP   = "http"   // the bare Fiber handler, at 32 connections
	ceilInsert = "insert" // single-row inserts at the workload's concurrency
	// ceilSession is single-row inserts of Till's own session rows into
	// Till's own schema, at the workload's concurrency: a second ceiling
	// for what is divided by ceilInsert.
	ceilSession = "session-row"
	// ceilSessionBare is the same with payments' secondary indexes dropped.
	ceilSessionBare = "session-row-bare"
	// ceilBatched is the session-row ceiling with the rows committed in
	// batches, as Till's writer commits sessions (inserter.RunBatched).
	ceilBatched = "session-row-batched"
	// ceilHTTPRow is the HTTP + session-row ceiling (rowCeiling): Till's
	// session body parsed and its row inserted over real HTTP, at the
	// workload's concurrency, the faster of its plain and batched routes.
	ceilHTTPRow = "http+row"
)

// workload is one measured load.
type workload struct {
	name    string
	clients int
	// ceiling names what the workload is divided by; empty for the
	// highest ceilings (the session-row ones are divided by ceilInsert).
	ceiling string
	// provides names the ceiling this workload measures, if it is one.
	provides string
	// profile: take CPU and allocation profiles of Till during run 1.
	profile bool
	// inProcess: the work is done in this process (the insert ceilings),
	// whose CPU is measured instead of Till's.
	inProcess bool
	run       func(next func() bool) (Result, error)
}

// measurement is one workload in one run.
type measurement struct {
	Run        int
	Workload   string
	Clients    int
	Ceiling    string
	Provides   string
	Rate       float64
	P50, P99   time.Duration
	N, Errors  int
	FirstErr   error `json:"-"`
	ChainCalls int   // Kaspa REST and EVM JSON-RPC calls during the workload
	// CPU is the CPU time per request of the process doing the work: Till
	// (with -pid), the bare handler (with -ceiling-pid), or this one for
	// the insert ceilings (on Postgres only the client's side: the
	// server's are in DBCPU). Zero when not measured.
	CPU time.Duration `json:",omitempty"`
	// DBCPU is the database server's CPU per request, its main process
	// and children together (with -db-pid; zero on SQLite, in-process).
	DBCPU time.Duration `json:",omitempty"`
	// GenCPU is this process's, the load generator's, CPU per request.
	GenCPU time.Duration `json:",omitempty"`
	// MachineCPU is the whole machine's busy CPU per request, every
	// process on every core (other loads on a shared machine included).
	MachineCPU time.Duration `json:",omitempty"`
	// Idle is the machine's idle share over the window (0…1) and Cores its
	// core count; nil in records from before they were measured.
	Idle  *float64 `json:",omitempty"`
	Cores int      `json:",omitempty"`
	// Statements are the top statements by execution time (-pgstat).
	Statements []stmtStat `json:",omitempty"`
}

// runSuite sets Till up through its API, then runs every workload
// o.Runs times and prints the table.
func runSuite(args []string, stdout, stderr io.Writer) error {
	o, err := parseSuite(args, stderr)
	if err != nil {
		return err
	}
	f, err := newSuiteFixture(o)
	if err != nil || f == nil {
		return err
	}
	defer f.close()
	fmt.Fprintf(stderr, "%s: set up (%d open sessions, %d KiraPay links); payments has %d columns and %d secondary indexes (%d in the no-index ceiling)\n",
		o.Label, len(f.open), len(f.Codes), len(sessionColumns), f.rowIns.Indexes, f.bareIns.Indexes)
	var all []measurement
	var loads []string
	for run := 1; run <= o.Runs; run++ {
		start := loadAvg()
		for _, w := range f.workloads() {
			m, err := f.measure(run, w)
			if err != nil {
				return fmt.Errorf("%s run %d, %s c=%d: %w", o.Label, run, w.name, w.clients, err)
			}
			fmt.Fprintf(stderr, "%s run %d: %-34s c=%-2d %8.0f/s p50 %6.2f ms p99 %6.2f ms, %d errors, %d chain calls, CPU µs/op %.0f, DB %.0f, generator %.0f, machine %.0f, idle %.0f %%\n",
				o.Label, run, w.name, w.clients, m.Rate, Ms(m.P50), Ms(m.P99), m.Errors, m.ChainCalls, us(m.CPU), us(m.DBCPU), us(m.GenCPU),
				us(m.MachineCPU), 100*deref(m.Idle))
			if m.Errors > 0 {
				fmt.Fprintf(stderr, "  first error: %v\n", m.FirstErr)
			}
			all = append(all, m)
		}
		loads = append(loads, fmt.Sprintf("run %d: %s → %s", run, start, loadAvg()))
	}
	if o.JSON != "" {
		recs := make([]record, len(all))
		for i := range all {
			recs[i] = record{Label: o.Label, Rows: o.Rows, Suite: &all[i]}
		}
		if err := appendRecords(o.JSON, recs); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\n### %s, %s past sessions (%d runs of %s per workload)\n\n", o.Label, o.Rows, o.Runs, o.Duration)
	fmt.Fprintf(stdout, "Load average (1/5/15 min) at start → end: %s\n\n", strings.Join(loads, "; "))
	writeTable(stdout, summarize(all))
	writeStatements(stdout, all)
	return nil
}

// checkHTTP checks that flag name's value is an http://host:port URL.
func checkHTTP(name, value string) error {
	if pu, err := url.Parse(value); err != nil || pu.Scheme != "http" || pu.Host == "" {
		return fmt.Errorf("-%s %q: want http://host:port", name, value)
	}
	return nil
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// suiteState is what the set-up made in Till, kept in a file between
// `suite -setup-only` and the measuring suite (with prefill in between).
type suiteState struct {
	// The single-address merchant, its Kaspa address, its first KAS link
	// and that link's price in sompi: where prefill puts past sessions.
	MerchantID string
	Address    string
	LinkID     string
	LinkAmount int64
	// The kpub merchant (prefill moves its next derivation index on).
	HDMerchantID string
	// Slugs of KAS links of a single-address merchant, of KAS links of a
	// merchant with a kpub, and of USDC links on the local chain: priced
	// 10, 11, … so each has its own unique-amount space (one address and
	// one price allow 99,999 open Kaspa or 9,999 open USDC sessions).
	Single, Kpub, USDC []string
	APIKey             string   // the single-address merchant's KiraPay key
	Codes              []string // KiraPay link codes
	// Templates are one open session of each kind, opened through the API,
	// which prefill copies.
	Templates struct{ Single, Kpub, USDC string }
}

func readState(file string) (suiteState, error) {
	var st suiteState
	raw, err := os.ReadFile(file) //nolint:gosec // the harness's own state file
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("%s: %w", file, err)
	}
	return st, nil
}

func writeState(file string, st suiteState) error {
	raw, err := json.MarshalIndent(st, "", "  ") //nolint:gosec // a throwaway bench merchant's key, in the harness's own temp folder

	if err != nil {
		return err
	}
	return os.WriteFile(file, raw, 0o600)
}

// suiteFixture is what the suite set up in Till.
type suiteFixture struct {
	o    suiteOptions
	host string
	// The insert ceilings: bare (ceiling_payments), session-row (Till's
	// schema) and session-row without payments' secondary indexes.
	ins, rowIns, bareIns *inserter
	pgStat               *pgStat // with -pgstat
	suiteState
	open     []string // open Kaspa sessions
	polls    []string // each open session's checkout poll URL (with its version)
	customer atomic.Int64
}

// newSuiteFixture sets Till up through its API (or reads -state), then
// waits for USDC sessions to open and opens the sessions the status
// workloads poll. With -setup-only it writes -state and returns nil.
func newSuiteFixture(o suiteOptions) (*suiteFixture, error) {
	u, _ := url.Parse(o.Till)
	f := &suiteFixture{o: o, host: u.Host}
	if st, err := readState(o.State); err == nil && !o.SetupOnly {
		f.suiteState = st
	} else {
		if o.State != "" && !o.SetupOnly && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := f.setUp(); err != nil {
			return nil, err
		}
		if o.State != "" {
			if err := writeState(o.State, f.suiteState); err != nil {
				return nil, err
			}
		}
		if o.SetupOnly {
			return nil, nil
		}
	}
	err := f.openInserters()
	if err == nil && o.PgStat != "" {
		f.pgStat, err = openPgStat(o.PgStat)
	}
	if err == nil {
		_, err = f.usdcSession()
	}
	if err == nil {
		err = f.openSessions()
	}
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// openInserters opens the insert ceilings' databases: -insert-db and,
// beside it, two fresh ones with Till's schema, each holding -rows past
// sessions as Till's does (the batched ceiling shares the first).
func (f *suiteFixture) openInserters() error {
	var err error
	if f.ins, err = openInserter(f.o.InsertDB); err != nil {
		return err
	}
	ctx := context.Background()
	if f.rowIns, err = openSessionInserter(ctx, f.o.InsertDB, "session", false, f.o.Past); err != nil {
		return err
	}
	f.bareIns, err = openSessionInserter(ctx, f.o.InsertDB, "session_bare", true, f.o.Past)
	return err
}

// close closes the insert ceilings' databases.
func (f *suiteFixture) close() {
	for _, in := range []*inserter{f.ins, f.rowIns, f.bareIns} {
		if in != nil {
			in.Close()
		}
	}
	if f.pgStat != nil {
		f.pgStat.Close()
	}
}

// setUp registers the merchants and their links through Till's API and
// opens one session of each kind (the templates).
func (f *suiteFixture) setUp() error {
	stamp := time.Now().UnixNano()
	token, err := f.register(fmt.Sprintf("bench-%d@example.com", stamp))
	if err != nil {
		return err
	}
	me, err := f.call("GET", "/api/auth/me", nil, http.StatusOK, "Authorization", "Bearer "+token)
	if err != nil {
		return err
	}
	f.APIKey, _ = me["apiKey"].(string)
	f.MerchantID, _ = me["id"].(string)
	f.Address, _ = me["kaspaAddress"].(string)
	hdToken, err := f.register(fmt.Sprintf("bench-hd-%d@example.com", stamp))
	if err != nil {
		return err
	}
	hd, err := f.call("PATCH", "/api/settings", map[string]any{"kaspaKpub": hdKpub}, http.StatusOK, "Authorization", "Bearer "+hdToken)
	if err != nil {
		return err
	}
	f.HDMerchantID, _ = hd["id"].(string)
	if f.HDMerchantID == "" {
		if hd, err = f.call("GET", "/api/auth/me", nil, http.StatusOK, "Authorization", "Bearer "+hdToken); err != nil {
			return err
		}
		f.HDMerchantID, _ = hd["id"].(string)
	}
	for i := range suiteLinks {
		for _, l := range []struct {
			slugs *[]string
			token string
			body  map[string]any
		}{
			{&f.Single, token, map[string]any{"title": "Coffee", "amount": 10 + i, "currency": "KAS"}},
			{&f.Kpub, hdToken, map[string]any{"title": "Tea", "amount": 10 + i, "currency": "KAS"}},
			{&f.USDC, token, map[string]any{"title": "Ebook", "amount": 10 + i, "currency": "USDC", "chain": "local", "receiver": suiteReceiver}},
		} {
			slug, id, err := f.link(l.token, l.body)
			if err != nil {
				return err
			}
			if f.LinkID == "" {
				f.LinkID, f.LinkAmount = id, int64(10+i)*sompiPerKAS
			}
			*l.slugs = append(*l.slugs, slug)
		}
	}
	for i := suiteLinks; i < suiteUSDCLinks; i++ {
		slug, _, err := f.link(token, map[string]any{"title": "Ebook", "amount": 10 + i, "currency": "USDC", "chain": "local", "receiver": suiteReceiver})
		if err != nil {
			return err
		}
		f.USDC = append(f.USDC, slug)
	}
	for i := range 100 {
		r, err := f.call("POST", "/api/link/generate", map[string]any{"currency": "USDC", "receiver": suiteReceiver,
			"price": 10 + i, "name": "Bench", "chain": "local"}, http.StatusCreated, "x-api-key", f.APIKey)
		if err != nil {
			return err
		}
		data, _ := r["data"].(map[string]any)
		link, _ := data["url"].(string)
		if link == "" {
			return fmt.Errorf("POST /api/link/generate: no url in %v", r)
		}
		f.Codes = append(f.Codes, path.Base(link))
	}
	if f.Templates.USDC, err = f.usdcSession(); err != nil {
		return err
	}
	for _, t := range []struct {
		id   *string
		slug string
	}{{&f.Templates.Single, f.Single[0]}, {&f.Templates.Kpub, f.Kpub[0]}} {
		if *t.id, err = f.session(t.slug); err != nil {
			return err
		}
	}
	return nil
}

// sompiPerKAS converts the links' whole-KAS prices.
const sompiPerKAS = 100_000_000

// session opens one session on slug as a new customer and returns its id.
func (f *suiteFixture) session(slug string) (string, error) {
	r, err := f.call("POST", "/api/payments", map[string]any{"paymentLinkSlug": slug}, http.StatusOK,
		"X-Forwarded-For", FakeIP(int(f.customer.Add(1))))
	if err != nil {
		return "", err
	}
	id, _ := r["id"].(string)
	if id == "" {
		return "", fmt.Errorf("POST /api/payments: no id in %v", r)
	}
	return id, nil
}

// usdcSession opens a USDC session, waiting up to 60 s for the first one
// to succeed: it needs the EVM watcher's first cycle (the chain's head).
func (f *suiteFixture) usdcSession() (string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		id, err := f.session(f.USDC[0])
		if err == nil {
			return id, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("USDC sessions still fail after 60 s: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// call sends one JSON request to Till and decodes the JSON answer, which
// must have status want.
func (f *suiteFixture) call(method, p string, body any, want int, headers ...string) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, f.o.Till+p, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != want || json.Unmarshal(raw, &out) != nil {
		return nil, fmt.Errorf("%s %s: status %d: %s", method, p, resp.StatusCode, truncate(raw, 300))
	}
	return out, nil
}

func (f *suiteFixture) register(email string) (string, error) {
	r, err := f.call("POST", "/api/auth/register", map[string]any{"email": email, "password": "correct horse battery",
		"name": "Bench Shop", "kaspaAddress": suiteAddress}, http.StatusOK)
	if err != nil {
		return "", err
	}
	token, _ := r["token"].(string)
	if token == "" {
		return "", fmt.Errorf("register: no token in %v", r)
	}
	return token, nil
}

// link creates a payment link and returns its slug and id.
func (f *suiteFixture) link(token string, body map[string]any) (string, string, error) {
	r, err := f.call("POST", "/api/links", body, http.StatusOK, "Authorization", "Bearer "+token)
	if err != nil {
		return "", "", err
	}
	slug, _ := r["slug"].(string)
	id, _ := r["id"].(string)
	if slug == "" || id == "" {
		return "", "", fmt.Errorf("POST /api/links: no slug or id in %v", r)
	}
	return slug, id, nil
}

var pollURLRe = regexp.MustCompile(`id="pay-poll"[^>]*hx-get="([^"]+)"`)

// openSessions opens o.Open Kaspa sessions for the status workloads and
// reads each one's checkout poll URL, which carries the version the page
// holds (an unchanged session answers it with 204).
func (f *suiteFixture) openSessions() error {
	var mu sync.Mutex
	res, err := f.sessionLoad(f.Single[:1], 32, func(id string) {
		mu.Lock()
		f.open = append(f.open, id)
		mu.Unlock()
	}).Run(Count(f.o.Open))
	if err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("opening sessions: %d failed; first: %w", res.Errors, res.FirstErr)
	}
	for _, id := range f.open {
		resp, err := httpGet(f.o.Till + "/pay/status/" + id)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := pollURLRe.FindSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil {
			return fmt.Errorf("GET /pay/status/%s: status %d, no poll URL: %s", id, resp.StatusCode, truncate(body, 300))
		}
		f.polls = append(f.polls, html.UnescapeString(string(m[1])))
	}
	return nil
}

// sessionLoad opens sessions on the slugs in turn, each 50 from a new customer address
// (X-Forwarded-For; Till trusts 127.0.0.1 as a proxy), so the per-IP limit
// on new sessions applies per customer as it would live. seen, if set,
// gets each new session's id.
func (f *suiteFixture) sessionLoad(slugs []string, clients int, seen func(id string)) *Load {
	return f.sessionLoadAt(f.host, "/api/payments", http.StatusOK, slugs, clients, seen)
}

// sessionLoadAt is sessionLoad's requests sent to host's path (Till's
// or the HTTP + session-row ceiling's), whose answers must have status
// want.
func (f *suiteFixture) sessionLoadAt(host, p string, want int, slugs []string, clients int, seen func(id string)) *Load {
	bodies := make([][]byte, len(slugs))
	for i, slug := range slugs {
		bodies[i] = []byte(fmt.Sprintf(`{"paymentLinkSlug":%q}`, slug))
	}
	base := int(f.customer.Add(1 << 16)) // far apart from any other load's customers
	return &Load{Addr: host, Clients: clients,
		Request: func(i int) []byte {
			body := bodies[i%len(bodies)]
			if !f.o.XFF {
				return RawRequest("POST", host, p, body)
			}
			return RawRequest("POST", host, p, body, "X-Forwarded-For", FakeIP(base+i/50))
		},
		Check: func(status int, body []byte) error {
			var s struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			}
			if status != want || json.Unmarshal(body, &s) != nil || s.ID == "" || s.Status != "pending" {
				return fmt.Errorf("status %d: %s", status, truncate(body, 200))
			}
			if seen != nil {
				seen(s.ID)
			}
			return nil
		},
	}
}

// expect checks a response's status and that its body holds marker.
func expect(want int, marker string) func(int, []byte) error {
	return func(status int, body []byte) error {
		if status != want || !bytes.Contains(body, []byte(marker)) {
			return fmt.Errorf("status %d: %s", status, truncate(body, 200))
		}
		return nil
	}
}

// workloads lists what one run measures, ceilings first.
func (f *suiteFixture) workloads() []workload {
	get := func(addr, p string, headers ...string) []byte { return RawRequest("GET", addr, p, nil, headers...) }
	cycle := func(reqs [][]byte) func(int) []byte { return func(i int) []byte { return reqs[i%len(reqs)] } }
	perSession := func(p func(i int, id string) string) [][]byte {
		reqs := make([][]byte, len(f.open))
		for i, id := range f.open {
			reqs[i] = get(f.host, p(i, id))
		}
		return reqs
	}
	httpLoad := func(reqs [][]byte, check func(int, []byte) error) func(func() bool) (Result, error) {
		return (&Load{Addr: f.host, Clients: 32, Request: cycle(reqs), Check: check}).Run
	}
	cu, _ := url.Parse(f.o.Ceiling)
	ceilingReqs := make([][]byte, len(f.open))
	for i, id := range f.open {
		ceilingReqs[i] = get(cu.Host, "/status/"+id)
	}
	ws := []workload{{
		name: "ceiling: bare Fiber JSON", clients: 32, provides: ceilHTTP,
		run: (&Load{Addr: cu.Host, Clients: 32, Request: cycle(ceilingReqs), Check: expect(200, `"pending"`)}).Run,
	}}
	// Each insert ceiling runs plain and prepared; the faster of the two
	// in a run is that run's ceiling (summarize).
	for _, in := range []struct {
		name     string
		ins      *inserter
		provides string
		ceiling  string
		batched  bool
	}{
		{"ceiling: single-row insert", f.ins, ceilInsert, "", false},
		{"ceiling: session-row insert", f.rowIns, ceilSession, ceilInsert, false},
		{"ceiling: session-row, no indexes", f.bareIns, ceilSessionBare, ceilInsert, false},
		{"ceiling: session-row, batched", f.rowIns, ceilBatched, ceilInsert, true},
	} {
		for _, mode := range []insertMode{plain, prepared} {
			for _, c := range []int{8, 32} {
				run := func(next func() bool) (Result, error) { return in.ins.Run(c, mode, next), nil }
				if in.batched {
					run = func(next func() bool) (Result, error) { return in.ins.RunBatched(c, mode, next), nil }
				}
				ws = append(ws, workload{name: in.name + ", " + mode.String(), clients: c, provides: in.provides,
					ceiling: in.ceiling, inProcess: true, run: run})
			}
		}
	}
	// The HTTP + session-row ceiling is driven as Till's single-address
	// sessions are: the same bodies, generator and concurrencies.
	if ru, err := url.Parse(f.o.RowCeiling); err == nil && f.o.RowCeiling != "" {
		for _, route := range []struct{ name, path string }{
			{"ceiling: HTTP + session-row insert", "/sessions"},
			{"ceiling: HTTP + session-row insert, batched", "/sessions/batched"},
		} {
			for _, c := range []int{8, 32} {
				ws = append(ws, workload{name: route.name, clients: c, provides: ceilHTTPRow, ceiling: ceilInsert,
					run: func(next func() bool) (Result, error) {
						return f.sessionLoadAt(ru.Host, route.path, http.StatusCreated, f.Single, c, nil).Run(next)
					}})
			}
		}
	}
	kiraReads := func(next func() bool) (Result, error) {
		base := int(f.customer.Add(1 << 16))
		return (&Load{Addr: f.host, Clients: 32,
			Request: func(i int) []byte {
				return get(f.host, "/api/link/"+f.Codes[i%len(f.Codes)], "X-Forwarded-For", FakeIP(base+i/50))
			},
			Check: expect(200, `"code":200`)}).Run(next)
	}
	ws = append(ws,
		workload{name: "status: KasPay /api/payments/:id/status", clients: 32, ceiling: ceilHTTP, profile: true,
			run: httpLoad(perSession(func(_ int, id string) string { return "/api/payments/" + id + "/status" }), expect(200, `"status":"pending"`))},
		workload{name: "status: KiraPay /api/link/:code", clients: 32, ceiling: ceilHTTP, run: kiraReads},
		workload{name: "status: KiraPay /api/wallet/transactions", clients: 32, ceiling: ceilHTTP,
			run: httpLoad([][]byte{get(f.host, "/api/wallet/transactions", "x-api-key", f.APIKey)}, expect(200, `"code":200`))},
		workload{name: "status: checkout /pay/status/:id (200)", clients: 32, ceiling: ceilHTTP, profile: true,
			run: httpLoad(perSession(func(_ int, id string) string { return "/pay/status/" + id }), expect(200, `pay-poll`))},
		workload{name: "status: checkout /pay/status/:id?v= (204)", clients: 32, ceiling: ceilHTTP,
			run: httpLoad(perSession(func(i int, _ string) string { return f.polls[i] }), expect(204, ``))},
	)
	for _, s := range []struct {
		name  string
		slugs []string
	}{
		{"sessions: Kaspa single-address", f.Single}, {"sessions: Kaspa kpub", f.Kpub}, {"sessions: USDC", f.USDC},
	} {
		for _, c := range []int{8, 32} {
			ws = append(ws, workload{name: s.name, clients: c, ceiling: ceilInsert, profile: c == 32,
				run: func(next func() bool) (Result, error) { return f.sessionLoad(s.slugs, c, nil).Run(next) }})
		}
	}
	if f.o.Only == nil {
		return ws
	}
	kept := ws[:0]
	for _, w := range ws {
		if w.provides != "" || f.o.Only.MatchString(w.name) {
			kept = append(kept, w)
		}
	}
	return kept
}

// measure runs one workload after its warm-up, counting the chain calls
// made meanwhile and, in run 1 with -pprof, profiling Till.
func (f *suiteFixture) measure(run int, w workload) (measurement, error) {
	if f.o.Warmup > 0 {
		if _, err := w.run(Until(f.o.Warmup)); err != nil {
			return measurement{}, err
		}
	}
	if err := f.resetChainCalls(); err != nil {
		return measurement{}, err
	}
	var wg sync.WaitGroup
	var profErr error
	if run == 1 && w.profile && f.o.Pprof != "" {
		name := fmt.Sprintf("%s-%s-c%d", f.o.Label, slugify(w.name), w.clients)
		secs := int(f.o.Duration.Seconds())
		for _, kind := range []string{"profile", "allocs"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := download(fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", f.o.Pprof, kind, max(1, secs)),
					filepath.Join(f.o.ProfileDir, name+"."+map[string]string{"profile": "cpu", "allocs": "allocs"}[kind]+".pprof"))
				if err != nil {
					profErr = errors.Join(profErr, err)
				}
			}()
		}
	}
	pid := f.o.PID
	switch {
	case w.inProcess:
		pid = os.Getpid()
	case w.provides == ceilHTTP:
		pid = f.o.CeilingPID
	case w.provides == ceilHTTPRow:
		pid = f.o.RowCeilingPID
	case w.provides != "":
		pid = 0
	}
	if f.pgStat != nil {
		if err := f.pgStat.reset(); err != nil {
			return measurement{}, fmt.Errorf("pg_stat_statements_reset: %w", err)
		}
	}
	cpu0, cpuErr := readBudget(pid, f.o.DBPID, false)
	res, err := w.run(Until(f.o.Duration))
	cpu1, cpuErr1 := readBudget(pid, f.o.DBPID, true)
	wg.Wait()
	if err == nil {
		err = errors.Join(profErr, cpuErr, cpuErr1)
	}
	if err != nil {
		return measurement{}, err
	}
	calls, err := f.chainCalls()
	if err != nil {
		return measurement{}, err
	}
	m := measurement{Run: run, Workload: w.name, Clients: w.clients, Ceiling: w.ceiling, Provides: w.provides,
		Rate: res.Rate(), P50: res.Percentile(50), P99: res.Percentile(99), N: res.N, Errors: res.Errors,
		FirstErr: res.FirstErr, ChainCalls: calls}
	m.fill(cpu0, cpu1, pid, f.o.DBPID)
	if f.pgStat != nil {
		if m.Statements, err = f.pgStat.top(); err != nil {
			return measurement{}, fmt.Errorf("pg_stat_statements: %w", err)
		}
	}
	return m, nil
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// deref is *p, or 0 for nil.
func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// perOp is d over n operations (0 when none).
func perOp(d time.Duration, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// procCPU is process pid's CPU time so far, user and system, from
// /proc/PID/stat; 0 for pid 0.
func procCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(raw)
}

// parseStatCPU reads utime and stime, the 14th and 15th fields of a
// /proc/PID/stat line.
func parseStatCPU(stat []byte) (time.Duration, error) {
	f, err := statFields(stat)
	if err != nil {
		return 0, err
	}
	return ticks(f[11], f[12])
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// slugify makes a file name part of a workload name.
func slugify(s string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

func download(u, file string) error {
	resp, err := httpGet(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	out, err := os.Create(file) //nolint:gosec // a profile file in the harness's own output folder
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (f *suiteFixture) resetChainCalls() error {
	for _, u := range []string{f.o.Kaspa + "/_double/calls/reset", f.o.EVM + "/_double/calls/reset"} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s: status %d", u, resp.StatusCode)
		}
	}
	return nil
}

// chainCalls sums the calls both doubles received since the last reset.
func (f *suiteFixture) chainCalls() (int, error) {
	var kaspaCalls map[string]int
	var evmCalls struct{ Calls map[string]int }
	for _, c := range []struct {
		url string
		out any
	}{{f.o.Kaspa + "/_double/calls", &kaspaCalls}, {f.o.EVM + "/_double/calls", &evmCalls}} {
		resp, err := httpGet(c.url)
		if err != nil {
			return 0, err
		}
		err = json.NewDecoder(resp.Body).Decode(c.out)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("GET %s: %w", c.url, err)
		}
	}
	n := 0
	for _, v := range kaspaCalls {
		n += v
	}
	for _, v := range evmCalls.Calls {
		n += v
	}
	return n, nil
}

// httpGet is a GET without a deadline of its own (the harness's requests
// to its own processes end with them).
func httpGet(u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}
