package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The CPU budget of a measured window: besides the CPU of the process
// doing the work (measurement.CPU), what the database server, the load
// generator and the whole machine spent, so a reader sees where the cores
// went and whether they were full.

// procRoot is where /proc is read (tests point it at a temp dir).
var procRoot = "/proc"

// statFields is a /proc/PID/stat line's fields after the command name
// (which may hold spaces and ends at the last ')'): f[0] is field 3,
// the state, f[1] the parent's pid, f[11]…f[14] utime, stime, cutime and
// cstime in clock ticks.
func statFields(stat []byte) ([]string, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc stat %q: no command name", truncate(stat, 80))
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc stat %q: too short", truncate(stat, 80))
	}
	return f, nil
}

// ticks sums fields of a stat line as CPU time.
func ticks(fields ...string) (time.Duration, error) {
	var total time.Duration
	for _, field := range fields {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		total += time.Duration(n) * clockTick
	}
	return total, nil
}

// treeStat is one process of a server's tree as /proc shows it.
type treeStat struct {
	ppid int
	// own is its utime+stime; reaped its children's that it waited for
	// (cutime+cstime).
	own, reaped time.Duration
}

func parseTreeStat(stat []byte) (treeStat, error) {
	f, err := statFields(stat)
	if err != nil {
		return treeStat{}, err
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return treeStat{}, fmt.Errorf("/proc stat: ppid: %w", err)
	}
	own, err := ticks(f[11], f[12])
	if err != nil {
		return treeStat{}, err
	}
	reaped, err := ticks(f[13], f[14])
	return treeStat{ppid: ppid, own: own, reaped: reaped}, err
}

func readTreeStat(pid int) (treeStat, error) {
	raw, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return treeStat{}, err
	}
	return parseTreeStat(raw)
}

// treeCPU is the CPU time so far of server process pid and its children
// (Postgres: the postmaster, its backends and background workers): each
// one's own time and what it reaped. A backend that exited is in the
// postmaster's reaped time; one that exits while the children are read
// would be counted twice or not at all, so the read is repeated until the
// postmaster's reaped time is the same before and after it. 0 for pid 0.
func treeCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	for range 5 {
		root, err := readTreeStat(pid)
		if err != nil {
			return 0, err
		}
		kids, err := childrenCPU(pid)
		if err != nil {
			return 0, err
		}
		again, err := readTreeStat(pid)
		if err != nil {
			return 0, err
		}
		if again.reaped == root.reaped {
			return again.own + again.reaped + kids, nil
		}
	}
	return 0, fmt.Errorf("process %d: its children kept exiting while read", pid)
}

// childrenCPU sums the own and reaped CPU time of pid's children, found
// by their parent pid in /proc/*/stat (processes gone meanwhile are
// skipped).
func childrenCPU(pid int) (time.Duration, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		s, err := readTreeStat(child)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if s.ppid == pid {
			total += s.own + s.reaped
		}
	}
	return total, nil
}

// selfCPU is this process's user and system time so far (getrusage):
// the load generator's own cost.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// machineStat is the machine's CPU time from /proc/stat's "cpu" line:
// busy (user, nice, system, irq, softirq, steal) and idle (idle, iowait),
// summed over all cores, and how many cores.
type machineStat struct {
	busy, idle time.Duration
	cores      int
}

func parseMachineStat(raw []byte) (machineStat, error) {
	var m machineStat
	found := false
	for line := range strings.SplitSeq(string(raw), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "cpu":
			if len(f) < 9 {
				return m, fmt.Errorf("/proc/stat %q: too short", line)
			}
			var err error
			if m.busy, err = ticks(f[1], f[2], f[3], f[6], f[7], f[8]); err != nil {
				return m, err
			}
			if m.idle, err = ticks(f[4], f[5]); err != nil {
				return m, err
			}
			found = true
		case strings.HasPrefix(f[0], "cpu"):
			m.cores++
		}
	}
	if !found || m.cores == 0 {
		return m, errors.New("/proc/stat: no cpu lines")
	}
	return m, nil
}

func readMachineStat() (machineStat, error) {
	raw, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return machineStat{}, err
	}
	return parseMachineStat(raw)
}

// idleShare is the idle part of the machine's time between a and b (0…1).
func idleShare(a, b machineStat) float64 {
	return ratio(float64(b.idle-a.idle), float64(b.idle-a.idle+b.busy-a.busy))
}

// budget is a window's CPU readings: the worker (Till, the bare handler
// or this process), the database server, this process, the machine.
type budget struct {
	worker, db, gen time.Duration
	machine         machineStat
}

// readBudget reads all four; workerPID or dbPID 0 is not read. The
// generator's own time is read last at a window's start and first at its
// end, so the scan of /proc for the database's processes stays outside it.
func readBudget(workerPID, dbPID int, end bool) (budget, error) {
	var b budget
	var errs [4]error
	if end {
		b.gen, errs[2] = selfCPU()
	}
	b.worker, errs[0] = procCPU(workerPID)
	b.db, errs[1] = treeCPU(dbPID)
	b.machine, errs[3] = readMachineStat()
	if !end {
		b.gen, errs[2] = selfCPU()
	}
	return b, errors.Join(errs[:]...)
}

// fill sets m's CPU figures per operation from the readings at the start
// (a) and end (b) of its window.
func (m *measurement) fill(a, b budget, workerPID, dbPID int) {
	if workerPID != 0 {
		m.CPU = perOp(b.worker-a.worker, m.N)
	}
	if dbPID != 0 {
		m.DBCPU = perOp(b.db-a.db, m.N)
	}
	m.GenCPU = perOp(b.gen-a.gen, m.N)
	m.MachineCPU = perOp(b.machine.busy-a.machine.busy, m.N)
	idle := idleShare(a.machine, b.machine)
	m.Idle, m.Cores = &idle, b.machine.cores
}

// writeBudget prints, under the table, a line per session workload: Till,
// database server and generator CPU per session, and what the machine's
// cores would allow if that sum were all each session cost, beside the
// measured rate; and the machine's busy time per session, whose excess
// over the sum is other processes' (the chain doubles, other loads on a
// shared machine).
func writeBudget(w io.Writer, rows []row) {
	first := true
	for _, r := range rows {
		if !strings.HasPrefix(r.Workload, "sessions:") || r.CPU[1] <= 0 || r.Cores == 0 {
			continue
		}
		if first {
			fmt.Fprintf(w, "\nCPU budget per session (medians; Till + database server + generator; %d cores ÷ that sum vs the measured rate):\n\n", r.Cores)
			first = false
		}
		db, dbCell := r.DBCPU[1], "–"
		if r.HasDB {
			dbCell = fmt.Sprintf("%.0f", db)
		}
		sum := r.CPU[1] + db + r.GenCPU[1]
		allow := float64(r.Cores) * 1e6 / sum
		fmt.Fprintf(w, "- %s c=%d: %.0f + %s + %.0f = %.0f µs → %d cores allow %.0f/s; measured %.0f/s (%.2f×); machine busy %.0f µs/op (other processes %.0f), idle %.0f %%\n",
			r.Workload, r.Clients, r.CPU[1], dbCell, r.GenCPU[1], sum, r.Cores, allow, r.Rate[1], ratio(r.Rate[1], allow),
			r.MachineCPU[1], max(0, r.MachineCPU[1]-sum), 100*r.Idle[1])
	}
}
