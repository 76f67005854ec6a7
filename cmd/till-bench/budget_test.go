package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// statLine is a /proc/PID/stat line with the given parent and utime,
// stime, cutime, cstime in clock ticks.
func statLine(pid, ppid int, utime, stime, cutime, cstime int) string {
	return fmt.Sprintf("%d (postgres: till (x)) S %d %d %d 0 -1 4194560 500 0 0 0 %d %d %d %d 20 0 1 0 100 0 0\n",
		pid, ppid, pid, pid, utime, stime, cutime, cstime)
}

// fakeProc points procRoot at a temp dir holding the given
// /proc/PID/stat lines and /proc/stat, for the rest of the test.
func fakeProc(t *testing.T, procs map[int]string, stat string) string {
	t.Helper()
	dir := t.TempDir()
	old := procRoot
	procRoot = dir
	t.Cleanup(func() { procRoot = old })
	writeProc(t, dir, procs, stat)
	return dir
}

func writeProc(t *testing.T, dir string, procs map[int]string, stat string) {
	t.Helper()
	for pid, line := range procs {
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprint(pid)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(pid), "stat"), []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600); err != nil {
		t.Fatal(err)
	}
}

const procStat = "cpu  1000 10 300 600 40 0 50 0 0 0\ncpu0 500 5 150 300 20 0 25 0 0 0\ncpu1 500 5 150 300 20 0 25 0 0 0\nintr 1 2 3\nctxt 99\n"

// TestTreeCPU sums a server's tree: the main process's own and reaped
// time and each child's, not other processes'; a backend that exits
// between two readings moves into its parent's reaped time and is
// neither lost nor counted twice.
func TestTreeCPU(t *testing.T) {
	dir := fakeProc(t, map[int]string{
		100: statLine(100, 1, 10, 5, 30, 20), // postmaster: 15 own, 50 reaped
		101: statLine(101, 100, 200, 100, 0, 0),
		102: statLine(102, 100, 7, 3, 1, 1),
		200: statLine(200, 1, 9999, 9999, 0, 0),   // another process
		201: statLine(201, 101, 5000, 5000, 0, 0), // a grandchild: in its parent's reaped time once it exits
	}, procStat)
	got, err := treeCPU(100)
	if want := (15 + 50 + 300 + 12) * clockTick; err != nil || got != want {
		t.Fatalf("treeCPU = %v, %v; want %v", got, err, want)
	}
	// 101 worked 100 more ticks and exited; 102 worked 8; a new backend 103 came.
	if err := os.RemoveAll(filepath.Join(dir, "101")); err != nil {
		t.Fatal(err)
	}
	writeProc(t, dir, map[int]string{
		100: statLine(100, 1, 10, 5, 30+300, 20+100),
		102: statLine(102, 100, 15, 3, 1, 1),
		103: statLine(103, 100, 4, 0, 0, 0),
	}, procStat)
	later, err := treeCPU(100)
	if err != nil || later-got != (100+8+4)*clockTick {
		t.Errorf("treeCPU grew by %v (%v), want %v", later-got, err, 112*clockTick)
	}
	if d, err := treeCPU(0); d != 0 || err != nil {
		t.Errorf("treeCPU(0) = %v, %v", d, err)
	}
	if _, err := treeCPU(999); err == nil {
		t.Error("treeCPU of a missing process: no error")
	}
}

// TestMachineStat reads /proc/stat's cpu line: busy is user, nice,
// system, irq, softirq and steal; idle is idle and iowait; one core per
// cpuN line. The idle share is over the window between two readings.
func TestMachineStat(t *testing.T) {
	m, err := parseMachineStat([]byte(procStat))
	if err != nil || m.busy != 1360*clockTick || m.idle != 640*clockTick || m.cores != 2 {
		t.Fatalf("parseMachineStat = %+v, %v", m, err)
	}
	later, err := parseMachineStat([]byte("cpu  1100 10 400 900 40 0 50 0 0 0\ncpu0 1 1 1 1 1 1 1 1\ncpu1 1 1 1 1 1 1 1 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := idleShare(m, later); got != 0.6 { // 300 idle ticks of 200 busy + 300 idle
		t.Errorf("idleShare = %v, want 0.6", got)
	}
	for _, bad := range []string{"", "cpu  1 2 3\ncpu0 1\n", "cpu  1 2 3 x 5 6 7 8 9\ncpu0 1\n", "cpu  1 2 3 4 5 6 7 8\n"} {
		if _, err := parseMachineStat([]byte(bad)); err == nil {
			t.Errorf("parseMachineStat(%q): no error", bad)
		}
	}
	if m, err := readMachineStat(); err != nil || m.cores < 1 || m.busy+m.idle <= 0 {
		t.Errorf("this machine's /proc/stat: %+v, %v", m, err)
	}
}

// TestSelfCPU reads the generator's own CPU time, growing with work; on
// the real /proc, this process is in its parent's tree.
func TestSelfCPU(t *testing.T) {
	before, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	after, ticked := before, time.Duration(0)
	for x := 0; after <= before || ticked == 0; x++ { // until /proc's 10 ms ticks show some too
		for i := range 1_000_000 {
			x ^= i
		}
		if after, err = selfCPU(); err != nil {
			t.Fatal(err)
		}
		if ticked, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	b, err := readBudget(os.Getpid(), os.Getppid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if b.db < b.worker || b.worker <= 0 || b.gen < b.worker-clockTick || b.machine.cores < 1 {
		t.Errorf("readBudget(self, parent): %+v; want the parent's tree to hold this process's CPU", b)
	}
}

// TestFill divides each reading's growth over a window by the requests
// made in it; an unmeasured worker or database stays zero.
func TestFill(t *testing.T) {
	a := budget{worker: time.Second, db: 2 * time.Second, gen: 3 * time.Second,
		machine: machineStat{busy: 10 * time.Second, idle: 5 * time.Second, cores: 2}}
	b := budget{worker: 1500 * time.Millisecond, db: 2200 * time.Millisecond, gen: 3100 * time.Millisecond,
		machine: machineStat{busy: 11 * time.Second, idle: 6 * time.Second, cores: 2}}
	m := measurement{N: 1000}
	m.fill(a, b, 42, 7)
	if m.CPU != 500*time.Microsecond || m.DBCPU != 200*time.Microsecond || m.GenCPU != 100*time.Microsecond ||
		m.MachineCPU != time.Millisecond || m.Idle == nil || *m.Idle != 0.5 || m.Cores != 2 {
		t.Errorf("fill: %+v (idle %v)", m, deref(m.Idle))
	}
	m = measurement{N: 1000}
	m.fill(a, b, 0, 0)
	if m.CPU != 0 || m.DBCPU != 0 || m.GenCPU != 100*time.Microsecond {
		t.Errorf("fill without worker and database: %+v", m)
	}
}

// TestBudgetTable prints the budget columns, medians over the runs, and
// the budget line per session workload: Till + DB + generator, what the
// cores allow at that cost and the measured rate beside it; without a
// database server (SQLite) the DB cell is "–" and adds nothing.
func TestBudgetTable(t *testing.T) {
	idle := func(x float64) *float64 { return &x }
	ms := []measurement{
		{Run: 1, Workload: "ceiling: single-row insert", Clients: 8, Provides: ceilInsert, Rate: 20000,
			CPU: 40 * time.Microsecond, DBCPU: 50 * time.Microsecond, GenCPU: 40 * time.Microsecond, MachineCPU: 95 * time.Microsecond, Idle: idle(0.05), Cores: 2},
		{Run: 1, Workload: "sessions: Kaspa single-address", Clients: 8, Ceiling: ceilInsert, Rate: 4000,
			CPU: 100 * time.Microsecond, DBCPU: 150 * time.Microsecond, GenCPU: 40 * time.Microsecond, MachineCPU: 480 * time.Microsecond, Idle: idle(0.04), Cores: 2},
		{Run: 2, Workload: "ceiling: single-row insert", Clients: 8, Provides: ceilInsert, Rate: 20000},
		{Run: 2, Workload: "sessions: Kaspa single-address", Clients: 8, Ceiling: ceilInsert, Rate: 6000,
			CPU: 120 * time.Microsecond, DBCPU: 130 * time.Microsecond, GenCPU: 50 * time.Microsecond, MachineCPU: 320 * time.Microsecond, Idle: idle(0.02), Cores: 2},
		{Run: 1, Workload: "sessions: USDC", Clients: 32, Ceiling: ceilInsert, Rate: 5000,
			CPU: 200 * time.Microsecond, GenCPU: 50 * time.Microsecond, MachineCPU: 300 * time.Microsecond, Idle: idle(0.5), Cores: 2},
		{Run: 1, Workload: "status: old record", Clients: 32, Ceiling: ceilHTTP, Rate: 100},
	}
	var out bytes.Buffer
	writeTable(&out, summarize(ms))
	for _, want := range []string{
		"| CPU µs/op median (min–max) | DB µs/op | generator µs/op | machine µs/op | idle |",
		"| 0 | 0 | 40 (40–40) | 50 | 40 | 95 | 5 % |",
		"| 0 | 0 | 110 (100–120) | 140 | 45 | 400 | 3 % |",
		"| 0 | 0 | 200 (200–200) | – | 50 | 300 | 50 % |",
		"| 0 | 0 | – | – | – | – | – |",
		"CPU budget per session (medians; Till + database server + generator; 2 cores ÷ that sum vs the measured rate):",
		"- sessions: Kaspa single-address c=8: 110 + 140 + 45 = 295 µs → 2 cores allow 6780/s; measured 5000/s (0.74×); machine busy 400 µs/op (other processes 105), idle 3 %",
		"- sessions: USDC c=32: 200 + – + 50 = 250 µs → 2 cores allow 8000/s; measured 5000/s (0.62×); machine busy 300 µs/op (other processes 50), idle 50 %",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "- ceiling") || strings.Contains(out.String(), "- status") {
		t.Errorf("a budget line for a workload other than sessions:\n%s", out.String())
	}
}

// TestWriteStatements prints run 1's top statements per workload, with
// the execution time per request of the workload; other runs and
// workloads without statements print nothing.
func TestWriteStatements(t *testing.T) {
	ms := []measurement{
		{Run: 1, Workload: "ceiling: single-row insert, plain", Clients: 8, N: 1000, Statements: []stmtStat{
			{DB: "ceiling_rows_0", Query: "INSERT INTO ceiling_payments VALUES ($1, $2)", Calls: 1000, Total: 25, Mean: 25}}},
		{Run: 1, Workload: "status: polls", Clients: 32, N: 500},
		{Run: 1, Workload: "sessions: Kaspa single-address", Clients: 8, N: 400, Statements: []stmtStat{
			{DB: "till_rows_0", Query: "INSERT INTO payments SELECT $1 WHERE a|b", Calls: 100, Total: 20, Mean: 200},
			{DB: "till_rows_0", Query: "UPDATE x", Calls: 2, Total: 1, Mean: 500}}},
		{Run: 2, Workload: "sessions: Kaspa single-address", Clients: 8, N: 400, Statements: []stmtStat{
			{DB: "till_rows_0", Query: "run two", Calls: 1, Total: 1, Mean: 1}}},
	}
	var out bytes.Buffer
	writeStatements(&out, ms)
	for _, want := range []string{
		"ceiling: single-row insert, plain, c=8 (1000 requests):",
		"| ceiling_rows_0 | 1000 | 25.0 | 25.0 | 25.0 | `INSERT INTO ceiling_payments VALUES ($1, $2)` |",
		"sessions: Kaspa single-address, c=8 (400 requests):",
		"| till_rows_0 | 100 | 20.0 | 200.0 | 50.0 | `INSERT INTO payments SELECT $1 WHERE a\\|b` |",
		"| till_rows_0 | 2 | 1.0 | 500.0 | 2.5 | `UPDATE x` |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("statements lack %q:\n%s", want, out.String())
		}
	}
	if s := out.String(); strings.Contains(s, "status: polls") || strings.Contains(s, "run two") {
		t.Errorf("statements of a workload without any, or of run 2:\n%s", s)
	}
	out.Reset()
	writeStatements(&out, ms[1:2])
	if out.Len() != 0 {
		t.Errorf("without statements: %q", out.String())
	}
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"SELECT  a,\n\t b", 20, "SELECT a, b"},
		{"INSERT INTO t SELECT 1 WHERE NOT EXISTS (x)", 20, "INSERT INT … EXISTS (x)"},
		{"SELECT üü", 8, "SELE … üü"},
		{"Sü üb", 4, "S … b"}, // both cuts fall inside a ü: its halves dropped
	} {
		if got := shortQuery(tc.in, tc.n); got != tc.want {
			t.Errorf("shortQuery(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
