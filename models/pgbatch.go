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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgBatchesInFlight is how many batches of session inserts may be in
// flight on Postgres at once, each on its own pool connection (of 20), and
// pgAloneUpTo how many inserts in flight still run as their own statements
// before new ones queue for a batch: batching saves CPU per session
// (Postgres −25–40 %, Till −10–30 %) but adds a wait in the queue, which
// cost sessions/s at 8 connections. Measured in docs/BENCHMARKS.md
// ("Postgres: batched session inserts"): 1 batch in flight halved
// sessions/s at 8 connections; 2 saved the most CPU; 8 kept up at 8
// connections and gained at 32.
const (
	pgBatchesInFlight = 8
	pgAloneUpTo       = 8
)

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
// committed.
func (g *groupCommit) sendBatch(live []*commitReq, set func(*commitReq, bool)) error {
	ctx := context.Background()
	conn, err := g.pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	wrote := false
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("models: batch: driver connection %T is not pgx's", dc)
		}
		var b pgx.Batch
		for _, r := range live {
			b.Queue(pgBatchText(r.sql), r.args...)
		}
		br := sc.Conn().SendBatch(ctx, &b)
		for _, r := range live {
			tag, err := br.Exec()
			if err != nil {
				return errors.Join(err, br.Close())
			}
			set(r, tag.RowsAffected() == 1)
			wrote = wrote || tag.RowsAffected() == 1
		}
		return br.Close()
	})
	if err == nil && wrote {
		g.db.changes.bump(changePayments)
	}
	return err
}

// dollarPlaceholders numbers q's ? placeholders $1, $2, … as Postgres
// takes them (pgx batches, PREPARE).
func dollarPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c != '?' {
			b.WriteRune(c)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}
