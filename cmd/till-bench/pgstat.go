package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
)

// With -pgstat (PGSTAT=1: the bench's Postgres loads pg_stat_statements)
// the suite resets the server's statement statistics before each measured
// window and reads the top statements by total execution time after it,
// so the database side of Till's conditional insert can be put beside the
// ceilings' plain one.

// pgStatTop is how many statements are kept per workload.
const pgStatTop = 5

// stmtStat is one statement's execution in one window.
type stmtStat struct {
	DB    string  // the database it ran in
	Query string  // normalized, whitespace collapsed, shortened
	Calls int64   //
	Total float64 // total execution time, ms
	Mean  float64 // mean execution time, µs
}

// pgStat reads pg_stat_statements on one server.
type pgStat struct{ db *sql.DB }

func openPgStat(dbURL string) (*pgStat, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("-pgstat: %w", err)
	}
	return &pgStat{db: db}, nil
}

func (p *pgStat) Close() error { return p.db.Close() }

// reset clears the statistics (a superuser's right; the bench's server
// trusts "postgres").
func (p *pgStat) reset() error {
	_, err := p.db.ExecContext(context.Background(), "SELECT pg_stat_statements_reset()")
	return err
}

// top reads the statements with the most total execution time since the
// reset, leaving out the harness's own reads of the statistics.
func (p *pgStat) top() ([]stmtStat, error) {
	rows, err := p.db.QueryContext(context.Background(), `
		SELECT coalesce(d.datname, ''), s.query, s.calls, s.total_exec_time, s.mean_exec_time
		FROM pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid
		WHERE s.query NOT LIKE '%pg_stat_statements%'
		ORDER BY s.total_exec_time DESC LIMIT $1`, pgStatTop)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stmtStat
	for rows.Next() {
		var s stmtStat
		if err := rows.Scan(&s.DB, &s.Query, &s.Calls, &s.Total, &s.Mean); err != nil {
			return nil, err
		}
		s.Query, s.Mean = shortQuery(s.Query, 200), s.Mean*1000
		out = append(out, s)
	}
	return out, rows.Err()
}

// shortQuery collapses a query's whitespace and, past n bytes, keeps its
// head and tail (an INSERT's conditional part is at its end).
func shortQuery(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) <= n {
		return q
	}
	return strings.ToValidUTF8(q[:n/2], "") + " … " + strings.ToValidUTF8(q[len(q)-n/2:], "")
}

// writeStatements prints, per workload measured with -pgstat in run 1,
// its top statements: calls, total and mean execution time, and the
// execution time per request of the workload.
func writeStatements(w io.Writer, ms []measurement) {
	first := true
	for _, m := range ms {
		if m.Run != 1 || len(m.Statements) == 0 {
			continue
		}
		if first {
			fmt.Fprintf(w, "\nTop statements by total execution time (pg_stat_statements, run 1; exec µs/req is the statement's total over the workload's requests):\n")
			first = false
		}
		fmt.Fprintf(w, "\n%s, c=%d (%d requests):\n\n", m.Workload, m.Clients, m.N)
		fmt.Fprintln(w, "| database | calls | total ms | mean µs | exec µs/req | statement |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|---|")
		for _, s := range m.Statements {
			fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f | `%s` |\n", s.DB, s.Calls, s.Total, s.Mean,
				ratio(s.Total*1000, float64(m.N)), strings.ReplaceAll(s.Query, "|", `\|`))
		}
	}
}
