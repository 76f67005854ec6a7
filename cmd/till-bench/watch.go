package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// The watcher stage of make bench-http (OPEN=…): till serve runs on a
// database prefilled with open sessions; `till-bench watch` reads the
// watcher cycles from Till's metrics listener (cycle time, chain calls per
// cycle), cross-checks the calls with the doubles' counters, reads the
// server's memory from /proc and pays some sessions through the doubles,
// timing each until the database says it is no longer pending.

// watchOptions is what `till-bench watch` is told (see parseWatch).
type watchOptions struct {
	Label    string
	Open     int // open sessions in the database (for the report)
	Till     string
	Kaspa    string
	EVM      string
	Metrics  string // base URL of Till's metrics listener
	PID      int    // till serve's process id, for /proc/PID/status
	DB       string
	State    string
	Runs     int
	Cycles   int           // cycles of each chain per run
	Settle   int           // cycles of each chain since the server started before round 1
	Pay      int           // sessions of each kind paid per run
	Interval time.Duration // the watchers' poll interval
	JSON     string
}

// parseWatch reads
//
//	till-bench watch -label sqlite -open 100k -till URL -kaspa URL -evm URL -metrics URL -pid PID
//	    -db DBURL -state FILE [-runs 3] [-cycles 3] [-pay 5] [-interval 2s] [-json FILE]
func parseWatch(args []string, stderr io.Writer) (watchOptions, error) {
	var o watchOptions
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Label, "label", "", "name of this configuration in the report (e.g. sqlite)")
	open := fs.String("open", "0", "open sessions in the database (1000, 100k), for the report")
	fs.StringVar(&o.Till, "till", "", "base URL of till serve")
	fs.StringVar(&o.Kaspa, "kaspa", "", "base URL of kaspa-double")
	fs.StringVar(&o.EVM, "evm", "", "base URL of evm-double")
	fs.StringVar(&o.Metrics, "metrics", "", "base URL of Till's metrics listener (TILL_METRICS_ADDR)")
	fs.IntVar(&o.PID, "pid", 0, "till serve's process id (its memory is read from /proc)")
	fs.StringVar(&o.DB, "db", "", "Till's database, sqlite://PATH or postgres://… (detection is read there)")
	fs.StringVar(&o.State, "state", "", "the suite's state file (till-bench suite -setup-only)")
	fs.IntVar(&o.Runs, "runs", 3, "measurement rounds on this server (the report gives the spread)")
	fs.IntVar(&o.Cycles, "cycles", 3, "watcher cycles of each chain per round")
	fs.IntVar(&o.Settle, "settle", 17, "watcher cycles of each chain since the server started before the first round "+
		"(17: past the start-up cycles workers.Loop plans for, its first and a window of 16)")
	fs.IntVar(&o.Pay, "pay", 5, "sessions of each kind (Kaspa single-address, Kaspa kpub, USDC) paid per round")
	fs.DurationVar(&o.Interval, "interval", 2*time.Second, "the watchers' poll interval (TILL_POLL_INTERVAL)")
	fs.StringVar(&o.JSON, "json", "", "append the measurements to this file, one JSON object a line (till-bench report)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("watch: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.Open, err = parseCount(*open); err != nil {
		return o, fmt.Errorf("watch: -open: %w", err)
	}
	for _, u := range []struct{ name, value string }{{"till", o.Till}, {"kaspa", o.Kaspa}, {"evm", o.EVM}, {"metrics", o.Metrics}} {
		if err := checkHTTP(u.name, u.value); err != nil {
			return o, fmt.Errorf("watch: %w", err)
		}
	}
	if !strings.HasPrefix(o.DB, "sqlite://") && !strings.HasPrefix(o.DB, "postgres://") {
		return o, fmt.Errorf("watch: -db %q: want sqlite://PATH or postgres://…", o.DB)
	}
	if o.PID < 1 || o.State == "" || o.Runs < 1 || o.Cycles < 1 || o.Settle < 0 || o.Pay < 0 || o.Interval <= 0 {
		return o, errors.New("watch: -pid and -state are required; -runs and -cycles at least 1, -settle and -pay not negative, -interval positive")
	}
	if o.Label == "" {
		o.Label = strings.SplitN(o.DB, ":", 2)[0]
	}
	return o, nil
}

// watchMeasurement is one chain's watcher in one round.
type watchMeasurement struct {
	Label string
	Open  int
	Run   int
	Chain string // the metrics' chain label: kaspa, or the EVM chain's name
	// Cycles completed in the round, their mean duration and the chain
	// calls per cycle from Till's metrics, and the calls per cycle the
	// double counted.
	Cycles              int
	CycleMs             float64
	CallsPerCycle       float64
	DoubleCallsPerCycle float64
	// PeriodMs is the mean time from one cycle to the next (start to
	// start, from their completions, to within a scrape): with
	// CallsPerCycle, the chain calls per second.
	PeriodMs float64 `json:",omitempty"`
	// DetectMs are the detection latencies of the sessions paid on this
	// chain: pay request sent → the time Till recorded the payment as
	// detected (its detected_at, written in the transaction that takes it
	// out of pending; same machine clock). PolledMs are the same payments
	// timed the older way: pay request answered → the harness's 20 ms poll
	// of the database first finds them no longer pending (an upper bound:
	// it adds up to a poll period and the query). Missed counts those
	// never detected.
	DetectMs []float64
	PolledMs []float64 `json:",omitempty"`
	// PayMaxMs is the longest pay request to the double: how much a
	// detection time may overstate (the payment lands inside it).
	PayMaxMs float64 `json:",omitempty"`
	Missed   int
	// RSS and peak RSS of till serve after the round, MiB.
	RSSMiB, HWMMiB float64
	Load           string
}

// sample is one series of a Prometheus text exposition.
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// parseMetrics reads the Prometheus text format (name{l="v",…} value),
// skipping comments.
func parseMetrics(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{Labels: map[string]string{}}
		var rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics: bad line %q", line)
			}
			s.Name, rest = line[:i], line[j+1:]
			if err := parseLabels(line[i+1:j], s.Labels); err != nil {
				return nil, fmt.Errorf("metrics: %q: %w", line, err)
			}
		} else {
			sp := strings.IndexAny(line, " \t")
			if sp < 0 {
				return nil, fmt.Errorf("metrics: bad line %q", line)
			}
			s.Name, rest = line[:sp], line[sp:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// parseLabels reads l1="v1",l2="v2" (values with \" \\ \n escapes).
func parseLabels(s string, into map[string]string) error {
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(strings.TrimSpace(s), ",") {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return fmt.Errorf("bad labels %q", s)
		}
		name := strings.TrimSpace(s[:eq])
		var v strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				if s[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(s[i])
		}
		if i >= len(s) {
			return fmt.Errorf("unterminated label %q", name)
		}
		into[name] = v.String()
		s = s[i+1:]
	}
	return nil
}

// sumBy adds up the series called name by the value of their label.
func sumBy(ss []sample, name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range ss {
		if s.Name == name {
			out[s.Labels[label]] += s.Value
		}
	}
	return out
}

// cycleStats is the watchers' counters at one moment, by chain.
type cycleStats struct {
	Count, Seconds, Calls map[string]float64
}

func statsOf(ss []sample) cycleStats {
	return cycleStats{
		Count:   sumBy(ss, "till_watcher_cycle_duration_seconds_count", "chain"),
		Seconds: sumBy(ss, "till_watcher_cycle_duration_seconds_sum", "chain"),
		Calls:   sumBy(ss, "till_chain_calls_total", "chain"),
	}
}

// perCycle is, for each chain that completed cycles between a and b, the
// cycles, the mean cycle time in ms and the chain calls per cycle.
func perCycle(a, b cycleStats) map[string][3]float64 {
	out := map[string][3]float64{}
	for chain, n := range b.Count {
		d := n - a.Count[chain]
		if d <= 0 {
			continue
		}
		out[chain] = [3]float64{d, (b.Seconds[chain] - a.Seconds[chain]) / d * 1000, (b.Calls[chain] - a.Calls[chain]) / d}
	}
	return out
}

// procMemory reads VmRSS and VmHWM (MiB) from /proc/PID/status.
func procMemory(status []byte) (rss, hwm float64, err error) {
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "VmRSS:" && f[0] != "VmHWM:") {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s %q: %w", f[0], f[1], err)
		}
		if f[0] == "VmRSS:" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, errors.New("no VmRSS or VmHWM")
	}
	return rss, hwm, nil
}

// runWatch measures the watchers of a running till serve, o.Runs rounds,
// and prints the table.
func runWatch(args []string, stdout, stderr io.Writer) error {
	o, err := parseWatch(args, stderr)
	if err != nil {
		return err
	}
	st, db, postgres, err := openStateDB(o.State, o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	w := &watcher{o: o, st: st, db: db, postgres: postgres}
	if err := w.settle(); err != nil {
		return fmt.Errorf("%s open=%d: %w", o.Label, o.Open, err)
	}
	var all []watchMeasurement
	for run := 1; run <= o.Runs; run++ {
		ms, err := w.round(run)
		if err != nil {
			return fmt.Errorf("%s open=%d round %d: %w", o.Label, o.Open, run, err)
		}
		for _, m := range ms {
			fmt.Fprintf(stderr, "%s open=%d round %d: %-6s %d cycles of %.1f ms every %.0f ms, %.1f chain calls/cycle (double %.1f), detection %v ms (polled %v; pay requests up to %.0f ms), %d missed, RSS %.0f MiB (peak %.0f)\n",
				o.Label, o.Open, run, m.Chain, m.Cycles, m.CycleMs, m.PeriodMs, m.CallsPerCycle, m.DoubleCallsPerCycle, roundAll(m.DetectMs), roundAll(m.PolledMs), m.PayMaxMs, m.Missed, m.RSSMiB, m.HWMMiB)
		}
		all = append(all, ms...)
	}
	if o.JSON != "" {
		recs := make([]record, len(all))
		for i := range all {
			recs[i] = record{Watch: &all[i]}
		}
		if err := appendRecords(o.JSON, recs); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\n### %s: watchers with %d open sessions (%d rounds of %d cycles, %d payments of each kind a round)\n\n",
		o.Label, o.Open, o.Runs, o.Cycles, o.Pay)
	writeWatchTable(stdout, all, o.Interval)
	return nil
}

func roundAll(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x + 0.5))
	}
	return out
}

// watcher is one `till-bench watch` run.
type watcher struct {
	o        watchOptions
	st       suiteState
	db       *sql.DB
	postgres bool
}

// round measures o.Cycles cycles of each chain, the memory after them and
// the detection of o.Pay payments of each kind.
func (w *watcher) round(run int) ([]watchMeasurement, error) {
	load0 := loadAvg()
	a, err := w.scrape()
	if err != nil {
		return nil, err
	}
	f := &suiteFixture{o: suiteOptions{Kaspa: w.o.Kaspa, EVM: w.o.EVM}}
	if err := f.resetChainCalls(); err != nil {
		return nil, err
	}
	// Wait for o.Cycles more completed cycles of every chain (Kaspa and the
	// EVM one: a chain whose first cycle is still running right after the
	// server started has no series yet, and its payments would go
	// unreported), scraping often enough to time them.
	deadline := time.Now().Add(time.Duration(w.o.Cycles+2)*w.o.Interval*5 + 60*time.Second)
	var b cycleStats
	per := newPeriods(a.Count)
	for {
		time.Sleep(scrapeEvery)
		if b, err = w.scrape(); err != nil {
			return nil, err
		}
		per.observe(time.Now(), b.Count)
		done := bothChains(b.Count)
		for chain := range b.Count {
			if b.Count[chain]-a.Count[chain] < float64(w.o.Cycles) {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("watcher cycles did not complete in time: before %v, now %v", a.Count, b.Count)
		}
	}
	kaspaCalls, evmCalls, err := w.doubleCalls()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.o.PID))
	if err != nil {
		return nil, err
	}
	rss, hwm, err := procMemory(raw)
	if err != nil {
		return nil, err
	}
	detect, err := w.detect(run)
	if err != nil {
		return nil, err
	}
	var out []watchMeasurement
	for chain, c := range perCycle(a, b) {
		m := watchMeasurement{Label: w.o.Label, Open: w.o.Open, Run: run, Chain: chain, Cycles: int(c[0]),
			CycleMs: c[1], CallsPerCycle: c[2], PeriodMs: per.ms(chain), RSSMiB: rss, HWMMiB: hwm, Load: load0 + " → " + loadAvg()}
		// The doubles were read a little after the last counted cycle: a
		// cycle in flight then may add its calls (the cross-check is rough).
		if chain == "kaspa" {
			m.DoubleCallsPerCycle = float64(kaspaCalls) / c[0]
			m.DetectMs, m.PolledMs, m.PayMaxMs, m.Missed = detect.recorded["kaspa"], detect.polled["kaspa"], detect.payMax["kaspa"], detect.missed["kaspa"]
		} else {
			m.DoubleCallsPerCycle = float64(evmCalls) / c[0]
			m.DetectMs, m.PolledMs, m.PayMaxMs, m.Missed = detect.recorded["evm"], detect.polled["evm"], detect.payMax["evm"], detect.missed["evm"]
		}
		out = append(out, m)
	}
	sortWatch(out)
	return out, nil
}

// settle waits until both watchers have completed o.Settle cycles since the
// server started: the rounds then measure steady state, not the start-up
// (the first cycles read every open session; workers.Loop plans its
// schedule from the last 16 cycles).
func (w *watcher) settle() error {
	deadline := time.Now().Add(time.Duration(w.o.Settle+2)*w.o.Interval*5 + 60*time.Second)
	for {
		st, err := w.scrape()
		if err != nil {
			return err
		}
		done := bothChains(st.Count)
		for _, n := range st.Count {
			done = done && n >= float64(w.o.Settle)
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("watchers did not complete %d cycles in time: %v", w.o.Settle, st.Count)
		}
		time.Sleep(w.o.Interval / 4)
	}
}

// bothChains reports whether counts has Kaspa's watcher and an EVM one.
func bothChains(counts map[string]float64) bool {
	evm := false
	for chain := range counts {
		evm = evm || chain != "kaspa"
	}
	_, kaspa := counts["kaspa"]
	return kaspa && evm
}

// scrapeEvery is how often a round reads Till's metrics while it waits for
// cycles: what the cycle period is measured to.
const scrapeEvery = 20 * time.Millisecond

// periods follows, per chain, the scrapes at which the count of completed
// cycles moved: the cycles between the first and the last such scrape took
// one period each on average (to within a scrape).
type periods struct {
	prev        map[string]float64
	first, last map[string]tick
}

type tick struct {
	at    time.Time
	count float64
}

// newPeriods starts from the counts of a scrape.
func newPeriods(counts map[string]float64) *periods {
	return &periods{prev: maps.Clone(counts), first: map[string]tick{}, last: map[string]tick{}}
}

// observe takes the counts of a scrape made at at.
func (p *periods) observe(at time.Time, counts map[string]float64) {
	for chain, n := range counts {
		if prev, ok := p.prev[chain]; ok && n > prev {
			if _, ok := p.first[chain]; !ok {
				p.first[chain] = tick{at, n}
			}
			p.last[chain] = tick{at, n}
		}
		p.prev[chain] = n
	}
}

// ms is chain's mean period in ms, 0 before it moved twice.
func (p *periods) ms(chain string) float64 {
	f, l := p.first[chain], p.last[chain]
	if l.count <= f.count {
		return 0
	}
	return Ms(l.at.Sub(f.at)) / (l.count - f.count)
}

func (w *watcher) scrape() (cycleStats, error) {
	resp, err := httpGet(w.o.Metrics + "/metrics")
	if err != nil {
		return cycleStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cycleStats{}, fmt.Errorf("GET %s/metrics: status %d", w.o.Metrics, resp.StatusCode)
	}
	ss, err := parseMetrics(resp.Body)
	if err != nil {
		return cycleStats{}, err
	}
	return statsOf(ss), nil
}

// doubleCalls reads how many calls each double received since the reset
// (the Kaspa double counts REST routes, the CoinGecko stand-in included;
// the EVM double counts HTTP requests, a batch once).
func (w *watcher) doubleCalls() (kaspaCalls, evmCalls int, err error) {
	var kc map[string]int
	var ec struct{ Requests int }
	for _, c := range []struct {
		url string
		out any
	}{{w.o.Kaspa + "/_double/calls", &kc}, {w.o.EVM + "/_double/calls", &ec}} {
		resp, err := httpGet(c.url)
		if err != nil {
			return 0, 0, err
		}
		err = json.NewDecoder(resp.Body).Decode(c.out)
		resp.Body.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("GET %s: %w", c.url, err)
		}
	}
	for _, n := range kc {
		kaspaCalls += n
	}
	return kaspaCalls, ec.Requests, nil
}

// payee is an open session to pay.
type payee struct {
	ID, Chain, Address string
	Amount             int64
	// sent and paid: when the pay request to the double went out and
	// when it was answered (the payment lands on the chain in between).
	sent, paid time.Time
}

// detections are the detection latencies (ms) of one round's payments by
// "kaspa" and "evm": recorded (pay sent → Till's detected_at) and polled
// (pay answered → the harness's poll saw it), the longest pay request and
// how many were missed.
type detections struct {
	recorded, polled map[string][]float64
	payMax           map[string]float64
	missed           map[string]int
}

// detect pays o.Pay open sessions of each kind through the doubles, spread
// over one poll interval, and times each until the database no longer has
// it pending.
//
// The detection time is the one Till recorded: detected_at, stamped from
// Till's clock (the harness's: same machine) in the transaction that takes
// the payment out of pending, against the moment the pay request was sent.
// Till takes the stamp when it starts applying the cycle's observation,
// after the chain answered and before the commit, which follows by the
// writes alone (ms). The payment lands on the double somewhere inside the
// pay request; timing from the request's start may overstate by its
// length (PayMaxMs), never understate. The poll below, every 20 ms, only
// finds out when to read the stamp; its own figure (answered → seen by a
// poll) is kept beside as the older measure. It overstates more: polling
// starts only once every payment of the round is sent, so a payment
// recorded meanwhile counts until the first poll.
func (w *watcher) detect(run int) (detections, error) {
	ctx := context.Background()
	d := detections{recorded: map[string][]float64{}, polled: map[string][]float64{}, payMax: map[string]float64{}, missed: map[string]int{}}
	if w.o.Pay == 0 {
		return d, nil
	}
	var kinds [3][]payee
	for k, q := range []struct {
		merchant string
		kaspa    bool
	}{{w.st.MerchantID, true}, {w.st.HDMerchantID, true}, {w.st.MerchantID, false}} {
		op := "="
		if !q.kaspa {
			op = "<>"
		}
		// The highest amounts: copies nobody paid yet (rounds pay new ones).
		ps, err := w.payees(ctx, bindFor(w.postgres, "SELECT id, chain, pay_address, amount_expected FROM payments "+
			"WHERE merchant_id = ? AND status = 'pending' AND chain "+op+" 'kaspa' ORDER BY amount_expected DESC LIMIT ?"),
			q.merchant, w.o.Pay)
		if err != nil {
			return d, err
		}
		kinds[k] = ps
		if len(kinds[k]) < w.o.Pay {
			return d, fmt.Errorf("round %d: only %d open sessions of kind %d to pay", run, len(kinds[k]), k)
		}
	}
	// Paid at random moments over about one poll interval, so the
	// latencies sample every phase of the watchers' cycles.
	var all []*payee
	step := w.o.Interval / time.Duration(w.o.Pay)
	for i := range w.o.Pay {
		for k := range kinds {
			p := &kinds[k][i]
			p.sent = time.Now()
			if err := w.pay(p); err != nil {
				return d, err
			}
			p.paid = time.Now()
			kind := chainKind(p.Chain)
			d.payMax[kind] = max(d.payMax[kind], Ms(p.paid.Sub(p.sent)))
			all = append(all, p)
		}
		time.Sleep(step/2 + rand.N(step)) //nolint:gosec // timing jitter, not a secret
	}
	pending := map[string]*payee{}
	ids := make([]string, 0, len(all))
	for _, p := range all {
		pending[p.ID] = p
		ids = append(ids, p.ID)
	}
	deadline := time.Now().Add(30*time.Second + 10*w.o.Interval)
	for len(pending) > 0 && time.Now().Before(deadline) {
		done, err := detectedAt(ctx, w.db, w.postgres, ids)
		if err != nil {
			return d, err
		}
		now := time.Now()
		for id, at := range done {
			if p := pending[id]; p != nil {
				kind := chainKind(p.Chain)
				d.recorded[kind] = append(d.recorded[kind], Ms(at.Sub(p.sent)))
				d.polled[kind] = append(d.polled[kind], Ms(now.Sub(p.paid)))
				delete(pending, id)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range pending {
		d.missed[chainKind(p.Chain)]++
	}
	return d, nil
}

// detectedAt reads, of the payments ids, those Till no longer has pending
// and the time it recorded each as detected (detected_at: set once, by the
// credit that took it out of pending, with the events of that change). A
// payment that left pending without a credit (none here: the sessions
// expire in a day) has no detected_at and stays out.
func detectedAt(ctx context.Context, db *sql.DB, postgres bool, ids []string) (map[string]time.Time, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := bindFor(postgres, "SELECT id, detected_at FROM payments WHERE status <> 'pending' AND detected_at IS NOT NULL AND id IN (?"+
		strings.Repeat(",?", len(ids)-1)+")")
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("detected_at: %w", err)
		}
		out[id] = at
	}
	return out, rows.Err()
}

// payees reads the sessions q selects (id, chain, pay_address, amount_expected).
func (w *watcher) payees(ctx context.Context, q string, args ...any) ([]payee, error) {
	rows, err := w.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []payee
	for rows.Next() {
		var p payee
		if err := rows.Scan(&p.ID, &p.Chain, &p.Address, &p.Amount); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func chainKind(chain string) string {
	if chain == "kaspa" {
		return "kaspa"
	}
	return "evm"
}

// pay sends p's exact amount to its address through the chain's double.
func (w *watcher) pay(p *payee) error {
	u, body := w.o.Kaspa+"/_double/pay", fmt.Sprintf(`{"address":%q,"sompi":%d}`, p.Address, p.Amount)
	if p.Chain != "kaspa" {
		u, body = w.o.EVM+"/_double/pay", fmt.Sprintf(`{"to":%q,"amount":"%d.%06d"}`, p.Address, p.Amount/1e6, p.Amount%1e6)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s %s: status %d: %s", u, body, resp.StatusCode, truncate(raw, 200))
	}
	return nil
}
