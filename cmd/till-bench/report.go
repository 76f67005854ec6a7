package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// row is one workload's figures over all runs.
type row struct {
	Workload string
	Clients  int
	Ceiling  string
	Rate     [3]float64 // min, median, max
	P50      [3]float64 // ms
	P99      [3]float64 // ms
	// Ratio is the rate over the ceiling's rate in the same run (min,
	// median, max); zero for the highest ceilings.
	Ratio [3]float64
	// SessionRatio is, for what Ratio divides by the insert ceiling, the
	// rate over the session-row ceiling's in the same run; HasSession
	// says whether the runs measured that ceiling (records written before
	// it was added did not).
	SessionRatio [3]float64
	HasSession   bool
	// BatchRatio is, for Till's own figures divided by the insert
	// ceiling, the rate over the batched session-row ceiling's in the same
	// run; HasBatch whether the runs measured it.
	BatchRatio [3]float64
	HasBatch   bool
	// HTTPRowRatio is, for Till's own figures, the rate over the HTTP +
	// session-row ceiling's at the same concurrency in the same run;
	// HasHTTPRow whether the runs measured it.
	HTTPRowRatio [3]float64
	HasHTTPRow   bool
	ChainCalls   [3]float64 // per run
	CPU          [3]float64 // µs per request; zeros when not measured
	// The CPU budget, µs per request: the database server's (HasDB when
	// measured: Postgres), the generator's and the whole machine's; the
	// machine's idle share (HasIdle when measured) and its cores.
	DBCPU, GenCPU, MachineCPU [3]float64
	Idle                      [3]float64
	HasDB, HasIdle            bool
	Cores                     int
	Errors                    int
	Runs                      int
}

// spread is the minimum, median and maximum of xs (zeros when empty).
func spread(xs []float64) [3]float64 {
	if len(xs) == 0 {
		return [3]float64{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return [3]float64{s[0], med, s[len(s)-1]}
}

// ratio is x over its ceiling, 0 when there is no ceiling figure.
func ratio(x, ceiling float64) float64 {
	if ceiling <= 0 {
		return 0
	}
	return x / ceiling
}

// ceilingKey finds a ceiling measurement: the HTTP one is taken at 32
// connections, the insert one at the workload's own concurrency.
func ceilingKey(run int, ceiling string, clients int) string {
	if ceiling == ceilHTTP {
		clients = 32
	}
	return fmt.Sprintf("%d/%s/%d", run, ceiling, clients)
}

// summarize groups the measurements by workload and concurrency, in the
// order they were first measured, dividing each by its ceiling of the
// same run (and what is divided by the insert ceiling also by the
// session-row one, when the run measured it, and Till's own figures by the
// batched session-row and the HTTP + session-row ones). Where a run measured a ceiling more than once
// (plain and prepared) the fastest is the ceiling.
func summarize(ms []measurement) []row {
	ceilings := map[string]float64{}
	for _, m := range ms {
		if k := ceilingKey(m.Run, m.Provides, m.Clients); m.Provides != "" {
			ceilings[k] = max(ceilings[k], m.Rate)
		}
	}
	type acc struct {
		row
		rate, p50, p99, ratio, session, batch, httpRow, calls, cpu []float64
		db, gen, machine, idle                                     []float64
	}
	var order []string
	groups := map[string]*acc{}
	for _, m := range ms {
		key := fmt.Sprintf("%s/%d", m.Workload, m.Clients)
		a := groups[key]
		if a == nil {
			a = &acc{row: row{Workload: m.Workload, Clients: m.Clients, Ceiling: m.Ceiling}}
			groups[key] = a
			order = append(order, key)
		}
		a.rate = append(a.rate, m.Rate)
		a.p50 = append(a.p50, Ms(m.P50))
		a.p99 = append(a.p99, Ms(m.P99))
		a.calls = append(a.calls, float64(m.ChainCalls))
		if m.CPU > 0 {
			a.cpu = append(a.cpu, float64(m.CPU)/float64(time.Microsecond))
		}
		if m.DBCPU > 0 {
			a.db = append(a.db, us(m.DBCPU))
		}
		if m.GenCPU > 0 {
			a.gen = append(a.gen, us(m.GenCPU))
		}
		if m.MachineCPU > 0 {
			a.machine = append(a.machine, us(m.MachineCPU))
		}
		if m.Idle != nil {
			a.idle = append(a.idle, *m.Idle)
			a.Cores = m.Cores
		}
		if m.Ceiling != "" {
			a.ratio = append(a.ratio, ratio(m.Rate, ceilings[ceilingKey(m.Run, m.Ceiling, m.Clients)]))
		}
		if c, ok := ceilings[ceilingKey(m.Run, ceilSession, m.Clients)]; ok && m.Ceiling == ceilInsert && m.Provides != ceilSession {
			a.session = append(a.session, ratio(m.Rate, c))
		}
		if m.Ceiling == ceilInsert && m.Provides == "" {
			if c, ok := ceilings[ceilingKey(m.Run, ceilBatched, m.Clients)]; ok {
				a.batch = append(a.batch, ratio(m.Rate, c))
			}
			if c, ok := ceilings[ceilingKey(m.Run, ceilHTTPRow, m.Clients)]; ok {
				a.httpRow = append(a.httpRow, ratio(m.Rate, c))
			}
		}
		a.Errors += m.Errors
		a.Runs++
	}
	rows := make([]row, 0, len(order))
	for _, key := range order {
		a := groups[key]
		a.Rate, a.P50, a.P99, a.Ratio, a.ChainCalls = spread(a.rate), spread(a.p50), spread(a.p99), spread(a.ratio), spread(a.calls)
		a.SessionRatio, a.HasSession, a.CPU = spread(a.session), len(a.session) > 0, spread(a.cpu)
		a.BatchRatio, a.HasBatch = spread(a.batch), len(a.batch) > 0
		a.HTTPRowRatio, a.HasHTTPRow = spread(a.httpRow), len(a.httpRow) > 0
		a.DBCPU, a.HasDB, a.GenCPU, a.MachineCPU = spread(a.db), len(a.db) > 0, spread(a.gen), spread(a.machine)
		a.Idle, a.HasIdle = spread(a.idle), len(a.idle) > 0
		rows = append(rows, a.row)
	}
	return rows
}

// writeTable prints the rows as a Markdown table: medians with the
// min–max spread over the runs. A ceiling divided by a higher one shows
// that ratio; the next ratio columns are the session-row ceiling's, the
// batched session-row ceiling's and the HTTP + session-row ceiling's; then the CPU budget per request: the
// process doing the work, the database server, the generator, the whole
// machine, and the machine's idle share ("–" where it does not apply or
// was not measured). A note under the table says which ceiling each ratio
// uses; a line per session workload sums its budget (writeBudget).
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| workload | conns | req/s median (min–max) | p50 ms | p99 ms median (min–max) | × ceiling median (min–max) | × session-row ceiling | × batched session-row ceiling | × HTTP + session-row ceiling | chain calls/run | errors | CPU µs/op median (min–max) | DB µs/op | generator µs/op | machine µs/op | idle |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	batched, httpRow := false, false
	for _, r := range rows {
		ratio := "(ceiling)"
		if r.Ceiling != "" {
			ratio = fmt.Sprintf("%.2f× (%.2f–%.2f) of %s", r.Ratio[1], r.Ratio[0], r.Ratio[2], r.Ceiling)
		}
		session := "–"
		if r.HasSession {
			session = fmt.Sprintf("%.2f× (%.2f–%.2f)", r.SessionRatio[1], r.SessionRatio[0], r.SessionRatio[2])
		}
		batch := "–"
		if r.HasBatch {
			batch, batched = fmt.Sprintf("%.2f× (%.2f–%.2f)", r.BatchRatio[1], r.BatchRatio[0], r.BatchRatio[2]), true
		}
		hr := "–"
		if r.HasHTTPRow {
			hr, httpRow = fmt.Sprintf("%.2f× (%.2f–%.2f)", r.HTTPRowRatio[1], r.HTTPRowRatio[0], r.HTTPRowRatio[2]), true
		}
		idle := "–"
		if r.HasIdle {
			idle = fmt.Sprintf("%.0f %%", 100*r.Idle[1])
		}
		fmt.Fprintf(w, "| %s | %d | %.0f (%.0f–%.0f) | %.2f | %.2f (%.2f–%.2f) | %s | %s | %s | %s | %.0f | %d | %s | %s | %s | %s | %s |\n",
			r.Workload, r.Clients, r.Rate[1], r.Rate[0], r.Rate[2], r.P50[1], r.P99[1], r.P99[0], r.P99[2],
			ratio, session, batch, hr, r.ChainCalls[1], r.Errors, cpuCell(r.CPU, true), cpuCell(r.DBCPU, false),
			cpuCell(r.GenCPU, false), cpuCell(r.MachineCPU, false), idle)
	}
	fmt.Fprintln(w, "\n× ceiling divides by the ceiling the cell names (http: the bare Fiber handler at 32 connections;"+
		" insert: single-row inserts at the same concurrency); × session-row ceiling by Till's session row inserted one per transaction"+
		" at the same concurrency.")
	if batched {
		fmt.Fprintln(w, "× batched session-row ceiling: the same rows committed in batches as Till's writer does (SQLite: one writer,"+
			" up to 64 a transaction; Postgres: pgx batches, up to 2 in flight).")
	}
	if httpRow {
		fmt.Fprintln(w, "× HTTP + session-row ceiling: till-bench ceiling-http -insert-db at the same concurrency, the same bodies over real"+
			" HTTP, Till's session row inserted prepared, one per statement or batched as Till's writer commits sessions: the faster of the two.")
	}
	fmt.Fprintln(w, "Where an insert ceiling ran plain and prepared, the faster of the two in each run is the ceiling.")
	fmt.Fprintln(w, "CPU µs/op: the process doing the work (till serve; the bare handler or the HTTP + session-row one; the generator for the insert ceilings);"+
		" DB: the database server's processes (Postgres; SQLite runs inside Till); generator: the load generator;"+
		" machine: every process on every core, other loads included; idle: the machine's idle share.")
	writeBudget(w, rows)
}

// cpuCell is a CPU figure's median, with the spread when spread is set;
// "–" when not measured.
func cpuCell(x [3]float64, spread bool) string {
	switch {
	case x[1] <= 0:
		return "–"
	case spread:
		return fmt.Sprintf("%.0f (%.0f–%.0f)", x[1], x[0], x[2])
	}
	return fmt.Sprintf("%.0f", x[1])
}

// record is one line of the JSON file the suite and the watcher stage
// append to (-json), which till-bench report reads back.
type record struct {
	Label string            `json:",omitempty"`
	Rows  string            `json:",omitempty"` // past sessions in the database (suite)
	Suite *measurement      `json:",omitempty"`
	Watch *watchMeasurement `json:",omitempty"`
}

func appendRecords(file string, recs []record) error {
	out, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) //nolint:gosec // the harness's own results file
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}

func readRecords(r io.Reader) ([]record, error) {
	var out []record
	dec := json.NewDecoder(r)
	for {
		var rec record
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}

// sortWatch orders one round's measurements by chain, Kaspa first.
func sortWatch(ms []watchMeasurement) {
	slices.SortStableFunc(ms, func(a, b watchMeasurement) int {
		if (a.Chain == "kaspa") != (b.Chain == "kaspa") {
			if a.Chain == "kaspa" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Chain, b.Chain)
	})
}

// watchRow is one chain's watcher at one number of open sessions, over
// the rounds.
type watchRow struct {
	Label    string
	Open     int
	Chain    string
	CycleMs  [3]float64 // min, median, max
	Calls    [3]float64
	PeriodMs [3]float64 // cycle start to start
	Double   [3]float64
	Detect   []float64 // all rounds' latencies, sorted
	Polled   []float64 // the same, as the harness's poll saw them, sorted
	Missed   int
	RSS      [3]float64
	HWM      float64 // the highest peak
	Rounds   int
	LoadAvgs []string
}

// summarizeWatch groups the measurements by database, open sessions and
// chain, in the order first measured.
func summarizeWatch(ms []watchMeasurement) []watchRow {
	type acc struct {
		watchRow
		cycle, calls, double, rss, period []float64
	}
	var order []string
	groups := map[string]*acc{}
	for _, m := range ms {
		key := fmt.Sprintf("%s/%d/%s", m.Label, m.Open, m.Chain)
		a := groups[key]
		if a == nil {
			a = &acc{watchRow: watchRow{Label: m.Label, Open: m.Open, Chain: m.Chain}}
			groups[key] = a
			order = append(order, key)
		}
		a.cycle = append(a.cycle, m.CycleMs)
		a.calls = append(a.calls, m.CallsPerCycle)
		a.double = append(a.double, m.DoubleCallsPerCycle)
		a.rss = append(a.rss, m.RSSMiB)
		if m.PeriodMs > 0 {
			a.period = append(a.period, m.PeriodMs)
		}
		a.HWM = max(a.HWM, m.HWMMiB)
		a.Detect = append(a.Detect, m.DetectMs...)
		a.Polled = append(a.Polled, m.PolledMs...)
		a.Missed += m.Missed
		a.Rounds++
		a.LoadAvgs = append(a.LoadAvgs, m.Load)
	}
	rows := make([]watchRow, 0, len(order))
	for _, key := range order {
		a := groups[key]
		a.CycleMs, a.Calls, a.Double, a.RSS, a.PeriodMs = spread(a.cycle), spread(a.calls), spread(a.double), spread(a.rss), spread(a.period)
		slices.Sort(a.Detect)
		slices.Sort(a.Polled)
		rows = append(rows, a.watchRow)
	}
	return rows
}

// percentile is the p-th percentile of sorted xs (nearest rank), 0 when
// empty.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// writeWatchTable prints the watcher measurements as a Markdown table:
// medians with the min–max spread over the rounds, detection latency as
// p50/p99 over every payment of all rounds and p99 as a multiple of the
// poll interval, and beside it the same payments as the harness's poll
// saw them; the cycles' period, start to start, and the chain calls per
// second it makes.
func writeWatchTable(w io.Writer, ms []watchMeasurement, interval time.Duration) {
	fmt.Fprintln(w, "| db | open | chain | cycle ms median (min–max) | chain calls/cycle median (min–max) | double's calls/cycle | cycle period ms median → chain calls/s | detection p50 / p99 ms (n) | p99 × poll interval | polled p50 / p99 ms | RSS MiB median (peak) | load average |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range summarizeWatch(ms) {
		detect, polled, period := "–", "–", "–"
		if r.PeriodMs[1] > 0 {
			period = fmt.Sprintf("%.0f → %.2f", r.PeriodMs[1], r.Calls[1]*1000/r.PeriodMs[1])
		}
		if n := len(r.Detect); n > 0 || r.Missed > 0 {
			detect = fmt.Sprintf("%.0f / %.0f (%d)", percentile(r.Detect, 50), percentile(r.Detect, 99), n)
			if r.Missed > 0 {
				detect += fmt.Sprintf(", %d missed", r.Missed)
			}
		}
		if len(r.Polled) > 0 {
			polled = fmt.Sprintf("%.0f / %.0f", percentile(r.Polled, 50), percentile(r.Polled, 99))
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %.1f | %s | %s | %.2f× of %s | %s | %.0f (%.0f) | %s |\n",
			r.Label, r.Open, r.Chain, r.CycleMs[1], r.CycleMs[0], r.CycleMs[2], r.Calls[1], r.Calls[0], r.Calls[2], r.Double[1],
			period, detect, ratio(percentile(r.Detect, 99), Ms(interval)), interval, polled, r.RSS[1], r.HWM, loadSpan(r.LoadAvgs))
	}
}

// loadSpan shortens the rounds' "start → end" load averages to the first
// round's start and the last round's end.
func loadSpan(loads []string) string {
	if len(loads) == 0 {
		return ""
	}
	first, _, _ := strings.Cut(loads[0], " → ")
	_, last, ok := strings.Cut(loads[len(loads)-1], " → ")
	if !ok {
		return first
	}
	return first + " → " + last
}

// writeFlat prints, per database and chain, the figure at the most open
// sessions over the one at the fewest: "flat" is about 1×.
func writeFlat(w io.Writer, ms []watchMeasurement, interval time.Duration) {
	rows := summarizeWatch(ms)
	type span struct{ lo, hi *watchRow }
	var order []string
	spans := map[string]*span{}
	for i := range rows {
		r := &rows[i]
		key := r.Label + "/" + r.Chain
		s := spans[key]
		if s == nil {
			s = &span{r, r}
			spans[key] = s
			order = append(order, key)
		}
		if r.Open < s.lo.Open {
			s.lo = r
		}
		if r.Open > s.hi.Open {
			s.hi = r
		}
	}
	fmt.Fprintln(w, "| db | chain | open | cycle ms | × | chain calls/cycle | × | detection p99 at the most | RSS MiB at the most (target ≤ 150) |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|")
	for _, key := range order {
		s := spans[key]
		if s.lo == s.hi {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %d → %d | %.1f → %.1f | %.2f× | %.1f → %.1f | %.2f× | %.0f ms = %.2f× of %s | %.0f (peak %.0f) |\n",
			s.hi.Label, s.hi.Chain, s.lo.Open, s.hi.Open, s.lo.CycleMs[1], s.hi.CycleMs[1], ratio(s.hi.CycleMs[1], s.lo.CycleMs[1]),
			s.lo.Calls[1], s.hi.Calls[1], ratio(s.hi.Calls[1], s.lo.Calls[1]),
			percentile(s.hi.Detect, 99), ratio(percentile(s.hi.Detect, 99), Ms(interval)), interval, s.hi.RSS[1], s.hi.HWM)
	}
}

// writeByRows prints each workload's median rate and ratio to its ceiling
// at every database size measured, and the rate at the largest over the
// rate at the smallest ("flat from 0 to 1M rows" is about 1×).
func writeByRows(w io.Writer, recs []record) {
	type key struct{ label, rows string }
	var sizes []key
	byKey := map[key][]measurement{}
	for _, r := range recs {
		if r.Suite == nil {
			continue
		}
		k := key{r.Label, r.Rows}
		if _, ok := byKey[k]; !ok {
			sizes = append(sizes, k)
		}
		byKey[k] = append(byKey[k], *r.Suite)
	}
	labels := map[string][]string{}
	var labelOrder []string
	for _, k := range sizes {
		if labels[k.label] == nil {
			labelOrder = append(labelOrder, k.label)
		}
		labels[k.label] = append(labels[k.label], k.rows)
	}
	for _, label := range labelOrder {
		rows := labels[label]
		if len(rows) < 2 {
			continue
		}
		summaries := make([]map[string]row, len(rows))
		names := []string{"ceiling"}
		for i, size := range rows {
			summaries[i] = map[string]row{}
			for _, r := range summarize(byKey[key{label, size}]) {
				summaries[i][fmt.Sprintf("%s/%d", r.Workload, r.Clients)] = r
				if _, n := ratioCell(r); len(n) > len(names) {
					names = n
				}
			}
		}
		cell := "req/s (× " + strings.Join(names, " / × ") + ")"
		fmt.Fprintf(w, "\n### %s: session creation by past sessions in the database\n\n", label)
		fmt.Fprintf(w, "| workload | conns | %s | rows=%s / rows=%s |\n", "rows="+strings.Join(rows, " "+cell+" | rows=")+" "+cell,
			rows[len(rows)-1], rows[0])
		fmt.Fprintln(w, "|---|--:|"+strings.Repeat("--:|", len(rows)+1))
		for _, r0 := range summarize(byKey[key{label, rows[0]}]) {
			if r0.Ceiling == "" {
				continue
			}
			k := fmt.Sprintf("%s/%d", r0.Workload, r0.Clients)
			cells := make([]string, len(rows))
			for i := range rows {
				cells[i], _ = ratioCell(summaries[i][k])
			}
			last := summaries[len(rows)-1][k]
			fmt.Fprintf(w, "| %s | %d | %s | %.2f× |\n", r0.Workload, r0.Clients, strings.Join(cells, " | "), ratio(last.Rate[1], r0.Rate[1]))
		}
	}
}

// ratioCell is r's median rate and ratios, "rate (x× / y× …)": to its
// ceiling, then to the session-row, batched session-row and HTTP +
// session-row ceilings where the runs measured them; names names each
// ratio's ceiling, in the same order.
func ratioCell(r row) (cell string, names []string) {
	names = []string{"ceiling"}
	parts := []string{fmt.Sprintf("%.2f×", r.Ratio[1])}
	for _, o := range []struct {
		has  bool
		name string
		x    float64
	}{
		{r.HasSession, "session-row", r.SessionRatio[1]}, {r.HasBatch, "batched", r.BatchRatio[1]},
		{r.HasHTTPRow, "HTTP + session-row", r.HTTPRowRatio[1]},
	} {
		if o.has {
			names = append(names, o.name)
			parts = append(parts, fmt.Sprintf("%.2f×", o.x))
		}
	}
	return fmt.Sprintf("%.0f (%s)", r.Rate[1], strings.Join(parts, " / ")), names
}

// runReport prints the cross-configuration tables from the JSON records:
//
//	till-bench report [-interval 2s] FILE
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	interval := fs.Duration("interval", 2*time.Second, "the watchers' poll interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("report: want one FILE of JSON records")
	}
	in, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()
	recs, err := readRecords(in)
	if err != nil {
		return fmt.Errorf("report: %s: %w", fs.Arg(0), err)
	}
	writeByRows(stdout, recs)
	var ws []watchMeasurement
	for _, r := range recs {
		if r.Watch != nil {
			ws = append(ws, *r.Watch)
		}
	}
	if len(ws) > 0 {
		fmt.Fprintf(stdout, "\n### Watchers by open sessions\n\n")
		writeWatchTable(stdout, ws, *interval)
		fmt.Fprintln(stdout)
		writeFlat(stdout, ws, *interval)
	}
	return nil
}
