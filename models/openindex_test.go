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
