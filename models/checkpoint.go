package models

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// checkpointer runs SQLite's WAL checkpoints off the writer's path. The
// write connection has wal_autocheckpoint(0): left on, SQLite checkpoints
// inside the commit that pushes the WAL past 1,000 pages, on the single
// writer, and that was 22–31 % of the writer's profile in session creation
// (docs/BENCHMARKS.md). Instead this goroutine, on a connection of its own
// (neither the writer nor the read pool), runs PRAGMA wal_checkpoint(PASSIVE)
// every interval if anything was committed since its last run (the change
// tracker's stamp over every group; an idle store does no work) or if the
// last run left frames behind. PASSIVE takes no lock the writer or a reader
// waits for: it copies what it can and returns.
//
// Restart. SQLite starts the WAL over from its beginning only when a write
// transaction begins with every frame backfilled. Under continuous writes
// that never happens (the writer appends while the checkpoint copies), so
// the file grew until the escalation below: 2.6 GB after ten seconds of
// kpub sessions, every append extending it (block allocation, and zeroing
// of the blocks a frame half covers: frames are not block-aligned), then a
// TRUNCATE of 0.65 s that the writer waited for. pwrite was 44 % of Till's
// CPU profile in that workload. So once the WAL holds restartPages frames,
// restart copies the tail with more PASSIVE passes and then runs one last
// pass on the writer's own connection, taken in turn from the write pool:
// nothing is appended while it runs, so it leaves the WAL fully backfilled
// and the writer's next transaction starts it over. The file then keeps its
// size and is overwritten in the page cache. Readers are not waited for:
// one still reading old frames puts the restart off to the next round.
//
// Bound: a reader pinned to an old snapshot (a long backup, say) keeps the
// WAL from being backfilled or restarted, so it grows, as it did with the
// automatic checkpoint too. When a checkpoint reports boundPages frames or
// more (256 MiB at 4 KiB pages), the next step is a TRUNCATE checkpoint,
// at most once every escalateEvery: it waits for the writer and the readers
// up to the connection's busy timeout (checkpointBusy, 1 s), so the writer
// stalls that long at most, and leaves an empty WAL file when it gets
// through. The pinning reader ends sooner or later; the next attempt then
// succeeds. Re-enabling the writer's autocheckpoint would not help: it is
// PASSIVE too and the reader pins it the same way.
type checkpointer struct {
	conn *sql.DB
	// writer is the write pool (one connection): the restart pass runs
	// on it, in turn with the writer's transactions.
	writer  *sql.DB
	changes *Changes
	log     *slog.Logger
	cfg     checkpointConfig
	cancel  context.CancelFunc
	done    chan struct{}

	// runs counts checkpoints run, restarts the passes on the writer's
	// connection and escalations the TRUNCATE ones; tick is signalled
	// (never blocking) after every interval handled, run or not. Tests
	// read them.
	runs, restarts, escalations atomic.Int64
	tick                        chan struct{}
	// caughtUp is the change stamp as of the last checkpoint that left
	// nothing behind: every write counted up to it is in the database file.
	caughtUp atomic.Uint64
}

// checkpointConfig is when the checkpointer works; tests shorten it.
type checkpointConfig struct {
	interval      time.Duration
	restartPages  int64
	boundPages    int64
	escalateEvery time.Duration
}

// defaultCheckpoint: a short interval keeps the checkpoints' copies small.
// restartPages (64 MiB) spaces the restart passes, which the writer waits
// for, to one every few hundred ms at the heaviest load measured (~200 MB
// of WAL a second); boundPages, the escalation for a pinned reader, sits
// well above it.
var defaultCheckpoint = checkpointConfig{
	interval:      100 * time.Millisecond,
	restartPages:  16384,
	boundPages:    65536,
	escalateEvery: 10 * time.Second,
}

// checkpointBusy is the checkpoint connection's busy timeout (ms): how long
// an escalated checkpoint may wait for the writer and the readers.
const checkpointBusy = 1000

// startCheckpointer opens the checkpoint connection with dsn and starts
// the goroutine; stop ends both. writer is the write pool the restart
// pass runs on (nil: none).
func startCheckpointer(dsn string, writer *sql.DB, changes *Changes, log *slog.Logger, cfg checkpointConfig) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("models: open checkpoint connection: %w", err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{
		conn: conn, writer: writer, changes: changes, log: log, cfg: cfg, cancel: cancel,
		done: make(chan struct{}), tick: make(chan struct{}, 1),
	}
	go c.loop(ctx, changes.stamp(changeAll))
	return c, nil
}

// loop checkpoints every interval once the change stamp has moved from seen.
func (c *checkpointer) loop(ctx context.Context, seen uint64) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.interval)
	defer t.Stop()
	// behind: the last checkpoint left frames behind; over: it found the
	// WAL at the bound.
	behind, over := false, false
	var lastEscalation time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := c.changes.stamp(changeAll)
		due := over && time.Since(lastEscalation) >= c.cfg.escalateEvery
		if now != seen || behind || due {
			seen = now
			mode := "PASSIVE"
			if due {
				mode = "TRUNCATE"
				lastEscalation = time.Now()
			}
			logPages, done, err := c.checkpoint(ctx, c.conn, mode)
			if err == nil && mode == "PASSIVE" && c.writer != nil && logPages >= c.cfg.restartPages {
				logPages, done, err = c.restart(ctx, logPages)
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				c.log.Warn("sqlite checkpoint failed", slog.String("mode", mode), slog.String("error", err.Error()))
			}
			behind = err != nil || done < logPages
			if !behind {
				c.caughtUp.Store(now)
			}
			over = logPages >= c.cfg.boundPages
		}
		select {
		case c.tick <- struct{}{}:
		default:
		}
	}
}

// tailFrames is the tail a restart pass is meant to find: short of it,
// more PASSIVE passes (at most tailPasses) first copy, concurrently with
// the writer, what the writer appended during the previous one.
const (
	tailFrames = 64
	tailPasses = 4
)

// restart leaves the WAL fully backfilled, so that the writer's next
// transaction starts it over (see checkpointer). logPages is what the
// PASSIVE pass just run found. The last pass runs on the writer's
// connection: the writer waits for it, mostly for its two syncs (0.6–31 ms
// measured), whatever the tail's length.
func (c *checkpointer) restart(ctx context.Context, logPages int64) (int64, int64, error) {
	var done int64
	var err error
	for range tailPasses {
		prev := logPages
		if logPages, done, err = c.checkpoint(ctx, c.conn, "PASSIVE"); err != nil {
			return logPages, done, err
		}
		if logPages-prev < tailFrames {
			break
		}
	}
	c.restarts.Add(1)
	return c.checkpoint(ctx, c.writer, "PASSIVE")
}

// checkpoint runs one checkpoint in mode on conn and returns the WAL's
// frames and how many of them are in the database file now.
func (c *checkpointer) checkpoint(ctx context.Context, conn *sql.DB, mode string) (logPages, done int64, err error) {
	var busy int
	row := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
	if err := row.Scan(&busy, &logPages, &done); err != nil {
		return 0, 0, err
	}
	c.runs.Add(1)
	if mode != "PASSIVE" {
		c.escalations.Add(1)
	}
	return logPages, done, nil
}

// stop ends the goroutine, waits for it, and closes the connection.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.conn.Close()
}
