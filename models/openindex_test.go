package models_test

import (
	"testing"
	"time"

	"till/models"
)

// TestOpenIndexIncrementalWindow: a watcher's incremental read starts the
// overlap before the previous read began, not before the newest row it
// has seen. So a chain gone quiet costs its watcher no rows once a read
// has passed the overlap (it used to read the last burst's final seconds
// every cycle until its next write), while a row stamped before a read
// began and committed after it, inside the overlap, is still read.
func TestOpenIndexIncrementalWindow(t *testing.T) {
	f := newFixture(t)
	idx := f.s.NewOpenIndex(models.ChainKaspa)
	idx.FullEvery = 100 * 365 * 24 * time.Hour // only the first read is full
	if err := f.s.Refresh(f.ctx, idx); err != nil {
		t.Fatal(err)
	}
	var lastRead time.Time // when the last Refresh began
	for _, step := range []struct {
		name     string
		advance  time.Duration
		sessions int
		// stampedBefore, when set, backdates the sessions' updated_at
		// to that long before the last read began: a transaction that
		// took its time then and committed only after that read.
		stampedBefore time.Duration
		want          int
	}{
		{name: "a burst", sessions: 3, want: 3},
		{name: "quiet, the burst inside the overlap of the read that saw it", advance: 6 * time.Second, want: 3},
		{name: "quiet, past the overlap", advance: 2 * time.Second, want: 0},
		{name: "quiet again", advance: 2 * time.Second, want: 0},
		{name: "stamped 4 s before the last read began, committed after it", advance: 2 * time.Second, sessions: 1, stampedBefore: 4 * time.Second, want: 1},
		{name: "quiet", advance: 2 * time.Second, want: 0},
		{name: "a new session", advance: 2 * time.Second, sessions: 1, want: 1},
	} {
		f.clock.Add(step.advance)
		for range step.sessions {
			p := f.session()
			if step.stampedBefore > 0 {
				at := lastRead.Add(-step.stampedBefore)
				if err := f.s.DB().W(f.ctx).Exec("UPDATE payments SET updated_at = ? WHERE id = ?", at, p.ID).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		lastRead = f.clock.Now()
		if err := f.s.Refresh(f.ctx, idx); err != nil {
			t.Fatal(err)
		}
		if got := idx.RowsRead(); got != step.want {
			t.Errorf("%s: the read returned %d rows, want %d", step.name, got, step.want)
		}
	}
	if idx.Len() != 5 {
		t.Errorf("the index holds %d sessions, want the 5 opened", idx.Len())
	}
}

// TestOpenIndexLapses: expired sessions leave the index when their late
// window passes, one by one, on a shared address (its oldest start moves
// to the next member) and on addresses of their own (the address goes).
// observe checks the index against the payments table every cycle.
func TestOpenIndexLapses(t *testing.T) {
	f := newFixture(t)
	step := func(d time.Duration) {
		f.clock.Add(d)
		f.daa += uint64(d/time.Second) * 10
	}
	var shared []*models.Payment
	for range 3 {
		shared = append(shared, f.session())
		step(10 * time.Minute)
		f.observe() // the next session starts at a later score
	}
	withKpub(t, f)
	own := []*models.Payment{f.session(), f.session()}
	f.observe()
	step(31 * time.Minute) // every session is past its 30 minutes
	f.observe()            // the expirer decides on an observation made after the deadlines
	if n, err := f.s.ExpireDue(f.ctx, 10); err != nil || n != 5 {
		t.Fatalf("expired %d, want 5 (%v)", n, err)
	}
	f.observe()
	if got := f.idx.Len(); got != 5 {
		t.Fatalf("inside the late window the index holds %d sessions, want 5", got)
	}
	// The first shared session expired 31 minutes ago and the kpub ones
	// 1 minute ago: one by one, the late window passes them.
	step(24*time.Hour - 31*time.Minute + time.Second)
	for i, want := range []int{4, 3, 2, 0} {
		f.observe() // compares the index with the table
		if got := f.idx.Len(); got != want {
			t.Fatalf("after %d lapses the index holds %d sessions, want %d", i+1, got, want)
		}
		if i < 2 {
			step(10 * time.Minute)
		} else {
			step(2 * time.Hour)
		}
	}
	if own[0].PayAddress == shared[0].PayAddress || shared[0].StartDaaScore == shared[1].StartDaaScore {
		t.Fatalf("want the kpub sessions on their own addresses, the shared ones at different starts: %+v %+v", own[0], shared[:2])
	}
}
