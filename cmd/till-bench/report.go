package main

import (
	"fmt"
	"io"
	"slices"
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
	// median, max); zero for the ceilings themselves.
	Ratio      [3]float64
	ChainCalls [3]float64 // per run
	Errors     int
	Runs       int
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
// same run.
func summarize(ms []measurement) []row {
	ceilings := map[string]float64{}
	for _, m := range ms {
		if m.Provides != "" {
			ceilings[ceilingKey(m.Run, m.Provides, m.Clients)] = m.Rate
		}
	}
	type acc struct {
		row
		rate, p50, p99, ratio, calls []float64
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
		if m.Ceiling != "" {
			a.ratio = append(a.ratio, ratio(m.Rate, ceilings[ceilingKey(m.Run, m.Ceiling, m.Clients)]))
		}
		a.Errors += m.Errors
		a.Runs++
	}
	rows := make([]row, 0, len(order))
	for _, key := range order {
		a := groups[key]
		a.Rate, a.P50, a.P99, a.Ratio, a.ChainCalls = spread(a.rate), spread(a.p50), spread(a.p99), spread(a.ratio), spread(a.calls)
		rows = append(rows, a.row)
	}
	return rows
}

// writeTable prints the rows as a Markdown table: medians with the
// min–max spread over the runs.
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| workload | conns | req/s median (min–max) | p50 ms | p99 ms median (min–max) | × ceiling median (min–max) | chain calls/run | errors |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		ratio := "(ceiling)"
		if r.Ceiling != "" {
			ratio = fmt.Sprintf("%.2f× (%.2f–%.2f) of %s", r.Ratio[1], r.Ratio[0], r.Ratio[2], r.Ceiling)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f (%.0f–%.0f) | %.2f | %.2f (%.2f–%.2f) | %s | %.0f | %d |\n",
			r.Workload, r.Clients, r.Rate[1], r.Rate[0], r.Rate[2], r.P50[1], r.P99[1], r.P99[0], r.P99[2],
			ratio, r.ChainCalls[1], r.Errors)
	}
}
