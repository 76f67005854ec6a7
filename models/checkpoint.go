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
// Bound: a reader pinned to an old snapshot (a long backup, say) keeps the
// WAL from being backfilled or restarted, so it grows, as it did with the
// automatic checkpoint too. When a checkpoint reports boundPages frames or
// more (64 MiB at 4 KiB pages), the next step is a TRUNCATE checkpoint,
// at most once every escalateEvery: it waits for the writer and the readers
// up to the connection's busy timeout (checkpointBusy, 1 s), so the writer
// stalls that long at most, and leaves an empty WAL file when it gets
// through. The pinning reader ends sooner or later; the next attempt then
// succeeds. Re-enabling the writer's autocheckpoint would not help: it is
// PASSIVE too and the reader pins it the same way.
type checkpointer struct {
	conn    *sql.DB
	changes *Changes
	log     *slog.Logger
	cfg     checkpointConfig
	cancel  context.CancelFunc
	done    chan struct{}

	// runs counts checkpoints run and escalations those that were
	// TRUNCATE; tick is signalled (never blocking) after every interval
	// handled, run or not. Tests read them.
	runs, escalations atomic.Int64
	tick              chan struct{}
	// caughtUp is the change stamp as of the last checkpoint that left
	// nothing behind: every write counted up to it is in the database file.
	caughtUp atomic.Uint64
}

// checkpointConfig is when the checkpointer works; tests shorten it.
type checkpointConfig struct {
	interval      time.Duration
	boundPages    int64
	escalateEvery time.Duration
}

// defaultCheckpoint: a short interval keeps the WAL at a few hundred pages
// under load (the automatic checkpoint let it reach 1,000).
var defaultCheckpoint = checkpointConfig{
	interval:      100 * time.Millisecond,
	boundPages:    16384,
	escalateEvery: 10 * time.Second,
}

// checkpointBusy is the checkpoint connection's busy timeout (ms): how long
// an escalated checkpoint may wait for the writer and the readers.
const checkpointBusy = 1000

// startCheckpointer opens the checkpoint connection with dsn and starts
// the goroutine; stop ends both.
func startCheckpointer(dsn string, changes *Changes, log *slog.Logger, cfg checkpointConfig) (*checkpointer, error) {
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
		conn: conn, changes: changes, log: log, cfg: cfg, cancel: cancel,
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
			logPages, done, err := c.checkpoint(ctx, mode)
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

// checkpoint runs one checkpoint in mode and returns the WAL's frames and
// how many of them are in the database file now.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (logPages, done int64, err error) {
	var busy int
	row := c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
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
