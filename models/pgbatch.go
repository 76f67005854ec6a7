package models

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgBatchesInFlight is how many batches of session inserts may be in
// flight on Postgres at once, each on its own pool connection (of 20).
// Every insert queues for a batch, even alone: a lone insert is a batch of
// one, one round trip as before. With the unique-amount inserts of a batch
// in one statement (pgRows), larger batches cost the server and Till less
// per session, and 2 in flight formed them without the wait in the queue
// that 1 costs at 8 connections. Measured in docs/BENCHMARKS.md ("Tenth
// round"): against 8 in flight and 8 inserts alone before any queued,
// Postgres's and Till's CPU per session at 32 connections fell by a third
// and p99 by half or more.
const pgBatchesInFlight = 2

// pgBatchSQL maps a conditional insert (? placeholders, as gorm takes it)
// to its batch form: pgx's $n placeholders, and the statement's clause from
// pgBatchConflict, if any (paymentinsert.go), so that a clash on an open
// amount leaves the row out instead of aborting the batch's transaction;
// the caller sees "not inserted", as after a failed condition, and retries
// with a new offset. Any other error (a clash on the id, say) fails the
// batch, which then runs each insert alone and reports the error to its
// own caller.
var pgBatchSQL sync.Map

func pgBatchText(q string) string {
	if s, ok := pgBatchSQL.Load(q); ok {
		return s.(string)
	}
	text := dollarPlaceholders(q) + pgBatchConflict[q]
	pgBatchSQL.Store(q, text)
	return text
}

// The positions in insertArgs of the open-amount key's columns.
var (
	argChain   = slices.Index(paymentColumns, "chain")
	argAddress = slices.Index(paymentColumns, "pay_address")
	argAmount  = slices.Index(paymentColumns, "amount_expected")
)

// lockOrder orders a batch's inserts by the open-amount key, so that two
// batches in flight wait on each other's uncommitted rows in one order and
// never deadlock.
func lockOrder(a, b *commitReq) int {
	return cmp.Or(
		cmp.Compare(a.args[argChain].(string), b.args[argChain].(string)),
		cmp.Compare(a.args[argAddress].(string), b.args[argAddress].(string)),
		cmp.Compare(a.args[argAmount].(int64), b.args[argAmount].(int64)))
}

// commitPostgres sends the batch's inserts to Postgres in one round trip
// (a pgx batch: one implicit transaction), each in its batch form. A caller
// gone before the batch is sent is skipped; statements run without the
// callers' contexts. Should the batch fail (a broken connection, an error
// other than a clash), each insert is run again on its own.
func (g *groupCommit) commitPostgres(batch []*commitReq) {
	results := make([]commitResult, len(batch))
	live := make([]*commitReq, 0, len(batch))
	at := make(map[*commitReq]int, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		live = append(live, r)
		at[r] = i
	}
	slices.SortFunc(live, lockOrder)
	if len(live) > 0 {
		if err := g.sendBatch(live, func(r *commitReq, inserted bool) {
			results[at[r]].inserted = inserted
		}); err != nil {
			g.eachAlone(batch, results)
		}
	}
	g.reply(batch, results)
}

// sendBatch runs live as one pgx batch on a connection of the write pool,
// reporting each statement's outcome to set; an error means nothing was
// committed. Inserts with a multi-row form (pgRows) go in as one statement
// per form, first in the batch (the unique-amount one, then the
// free-address one); the rest each as its own, after them.
func (g *groupCommit) sendBatch(live []*commitReq, set func(*commitReq, bool)) error {
	ctx := context.Background()
	conn, err := g.pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	multis, each := splitRows(live)
	wrote := false
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("models: batch: driver connection %T is not pgx's", dc)
		}
		var b pgx.Batch
		for _, m := range multis {
			b.Queue(m.text, m.args...)
		}
		for _, r := range each {
			b.Queue(pgBatchText(r.sql), r.args...)
		}
		br := sc.Conn().SendBatch(ctx, &b)
		for _, m := range multis {
			written, err := writtenIDs(br)
			if err != nil {
				return errors.Join(err, br.Close())
			}
			for _, r := range m.rows {
				set(r, written[r.args[0].(string)])
			}
			wrote = wrote || len(written) > 0
		}
		for _, r := range each {
			tag, err := br.Exec()
			if err != nil {
				return errors.Join(err, br.Close())
			}
			set(r, tag.RowsAffected() == 1)
			wrote = wrote || tag.RowsAffected() == 1
		}
		return br.Close()
	})
	if err == nil {
		for _, m := range multis {
			g.multiRowInserts.Add(int64(len(m.rows)))
		}
		if wrote {
			g.db.changes.bump(changePayments)
		}
	}
	return err
}

// writtenIDs reads the ids a multi-row insert returned: the rows written.
func writtenIDs(br pgx.BatchResults) (map[string]bool, error) {
	res, err := br.Query()
	if err != nil {
		return nil, err
	}
	written := map[string]bool{}
	var id string
	_, err = pgx.ForEachRow(res, []any{&id}, func() error {
		written[id] = true
		return nil
	})
	return written, err
}

// pgRows maps a conditional insert to its multi-row form on Postgres: the
// rows of a batch in one statement, their values one array per column
// (unnest), each row's condition checked for that row, RETURNING the ids
// written. In the one-row statement the condition's placeholders follow the
// row's columns; here they are the arrays after the columns' (u.cN). One
// statement for the batch's rows instead of one each halves the server's
// CPU per row at batches of 8–32 (docs/BENCHMARKS.md, "Tenth round").
//
// The unique-amount insert's condition reads expired sessions, which no
// row of the same statement is, and a clash between two rows of the
// statement on an open amount is settled by the open-amount index as
// between statements: the later row is left out (ON CONFLICT DO NOTHING).
// The free-address insert's count reads watched sessions on the row's
// address, and one statement's snapshot does not see its own rows: so no
// two of its rows share an address (splitRows sends a repeated address as
// a statement of its own, after, which sees the first). Rows on distinct
// addresses cannot refuse each other, as in one statement each.
var pgRows = map[string]string{
	insertUniqueAmountSQL[Postgres]: rowsForm(lateAmountTakenSQL) +
		pgBatchConflict[insertUniqueAmountSQL[Postgres]] + " RETURNING id",
	insertOnFreeAddressSQL[Postgres]: strings.Replace(rowsForm(addressWatchedSQL), "WHERE NOT EXISTS (SELECT 1", "WHERE (SELECT COUNT(*)", 1) +
		" = 0 RETURNING id",
}

// pgRowsOrder is the order of the multi-row statements in a batch: the
// free-address rows' count sees the unique-amount rows written before.
var pgRowsOrder = []string{insertUniqueAmountSQL[Postgres], insertOnFreeAddressSQL[Postgres]}

// rowsForm is the multi-row insert whose rows must not match cond (a
// condition's text with ? placeholders and its closing parenthesis),
// each ? read from the row's own array: %s is where the arrays go.
func rowsForm(cond string) string {
	n := len(paymentColumns)
	cond, last := numberPlaceholders(cond, "u.c", n)
	return "INSERT INTO payments (" + strings.Join(paymentColumns, ", ") + ") SELECT " +
		unnestColumns(1, n) + " FROM unnest(%s) AS u(" + unnestColumns(1, last) +
		") WHERE NOT EXISTS (SELECT 1 FROM payments " + cond
}

// unnestColumns names unnest's columns from..to: c1, c2, …
func unnestColumns(from, to int) string {
	names := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		names = append(names, "c"+strconv.Itoa(i))
	}
	return strings.Join(names, ", ")
}

// rowsInsert is a batch's multi-row insert: its rows, its text and one
// array per column.
type rowsInsert struct {
	rows []*commitReq
	text string
	args []any
}

// splitRows sorts live's inserts into multi-row statements (for each
// form in pgRowsOrder, two or more rows of it whose values convert to
// arrays) and those that each run as their own statement, after them: both
// keep live's order. A free-address row on an address an earlier row of
// its statement holds runs on its own.
func splitRows(live []*commitReq) (multis []*rowsInsert, each []*commitReq) {
	groups := map[string][]*commitReq{}
	seen := map[[2]string]bool{}
	rest := make([]*commitReq, 0, len(live))
	for _, r := range live {
		if _, ok := pgRows[r.sql]; !ok {
			rest = append(rest, r)
			continue
		}
		if r.sql == insertOnFreeAddressSQL[Postgres] {
			key := [2]string{r.args[argChain].(string), r.args[argAddress].(string)}
			if seen[key] {
				rest = append(rest, r)
				continue
			}
			seen[key] = true
		}
		groups[r.sql] = append(groups[r.sql], r)
	}
	if len(rest) == len(live) {
		return nil, live
	}
	alone := make(map[*commitReq]bool, len(rest))
	for _, r := range rest {
		alone[r] = true
	}
	for _, q := range pgRowsOrder {
		rows := groups[q]
		if m := rowsOf(rows); m != nil {
			multis = append(multis, m)
			continue
		}
		for _, r := range rows {
			alone[r] = true
		}
	}
	if len(multis) == 0 {
		return nil, live
	}
	for _, r := range live {
		if alone[r] {
			each = append(each, r)
		}
	}
	return multis, each
}

// rowsOf is rows as one multi-row statement, or nil: fewer than two, or a
// value not of its column's type in the first row.
func rowsOf(rows []*commitReq) *rowsInsert {
	if len(rows) < 2 {
		return nil
	}
	m := &rowsInsert{rows: rows, args: make([]any, len(rows[0].args))}
	casts := make([]string, len(m.args))
	for j := range m.args {
		var ok bool
		if m.args[j], casts[j], ok = pgArray(rows, j); !ok {
			return nil
		}
	}
	m.text = pgRowsText(rows[0].sql, casts)
	return m
}

// pgRowsSQL caches pgRows' texts with their arrays' casts filled in.
var pgRowsSQL sync.Map

// pgRowsText is q's multi-row form with each array cast to casts[j].
func pgRowsText(q string, casts []string) string {
	key := q + strings.Join(casts, ",")
	if s, ok := pgRowsSQL.Load(key); ok {
		return s.(string)
	}
	arrays := make([]string, len(casts))
	for j, c := range casts {
		arrays[j] = "$" + strconv.Itoa(j+1) + "::" + c
	}
	text := fmt.Sprintf(pgRows[q], strings.Join(arrays, ", "))
	pgRowsSQL.Store(key, text)
	return text
}

// pgArray is column j of rows as one array for unnest and the array type
// it takes, or ok false when a value is not of the first row's type.
func pgArray(rows []*commitReq, j int) (arr any, cast string, ok bool) {
	switch rows[0].args[j].(type) {
	case string:
		return pgColumn[string](rows, j, "text[]")
	case *string:
		return pgColumn[*string](rows, j, "text[]")
	case int64:
		return pgColumn[int64](rows, j, "int8[]")
	case *int64:
		return pgColumn[*int64](rows, j, "int8[]")
	case int:
		return pgColumn[int](rows, j, "int8[]")
	case bool:
		return pgColumn[bool](rows, j, "bool[]")
	case time.Time:
		return pgColumn[time.Time](rows, j, "timestamptz[]")
	case *time.Time:
		return pgColumn[*time.Time](rows, j, "timestamptz[]")
	}
	return nil, "", false
}

// pgColumn is column j of rows as a []T with its cast, or ok false.
func pgColumn[T any](rows []*commitReq, j int, cast string) (arr any, _ string, ok bool) {
	col := make([]T, len(rows))
	for i, r := range rows {
		if col[i], ok = r.args[j].(T); !ok {
			return nil, "", false
		}
	}
	return col, cast, true
}

// dollarPlaceholders numbers q's ? placeholders $1, $2, … as Postgres
// takes them (pgx batches, PREPARE).
func dollarPlaceholders(q string) string {
	q, _ = numberPlaceholders(q, "$", 0)
	return q
}

// numberPlaceholders replaces q's ? placeholders with prefix and the
// numbers after from, in order, and returns the last number used.
func numberPlaceholders(q, prefix string, from int) (string, int) {
	var b strings.Builder
	n := from
	for _, c := range q {
		if c != '?' {
			b.WriteRune(c)
			continue
		}
		n++
		b.WriteString(prefix + strconv.Itoa(n))
	}
	return b.String(), n
}
