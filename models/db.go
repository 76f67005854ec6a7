package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the database engine behind a DB.
type Dialect string

// The two supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB holds the GORM handles for one database. On SQLite writes go through a
// single connection (SQLite allows one writer; queuing in Go beats
// SQLITE_BUSY) while reads use a small pool; on Postgres both are the same pool.
//
// On SQLite the read pool runs every statement as a prepared statement
// (GORM's cache, LRU-bounded), which modernc.org/sqlite keeps compiled
// between executions; the write connection keeps the group commit's inserts
// prepared (writeStmts). Migrations use the unprepared handle (base), so DDL
// never enters the cache. Postgres keeps pgx's own
// per-connection statement cache, which GORM's did not beat. Every write is
// reported to changes (see Changes). A SQLite file's WAL is checkpointed off
// the writer, on a connection of its own (see checkpointer).
type DB struct {
	Dialect Dialect
	write   *gorm.DB
	read    *gorm.DB
	// base is the write pool without the prepared-statement cache.
	base    *gorm.DB
	changes *Changes
	// stmts keeps the hot writes prepared on SQLite's write connection
	// (nil on Postgres): see execPrepared.
	stmts *writeStmts
	// ckpt checkpoints the WAL off the writer (SQLite file only; nil
	// otherwise): see checkpointer.
	ckpt *checkpointer
}

// Now returns the current time in UTC, truncated to microseconds (the
// precision Postgres keeps), so values read back compare equal to values written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// ParseDatabaseURL checks a TILL_DATABASE_URL value and returns its dialect.
func ParseDatabaseURL(raw string) (Dialect, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		if strings.TrimPrefix(raw, "sqlite://") == "" {
			return "", errors.New("sqlite:// needs a file path, e.g. sqlite://data/till.db")
		}
		return SQLite, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", fmt.Errorf("not a valid postgres URL: %w", err)
		}
		return Postgres, nil
	default:
		return "", errors.New("must start with sqlite:// or postgres://")
	}
}

// Open connects to the database named by a TILL_DATABASE_URL value. For
// SQLite the parent folder is created and WAL, a busy timeout and foreign keys
// are switched on.
func Open(ctx context.Context, rawURL string, log *slog.Logger) (*DB, error) {
	dialect, err := ParseDatabaseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                Now,
		SkipDefaultTransaction: true,
		TranslateError:         true,
		PrepareStmtMaxSize:     prepareStmtMaxSize,
		PrepareStmtTTL:         time.Hour,
	}
	if log != nil {
		cfg.Logger = newGormLogger(log)
	}
	db := &DB{Dialect: dialect}
	var ckptDSN string // SQLite file: the checkpoint connection's
	switch dialect {
	case SQLite:
		path := strings.TrimPrefix(rawURL, "sqlite://")
		path, query, _ := strings.Cut(path, "?")
		if path != ":memory:" {
			if dir := filepath.Dir(path); dir != "." {
				if err := os.MkdirAll(dir, 0o750); err != nil { //nolint:gosec // G703: the operator's own TILL_DATABASE_URL names the folder
					return nil, fmt.Errorf("models: create database folder: %w", err)
				}
			}
		}
		// temp_store(MEMORY): the statement journal each conditional insert
		// of a group-commit transaction opens (models/groupcommit.go) stays
		// in memory; with the default it spilled to a temporary file, 14 %
		// of the writer's CPU in write system calls (docs/BENCHMARKS.md).
		//
		// The time parameters keep what glebarez/go-sqlite did before the
		// swap to modernc.org/sqlite v1.62 (libtnb/sqlite): times written as
		// "2006-01-02 15:04:05.999999999-07:00", DATE/DATETIME/TIMESTAMP
		// columns read back in UTC, and nothing else turned into a time
		// (libtnb switches _texttotime and _inttotime on unless told).
		//
		// The write connection alone has wal_autocheckpoint(0): its WAL
		// checkpoints run on a connection of their own (checkpoint.go).
		dsn := func(busyMS int, extra string) string {
			d := "file:" + path + fmt.Sprintf("?_pragma=busy_timeout(%d)", busyMS) + "&_pragma=journal_mode(WAL)" +
				"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)" + extra +
				"&_txlock=immediate&_time_format=sqlite&_timezone=UTC&_texttotime=0&_inttotime=0"
			if query != "" {
				d += "&" + query
			}
			return d
		}
		if db.write, err = gorm.Open(sqlite.Open(dsn(10000, "&_pragma=wal_autocheckpoint(0)")), cfg); err != nil {
			return nil, fmt.Errorf("models: open sqlite: %w", err)
		}
		if db.read, err = gorm.Open(sqlite.Open(dsn(10000, "")), cfg); err != nil {
			return nil, fmt.Errorf("models: open sqlite: %w", err)
		}
		if path != ":memory:" { // no WAL in memory, nothing to checkpoint
			ckptDSN = dsn(checkpointBusy, "&_pragma=wal_autocheckpoint(0)")
		}
		db.base = db.write
		w, _ := db.write.DB()
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		r, _ := db.read.DB()
		r.SetMaxOpenConns(4)
		r.SetMaxIdleConns(4)
	case Postgres:
		if db.write, err = gorm.Open(postgres.Open(rawURL), cfg); err != nil {
			return nil, fmt.Errorf("models: open postgres: %w", err)
		}
		sqlDB, _ := db.write.DB()
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		db.read = db.write
		db.base = db.write
	}
	db.changes = newChanges(db.Dialect)
	// The SQLite handles were opened with one *gorm.Config, so they share
	// its callbacks: register once (twice ran every hook twice and logged
	// gorm's "duplicated callback" warning at every start).
	for i, g := range []*gorm.DB{db.write, db.read} {
		if i == 1 && (db.read == db.write || db.read.Callback() == db.write.Callback()) {
			break
		}
		if err := db.changes.register(g); err != nil {
			db.Close()
			return nil, err
		}
	}
	if dialect == SQLite {
		// One LRU of statements for the read pool; the bound keeps queries
		// whose text varies (IN lists of varying length) from growing it.
		// The write connection is not under GORM's cache: with it,
		// concurrent transactions (TestAssignCreditConcurrent) failed now
		// and then with SQLITE_BUSY_SNAPSHOT (517), which one connection
		// opened BEGIN IMMEDIATE should never see. Its hot inserts are
		// prepared by hand instead (writeStmts).
		db.read = db.read.Session(&gorm.Session{PrepareStmt: true, NewDB: true})
		w, _ := db.write.DB()
		db.stmts = &writeStmts{pool: w, m: map[string]*sql.Stmt{}}
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if dialect == Postgres {
		sqlDB, _ := db.base.DB()
		db.changes.startPostgres(rawURL, sqlDB, log)
	}
	if ckptDSN != "" {
		w, _ := db.write.DB()
		if db.ckpt, err = startCheckpointer(ckptDSN, w, db.changes, log, defaultCheckpoint); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// prepareStmtMaxSize bounds each pool's prepared-statement cache (Till has
// about 300 distinct statements; the rest are IN lists of varying length).
const prepareStmtMaxSize = 512

// Changes is the handle's change tracker, shared by every Store on it.
func (db *DB) Changes() *Changes { return db.changes }

// Ping checks that the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.write.DB()
	if err != nil {
		return fmt.Errorf("models: ping: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("models: ping: %w", err)
	}
	return nil
}

// Close stops the change listener and the checkpointer and closes every
// pool. The last SQLite connection to close checkpoints the WAL and
// removes it.
func (db *DB) Close() error {
	if db.changes != nil {
		db.changes.stop()
	}
	var errs []error
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.stop())
	}
	if db.stmts != nil {
		errs = append(errs, db.stmts.close())
	}
	for _, g := range []*gorm.DB{db.write, db.read} {
		if g == nil {
			continue
		}
		if s, err := g.DB(); err == nil {
			if err := s.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if db.read == db.write {
			break
		}
	}
	return errors.Join(errs...)
}

// W returns the write handle bound to ctx.
func (db *DB) W(ctx context.Context) *gorm.DB { return db.write.WithContext(ctx) }

// R returns the read handle bound to ctx.
func (db *DB) R(ctx context.Context) *gorm.DB { return db.read.WithContext(ctx) }

// Tx runs fn in one write transaction. The tables it writes are reported
// to the change tracker after it commits (nothing on rollback).
func (db *DB) Tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	ctx, done := db.changes.inTx(ctx)
	err := db.write.WithContext(ctx).Transaction(fn)
	done(err == nil)
	return err
}

// writeStmts are statements prepared once on SQLite's write pool, which has
// a single connection, so each stays compiled on that connection for the
// life of the pool. modernc.org/sqlite (v1.61.1 on) keeps a prepared
// statement's program between executions; an unprepared Exec parses and
// plans the text every time (sqlite3_prepare_v2 was 20–28 % of the CPU of
// session creation, docs/BENCHMARKS.md). Only statements that run to
// completion belong here (an INSERT or UPDATE run by execPrepared, or an
// UPDATE … RETURNING whose one row queryRowPrepared reads and closes): each
// execution ends with the statement reset, so none holds a read snapshot
// open on the write connection between uses, which is what a cached SELECT
// could do and what SQLITE_BUSY_SNAPSHOT (517) once came from when GORM's
// statement cache covered every statement of the write handle.
type writeStmts struct {
	pool *sql.DB
	mu   sync.Mutex
	// m is keyed by the SQL text; its keys are the few constant statements
	// of the callers (paymentinsert.go, kpubreserve.go), so it stays that
	// small.
	m map[string]*sql.Stmt
}

// get returns query prepared on the write pool. It takes the write
// connection to prepare the first time, so it must not be called while
// this goroutine holds that connection (inside a transaction).
func (w *writeStmts) get(ctx context.Context, query string) (*sql.Stmt, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st, ok := w.m[query]; ok {
		return st, nil
	}
	st, err := w.pool.PrepareContext(ctx, query) //nolint:sqlclosecheck // kept for the pool's life; close() closes it
	if err != nil {
		return nil, fmt.Errorf("models: prepare: %w", err)
	}
	w.m[query] = st
	return st, nil
}

func (w *writeStmts) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for q, st := range w.m {
		errs = append(errs, st.Close())
		delete(w.m, q)
	}
	return errors.Join(errs...)
}

// execPrepared runs the write st (prepared from query by writeStmts.get)
// with args: inside tx when tx is a DB.Tx transaction (through
// Tx.StmtContext, which reuses the statement already prepared on the
// transaction's connection), else on its own. It does what GORM's Exec
// would around the statement: the error translated as GORM translates it
// (a unique violation is gorm.ErrDuplicatedKey) and the write reported to
// the change tracker (at commit inside tx).
func (db *DB) execPrepared(ctx context.Context, tx *gorm.DB, st *sql.Stmt, query string, args []any) (rowsAffected int64, err error) {
	var res sql.Result
	if tx == nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		var sqlTx *sql.Tx
		if sqlTx, err = txOf(tx); err != nil {
			return 0, err
		}
		res, err = execInTx(ctx, sqlTx, st, args)
	}
	db.wrotePrepared(tx, query)
	if err != nil {
		return 0, db.translate(err)
	}
	return res.RowsAffected()
}

// queryRowPrepared runs the write st that returns one row (an UPDATE …
// RETURNING, prepared from query by writeStmts.get) with args and scans the
// row into dest, inside tx or on its own as execPrepared does. Scanning
// closes the rows, which resets st: a prepared write with RETURNING holds no
// read snapshot between uses either.
func (db *DB) queryRowPrepared(ctx context.Context, tx *gorm.DB, st *sql.Stmt, query string, args []any, dest ...any) error {
	var err error
	if tx == nil {
		err = st.QueryRowContext(ctx, args...).Scan(dest...)
	} else {
		var sqlTx *sql.Tx
		if sqlTx, err = txOf(tx); err != nil {
			return err
		}
		err = queryRowInTx(ctx, sqlTx, st, args, dest)
	}
	db.wrotePrepared(tx, query)
	if err != nil {
		return db.translate(err)
	}
	return nil
}

// txOf is the database/sql transaction under a DB.Tx handle.
func txOf(tx *gorm.DB) (*sql.Tx, error) {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("models: prepared write outside a database/sql transaction (%T)", tx.Statement.ConnPool)
	}
	return sqlTx, nil
}

// wrotePrepared reports a prepared write of query to the change tracker: at
// commit inside tx, at once without.
func (db *DB) wrotePrepared(tx *gorm.DB, query string) {
	if write, m := sqlWriteMask(query); write {
		if tx != nil {
			db.changes.wrote(tx, m)
		} else {
			db.changes.bump(m)
		}
	}
}

// translate maps a driver error as GORM's Exec would (a unique violation
// is gorm.ErrDuplicatedKey).
func (db *DB) translate(err error) error {
	if t, ok := db.write.Dialector.(gorm.ErrorTranslator); ok {
		return t.Translate(err)
	}
	return err
}

// execInTx runs st in tx. Closing the transaction's handle of st releases
// only that handle; st stays prepared on the connection.
func execInTx(ctx context.Context, tx *sql.Tx, st *sql.Stmt, args []any) (sql.Result, error) {
	txSt := tx.StmtContext(ctx, st)
	defer txSt.Close()
	return txSt.ExecContext(ctx, args...)
}

// queryRowInTx runs st in tx and scans its one row into dest.
func queryRowInTx(ctx context.Context, tx *sql.Tx, st *sql.Stmt, args, dest []any) error {
	txSt := tx.StmtContext(ctx, st)
	defer txSt.Close()
	return txSt.QueryRowContext(ctx, args...).Scan(dest...)
}

// gormLogger sends slow queries and unexpected errors to slog; record-not-found
// is normal control flow and stays quiet.
type gormLogger struct{ log *slog.Logger }

func newGormLogger(l *slog.Logger) logger.Interface { return &gormLogger{log: l} }

func (g *gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }

// ParamsFilter drops bound values from logged SQL: they can hold password
// hashes, key hashes and customer data, none of which may reach a log line.
func (g *gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
func (g *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	g.log.DebugContext(ctx, "gorm", slog.String("msg", fmt.Sprintf(msg, args...)))
}
func (g *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	g.log.WarnContext(ctx, "gorm", slog.String("msg", fmt.Sprintf(msg, args...)))
}
func (g *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	g.log.ErrorContext(ctx, "gorm", slog.String("msg", fmt.Sprintf(msg, args...)))
}
func (g *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled) && !isUniqueViolation(err):
		// The SQL text carries no secrets (values are bound parameters), but
		// keep only the statement, not the rows.
		sql, _ := fc()
		g.log.WarnContext(ctx, "db query failed", slog.String("error", err.Error()), slog.String("sql", truncate(sql, 300)))
	case elapsed > 500*time.Millisecond:
		sql, rows := fc()
		g.log.WarnContext(ctx, "slow query", slog.Duration("elapsed", elapsed), slog.Int64("rows", rows), slog.String("sql", truncate(sql, 300)))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// isUniqueViolation tells whether err is a unique-constraint violation on
// either engine (GORM translates both to ErrDuplicatedKey).
func isUniqueViolation(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "duplicate key value")
}
