package models

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// openCheckpointDB opens a SQLite file with a table t to write to and
// returns it with the file's path.
func openCheckpointDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "till.db")
	db, err := Open(context.Background(), "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.base.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	return db, path
}

// writeRows commits n rows to t, one transaction each, as the writer does.
func writeRows(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		if err := db.W(ctx).Exec("INSERT INTO t (v) VALUES (?)", "0123456789abcdef0123456789abcdef").Error; err != nil {
			t.Fatal(err)
		}
	}
}

// awaitCheckpoint waits, tick by tick, until cond holds.
func awaitCheckpoint(t *testing.T, c *checkpointer, cond func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-c.tick:
		case <-timeout:
			t.Fatalf("checkpointer: condition not met (runs %d, escalations %d)", c.runs.Load(), c.escalations.Load())
		}
	}
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestCheckpointConnections: the writer does not checkpoint (autocheckpoint
// 0), the read pool keeps SQLite's default, a file database gets a
// checkpointer on a connection of its own, and :memory: (no WAL) none.
func TestCheckpointConnections(t *testing.T) {
	db, _ := openCheckpointDB(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		get  func() (int, error)
		want int
	}{
		{"write", func() (n int, err error) { return n, db.W(ctx).Raw("PRAGMA wal_autocheckpoint").Scan(&n).Error }, 0},
		{"read", func() (n int, err error) { return n, db.R(ctx).Raw("PRAGMA wal_autocheckpoint").Scan(&n).Error }, 1000},
		{"checkpoint", func() (n int, err error) {
			return n, db.ckpt.conn.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&n)
		}, 0},
		{"checkpoint busy timeout", func() (n int, err error) {
			return n, db.ckpt.conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&n)
		}, checkpointBusy},
		{"write journal", func() (n int, err error) {
			var mode string
			err = db.W(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error
			if mode == "wal" {
				n = 1
			}
			return n, err
		}, 1},
	} {
		got, err := tc.get()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	mem, err := Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if mem.ckpt != nil {
		t.Error(":memory: has a checkpointer")
	}
}

// TestCheckpointKeepsWALBounded: with the writer's autocheckpoint off, the
// background checkpoint backfills the WAL after each round of writes (a
// checkpoint begun after the round's last commit left nothing behind), so the writer
// restarts it and the file stays at about one round of writes however many
// rounds there are (without the checkpointer it would hold all ten).
func TestCheckpointKeepsWALBounded(t *testing.T) {
	db, path := openCheckpointDB(t)
	c := db.ckpt
	const rounds, perRound = 10, 300
	var first int64
	for i := range rounds {
		writeRows(t, db, perRound)
		if i == 0 {
			first = walSize(t, path)
		}
		written := db.changes.stamp(changeAll)
		awaitCheckpoint(t, c, func() bool { return c.caughtUp.Load() == written })
	}
	if got := walSize(t, path); got > 2*first {
		t.Errorf("WAL after %d rounds: %d bytes; after one: %d", rounds, got, first)
	}
	if c.escalations.Load() != 0 {
		t.Errorf("escalations: %d, want 0 (the WAL stayed small)", c.escalations.Load())
	}
}

// TestCheckpointRestartsUnderContinuousWrites: with commits back to back,
// a PASSIVE checkpoint never finds every frame backfilled when the writer
// begins, so SQLite never starts the WAL over and the file grows with
// every commit. The restart pass on the writer's connection (once the WAL
// holds restartPages frames) lets it start over: the file stays near
// restartPages plus one tick of writes, with no escalation.
func TestCheckpointRestartsUnderContinuousWrites(t *testing.T) {
	db, path := openCheckpointDB(t)
	if err := db.ckpt.stop(); err != nil {
		t.Fatal(err)
	}
	w, _ := db.write.DB()
	const restartPages = 64
	c, err := startCheckpointer("file:"+path+"?_pragma=busy_timeout(1000)&_pragma=wal_autocheckpoint(0)", w, db.changes, nil,
		checkpointConfig{interval: 5 * time.Millisecond, restartPages: restartPages, boundPages: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	db.ckpt = c
	const rows = 20000
	writeRows(t, db, rows)
	got := walSize(t, path)
	// Each commit writes at least one 4 KiB frame: without restarts the
	// file holds them all (about 80 MB here). With them it holds
	// restartPages plus the writes of one checkpoint tick (3–5 MB on a
	// quiet machine); a loaded one stretches the tick (9.3 MB with the
	// Postgres suite running beside), so the bound is a quarter of all.
	const bound = rows / 4 * (4096 + 24)
	t.Logf("WAL %d bytes after %d commits; %d checkpoints, %d restart passes", got, rows, c.runs.Load(), c.restarts.Load())
	if got > bound {
		t.Errorf("WAL after %d back-to-back commits: %d bytes, want at most %d", rows, got, bound)
	}
	if c.restarts.Load() == 0 || c.escalations.Load() != 0 {
		t.Errorf("restart passes %d, escalations %d: want some and none", c.restarts.Load(), c.escalations.Load())
	}
}

// TestCheckpointIdle: with nothing written since its last run, the
// checkpointer lets ticks go by without checkpointing.
func TestCheckpointIdle(t *testing.T) {
	db, _ := openCheckpointDB(t)
	c := db.ckpt
	before := c.runs.Load()
	writeRows(t, db, 1)
	awaitCheckpoint(t, c, func() bool { return c.runs.Load() > before })
	runs := c.runs.Load()
	for range 3 {
		<-c.tick
	}
	if got := c.runs.Load(); got != runs {
		t.Errorf("idle store: %d checkpoints over three ticks, want 0", got-runs)
	}
}

// TestCheckpointEscalates: once a checkpoint finds the WAL at the bound,
// the next one is a TRUNCATE, which empties the WAL file.
func TestCheckpointEscalates(t *testing.T) {
	db, path := openCheckpointDB(t)
	if err := db.ckpt.stop(); err != nil {
		t.Fatal(err)
	}
	c, err := startCheckpointer("file:"+path+"?_pragma=busy_timeout(1000)", nil, db.changes, nil,
		checkpointConfig{interval: 10 * time.Millisecond, boundPages: 1})
	if err != nil {
		t.Fatal(err)
	}
	db.ckpt = c
	writeRows(t, db, 50)
	if walSize(t, path) == 0 {
		t.Fatal("no WAL written")
	}
	// An escalation may come while the writes still run (the bound is one
	// page), and the rows after it grow the WAL again; the one after the
	// last write empties it. Only TRUNCATE leaves a 0-byte WAL: PASSIVE
	// backfills and lets the writer reuse the file, never shrinks it.
	awaitCheckpoint(t, c, func() bool { return c.escalations.Load() > 0 && walSize(t, path) == 0 })
}

// TestCheckpointStopsOnClose: Close ends the checkpointer's goroutine.
func TestCheckpointStopsOnClose(t *testing.T) {
	db, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "till.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := db.ckpt
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("checkpointer still running after Close")
	}
}
