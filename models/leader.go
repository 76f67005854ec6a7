package models

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
)

// Lock keys of the background jobs that must run in one process at a time
// (each EVM chain's watcher has its own, EVMWatcherLockKey).
const (
	LockKaspaWatcher int64 = 7_114_111_010
	LockExpirer      int64 = 7_114_111_011
	LockRetention    int64 = 7_114_111_014
)

// Leadership is a held job lock; Alive tells whether it still holds and
// Release gives it up.
type Leadership struct {
	conn *sql.Conn
	key  int64
}

// Alive checks the connection that holds the lock; a dead connection means
// Postgres already released the lock and another process may hold it.
func (l *Leadership) Alive(ctx context.Context) bool {
	if l.conn == nil {
		return true
	}
	return l.conn.PingContext(ctx) == nil
}

// Release gives the lock up.
func (l *Leadership) Release() {
	if l.conn == nil {
		return
	}
	// sql.Conn.Close returns the session to the pool, where a lock would
	// stay held: unlock explicitly first.
	_, _ = l.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", l.key)
	_ = l.conn.Close()
}

// TryLead tries to become the one process running the job named by key. On
// Postgres it takes a session advisory lock on a dedicated connection, so a
// process that dies loses it and another takes over; SQLite serves a single
// process, which always leads. It returns nil when another process leads.
func (db *DB) TryLead(ctx context.Context, key int64) (*Leadership, error) {
	if db.Dialect != Postgres {
		return &Leadership{}, nil
	}
	sqlDB, err := db.write.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("models: lock connection: %w", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("models: try lock: %w", err)
	}
	if !ok {
		conn.Close()
		return nil, nil
	}
	return &Leadership{conn: conn, key: key}, nil
}

// EVMWatcherLockKey is the leadership lock of chain's watcher: FNV-64a of
// "till-evm-watcher:"+chain, masked to a positive int64 and kept out of the
// 7_114_111_0xx range Till's fixed keys use. It is stable across processes
// and releases, and distinct per chain name.
func EVMWatcherLockKey(chain string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("till-evm-watcher:" + chain))
	k := int64(h.Sum64() & 0x7fff_ffff_ffff_ffff)
	if k < 1<<33 {
		k |= 1 << 62 // never in the range of the fixed keys (7_114_111_0xx)
	}
	return k
}

// WatcherLockKey is the leadership lock of chain's watcher: Kaspa keeps
// LockKaspaWatcher, each EVM chain gets its derived key.
func WatcherLockKey(chain string) int64 {
	if IsKaspa(chain) {
		return LockKaspaWatcher
	}
	return EVMWatcherLockKey(chain)
}
