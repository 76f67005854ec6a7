package models_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"till/models"
)

// heldCommits holds the store's group commit before its first batch until
// release is called, and reports each queued insert on queued: the test can
// then put a known set of inserts into one transaction (one batch in
// flight at a time while held).
type heldCommits struct {
	queued  chan struct{}
	release func()
}

func holdCommits(t *testing.T, s *models.Store) *heldCommits {
	t.Helper()
	h := &heldCommits{queued: make(chan struct{}, 1000)}
	gate := make(chan struct{})
	var once sync.Once
	h.release = func() { once.Do(func() { close(gate) }) }
	models.GroupCommitHooks(s, func() { h.queued <- struct{}{} }, func() { <-gate })
	t.Cleanup(func() {
		h.release()
		select { // no committer goroutine outlives the test
		case <-models.GroupCommitIdle(s):
		case <-time.After(10 * time.Second):
			t.Error("the group commit goroutine is still running")
		}
	})
	return h
}

// wait blocks until n more inserts are queued.
func (h *heldCommits) wait(n int) {
	for range n {
		<-h.queued
	}
}

// createConcurrently has creators goroutines each create each sessions on
// the fixture's link at once, and returns them; any error fails the test.
func createConcurrently(t *testing.T, f *fixture, creators, each int) []*models.Payment {
	t.Helper()
	got := make(chan *models.Payment, creators*each)
	errs := make(chan error, creators*each)
	var wg sync.WaitGroup
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
				if err != nil {
					errs <- err
					return
				}
				got <- p
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(got)
	for err := range errs {
		t.Fatal(err)
	}
	out := make([]*models.Payment, 0, creators*each)
	for p := range got {
		out = append(out, p)
	}
	return out
}

// wentTogether fails unless, on Postgres, at least n inserts went through a
// multi-row statement since before (MultiRowInserts): the test then checks
// the money rules of that form. SQLite has none.
func wentTogether(t *testing.T, f *fixture, before int64, n int) {
	t.Helper()
	if got := models.MultiRowInserts(f.s) - before; f.s.DB().Dialect == models.Postgres && got < int64(n) {
		t.Fatalf("%d inserts went through a multi-row statement, want at least %d", got, n)
	}
}

// insertOutcome is one InsertUniqueAmount caller's result.
type insertOutcome struct {
	inserted bool
	err      error
}

// insertTogether queues each of ps's conditional insert at once under the
// held commit h (InsertOnFreeAddress for a session with a derivation
// index, else InsertUniqueAmount), releases it once all are queued (one
// transaction), and returns their outcomes in the order of ps.
func insertTogether(f *fixture, h *heldCommits, ps ...*models.Payment) []insertOutcome {
	out := make([]insertOutcome, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			insert := models.InsertUniqueAmount
			if p.DerivationIndex != nil {
				insert = models.InsertOnFreeAddress
			}
			ok, err := insert(f.ctx, f.s, p)
			out[i] = insertOutcome{ok, err}
		}()
	}
	h.wait(len(ps))
	h.release()
	wg.Wait()
	return out
}

// TestGroupCommitConcurrentCreators: creators on one address whose first
// inserts all land in one transaction get distinct amounts; with twice as
// many amounts as creators, clashes inside the batch are near certain and
// are retried with new offsets, in later batches.
func TestGroupCommitConcurrentCreators(t *testing.T) {
	const n = 12
	f := newFixture(t, func(o *models.StoreOptions) { o.UniqueOffsetRange = 2 * n })
	h := holdCommits(t, f.s)
	before := models.MultiRowInserts(f.s)
	amounts := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
			errs[i] = err
			if err == nil {
				amounts[i] = p.AmountExpected
			}
		}()
	}
	h.wait(n)
	h.release()
	wg.Wait()
	wentTogether(t, f, before, n)
	seen := map[int64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("creator %d: %v", i, errs[i])
		}
		if seen[amounts[i]] {
			t.Fatalf("amount %d given twice", amounts[i])
		}
		seen[amounts[i]] = true
	}
	var stored int64
	if err := f.s.DB().W(f.ctx).Model(&models.Payment{}).Where("status = 'pending'").Count(&stored).Error; err != nil || stored != n {
		t.Fatalf("%d pending sessions stored (%v), want %d", stored, err, n)
	}
}

// TestGroupCommitClashFailsOnlyItsInsert: two inserts of one amount and a
// third of another in one transaction: one of the pair is refused by the
// partial unique index, the other two are committed. The refused one fails
// with a unique violation on SQLite and is left out without an error on
// Postgres (ON CONFLICT DO NOTHING); either means "try another offset".
func TestGroupCommitClashFailsOnlyItsInsert(t *testing.T) {
	f := newFixture(t)
	tmpl := f.session()
	h := holdCommits(t, f.s)
	amount := []int64{tmpl.AmountExpected + 1_000_000, tmpl.AmountExpected + 1_000_000, tmpl.AmountExpected + 2_000_000}
	ps := make([]*models.Payment, 3)
	ids := make([]string, 3)
	for i := range ps {
		p := *tmpl
		p.ID, p.AmountExpected = uuid.NewString(), amount[i]
		ps[i], ids[i] = &p, p.ID
	}
	before := models.MultiRowInserts(f.s)
	out := insertTogether(f, h, ps...)
	wentTogether(t, f, before, 3)
	if out[2].err != nil || !out[2].inserted {
		t.Fatalf("the other amount: %+v", out[2])
	}
	won, lost := out[0], out[1]
	if !won.inserted {
		won, lost = lost, won
	}
	refused := lost.err == nil // Postgres
	if f.s.DB().Dialect == models.SQLite {
		refused = lost.err != nil && models.IsUniqueViolation(lost.err)
	}
	if !won.inserted || won.err != nil || lost.inserted || !refused {
		t.Fatalf("the clashing pair: %+v %+v", out[0], out[1])
	}
	var stored int64
	if err := f.s.DB().W(f.ctx).Model(&models.Payment{}).Where("id IN ?", ids).Count(&stored).Error; err != nil || stored != 2 {
		t.Fatalf("%d of the batch stored (%v), want 2", stored, err)
	}
}

// TestGroupCommitCancelledRequest: a creator whose request ends while its
// insert is queued returns at once, the batch goes on without it, and its
// row is never written.
func TestGroupCommitCancelledRequest(t *testing.T) {
	f := newFixture(t)
	tmpl := f.session()
	h := holdCommits(t, f.s)
	gone, live := *tmpl, *tmpl
	gone.ID, gone.AmountExpected = uuid.NewString(), tmpl.AmountExpected+1_000_000
	live.ID, live.AmountExpected = uuid.NewString(), tmpl.AmountExpected+2_000_000
	ctx, cancel := context.WithCancel(f.ctx)
	goneErr := make(chan error, 1)
	go func() {
		_, err := models.InsertUniqueAmount(ctx, f.s, &gone)
		goneErr <- err
	}()
	h.wait(1)
	liveDone := make(chan error, 1)
	go func() {
		ok, err := models.InsertUniqueAmount(f.ctx, f.s, &live)
		if err == nil && !ok {
			err = errors.New("not inserted")
		}
		liveDone <- err
	}()
	h.wait(1)
	cancel()
	if err := <-goneErr; !errors.Is(err, context.Canceled) { // while the batch is still held
		t.Fatalf("cancelled creator: %v", err)
	}
	h.release()
	if err := <-liveDone; err != nil {
		t.Fatalf("live creator: %v", err)
	}
	if _, err := f.s.Payment(f.ctx, gone.ID); err == nil {
		t.Fatal("the cancelled request's session was written")
	}
	if _, err := f.s.Payment(f.ctx, live.ID); err != nil {
		t.Fatalf("the live request's session: %v", err)
	}
}

// TestGroupCommitKeepsLateAmounts: with three amounts and one held by an
// expired session that can still be paid late, two creators in one batch
// take the other two, and a third finds none.
func TestGroupCommitKeepsLateAmounts(t *testing.T) {
	f := newFixture(t, func(o *models.StoreOptions) { o.UniqueOffsetRange = 3 })
	first := f.session()
	f.expireOpen(1)
	h := holdCommits(t, f.s)
	before := models.MultiRowInserts(f.s)
	got := make([]*models.Payment, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
		}()
	}
	h.wait(2)
	h.release()
	wg.Wait()
	wentTogether(t, f, before, 2)
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("creator %d: %v", i, errs[i])
		}
	}
	a, b := got[0].AmountExpected, got[1].AmountExpected
	if a == first.AmountExpected || b == first.AmountExpected || a == b {
		t.Fatalf("amounts %d %d beside the late-payable %d", a, b, first.AmountExpected)
	}
	var un *models.UnavailableError
	if _, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug}); !errors.As(err, &un) {
		t.Fatalf("with every amount taken: %v", err)
	}
}

// TestGroupCommitManyBatches: creators on one address with the production
// number of batches in flight, each opening several sessions on a range
// of twice as many amounts: clashes within and across batches in flight
// are frequent, and every session still gets its own amount.
func TestGroupCommitManyBatches(t *testing.T) {
	const creators, each = 16, 6
	f := newFixture(t, func(o *models.StoreOptions) { o.UniqueOffsetRange = 2 * creators * each })
	seen := map[int64]bool{}
	for _, p := range createConcurrently(t, f, creators, each) {
		a := p.AmountExpected
		if seen[a] {
			t.Fatalf("amount %d given twice", a)
		}
		seen[a] = true
	}
	var stored int64
	if err := f.s.DB().W(f.ctx).Model(&models.Payment{}).Where("status = 'pending'").Count(&stored).Error; err != nil || stored != creators*each {
		t.Fatalf("%d pending sessions stored (%v), want %d", stored, err, creators*each)
	}
}

// TestGroupCommitFailedBatchRunsEachAlone: a batch with an insert that
// fails for a reason other than a clash (a merchant that does not exist)
// fails as a whole; each insert then runs on its own, so only the bad one
// fails and the other is stored.
func TestGroupCommitFailedBatchRunsEachAlone(t *testing.T) {
	f := newFixture(t)
	tmpl := f.session()
	h := holdCommits(t, f.s)
	good, bad := *tmpl, *tmpl
	good.ID, good.AmountExpected = uuid.NewString(), tmpl.AmountExpected+1_000_000
	bad.ID, bad.AmountExpected, bad.MerchantID = uuid.NewString(), tmpl.AmountExpected+2_000_000, uuid.NewString()
	out := insertTogether(f, h, &good, &bad)
	if !out[0].inserted || out[0].err != nil {
		t.Fatalf("the good insert: %+v", out[0])
	}
	if out[1].inserted || out[1].err == nil || models.IsUniqueViolation(out[1].err) {
		t.Fatalf("the bad insert: %+v", out[1])
	}
	if _, err := f.s.Payment(f.ctx, good.ID); err != nil {
		t.Fatalf("the good session: %v", err)
	}
	if _, err := f.s.Payment(f.ctx, bad.ID); err == nil {
		t.Fatal("the bad session was written")
	}
}

// TestGroupCommitIDClashIsAnError: in one batch with an insert that is
// fine, an insert whose id is taken reports a unique violation to its own
// caller (not "not inserted", which on Postgres would send it round for
// another amount), and the other insert is written.
func TestGroupCommitIDClashIsAnError(t *testing.T) {
	f := newFixture(t)
	tmpl := f.session()
	h := holdCommits(t, f.s)
	good, taken := *tmpl, *tmpl
	good.ID, good.AmountExpected = uuid.NewString(), tmpl.AmountExpected+1_000_000
	taken.AmountExpected = tmpl.AmountExpected + 2_000_000
	out := insertTogether(f, h, &good, &taken)
	if !out[0].inserted || out[0].err != nil {
		t.Fatalf("the good insert: %+v", out[0])
	}
	if out[1].inserted || out[1].err == nil || !models.IsUniqueViolation(out[1].err) {
		t.Fatalf("the insert with a taken id: %+v", out[1])
	}
	if _, err := f.s.Payment(f.ctx, good.ID); err != nil {
		t.Fatalf("the good session: %v", err)
	}
	got, err := f.s.Payment(f.ctx, tmpl.ID)
	if err != nil || got.AmountExpected != tmpl.AmountExpected {
		t.Fatalf("the session whose id was taken: %+v, %v", got, err)
	}
}

// TestGroupCommitMixedBatch: two unique-amount inserts and a free-address
// one (a kpub session's, on an address of its own) in one batch: all three
// are written, and on Postgres the pair goes in as one multi-row statement
// beside the other. A second free-address insert on the same address, in
// the next batch, is refused.
func TestGroupCommitMixedBatch(t *testing.T) {
	f := newFixture(t)
	tmpl := f.session()
	h := holdCommits(t, f.s)
	a, b, k, k2 := *tmpl, *tmpl, *tmpl, *tmpl
	a.ID, a.AmountExpected = uuid.NewString(), tmpl.AmountExpected+1_000_000
	b.ID, b.AmountExpected = uuid.NewString(), tmpl.AmountExpected+2_000_000
	idx := int64(7)
	k.ID, k.PayAddress, k.DerivationIndex = uuid.NewString(), tmpl.PayAddress+"k", &idx
	k2.ID, k2.PayAddress, k2.DerivationIndex = uuid.NewString(), k.PayAddress, &idx
	before := models.MultiRowInserts(f.s)
	out := insertTogether(f, h, &a, &b, &k)
	for i, o := range out {
		if !o.inserted || o.err != nil {
			t.Fatalf("insert %d: %+v", i, o)
		}
	}
	wentTogether(t, f, before, 2)
	if got := models.MultiRowInserts(f.s) - before; got > 2 {
		t.Fatalf("%d inserts in multi-row statements, want the free-address one alone", got)
	}
	for _, id := range []string{a.ID, b.ID, k.ID} {
		if _, err := f.s.Payment(f.ctx, id); err != nil {
			t.Fatalf("session %s: %v", id, err)
		}
	}
	done := make(chan insertOutcome, 1)
	go func() {
		ok, err := models.InsertOnFreeAddress(f.ctx, f.s, &k2)
		done <- insertOutcome{ok, err}
	}()
	h.wait(1)
	if o := <-done; o.inserted || o.err != nil {
		t.Fatalf("a second session on the watched address: %+v", o)
	}
}

// TestGroupCommitFreeAddressRows: free-address inserts (kpub sessions')
// in one batch: two on addresses of their own are written; one on an
// address an earlier session still watches is refused; one repeating an
// address of the batch is refused, as its count sees the first. On
// Postgres the three on distinct addresses go in as one multi-row
// statement and the repeat on its own after it.
func TestGroupCommitFreeAddressRows(t *testing.T) {
	f := newFixture(t)
	tmpl := f.session()
	at := func(addr string, idx int64) *models.Payment {
		p := *tmpl
		p.ID, p.PayAddress, p.DerivationIndex, p.AmountExpected = uuid.NewString(), addr, &idx, tmpl.AmountExpected
		return &p
	}
	watched := at(tmpl.PayAddress+"w", 1)
	if ok, err := models.InsertOnFreeAddress(f.ctx, f.s, watched); !ok || err != nil {
		t.Fatalf("the watched session: %v, %v", ok, err)
	}
	h := holdCommits(t, f.s)
	k1, k2 := at(tmpl.PayAddress+"a", 2), at(tmpl.PayAddress+"b", 3)
	batch := []*models.Payment{k1, at(k1.PayAddress, 4), k2, at(watched.PayAddress, 5)}
	before := models.MultiRowInserts(f.s)
	out := insertTogether(f, h, batch...)
	// k1 and its repeat race for the batch's order: exactly one of them
	// is written.
	written := 0
	for i, want := range []bool{true, true, true, false} {
		o := out[i]
		if o.err != nil {
			t.Fatalf("insert %d: %v", i, o.err)
		}
		if i < 2 {
			if o.inserted {
				written++
			}
			continue
		}
		if o.inserted != want {
			t.Errorf("insert %d (%s): inserted %v, want %v", i, batch[i].PayAddress, o.inserted, want)
		}
	}
	if written != 1 {
		t.Errorf("%d sessions written on one address in one batch, want 1", written)
	}
	var n int64
	if err := f.s.DB().W(f.ctx).Raw("SELECT count(*) FROM payments WHERE pay_address IN (?, ?, ?)",
		k1.PayAddress, k2.PayAddress, watched.PayAddress).Scan(&n).Error; err != nil || n != 3 {
		t.Fatalf("%d sessions on the three addresses (%v), want 3", n, err)
	}
	if got := models.MultiRowInserts(f.s) - before; f.s.DB().Dialect == models.Postgres && got != 3 {
		t.Fatalf("%d inserts in a multi-row statement, want the 3 on distinct addresses", got)
	}
}

// TestGroupCommitLateAmountInBatch: in one batch, an insert whose amount
// an expired session on the address can still be paid with is left out
// (not inserted, no error: the caller takes another offset) and the other
// is written; on Postgres both went through the multi-row statement, whose
// late check reads each row's own address and amount.
func TestGroupCommitLateAmountInBatch(t *testing.T) {
	f := newFixture(t)
	first := f.session()
	f.expireOpen(1)
	h := holdCommits(t, f.s)
	late, free := *first, *first
	late.ID, late.Status, late.ExpiresAt = uuid.NewString(), models.StatusPending, f.clock.Now().Add(30*time.Minute)
	free.ID, free.Status, free.ExpiresAt = uuid.NewString(), models.StatusPending, late.ExpiresAt
	free.AmountExpected = first.AmountExpected + 1_000_000
	before := models.MultiRowInserts(f.s)
	out := insertTogether(f, h, &late, &free)
	wentTogether(t, f, before, 2)
	if out[0].inserted || out[0].err != nil {
		t.Fatalf("the late-payable amount: %+v", out[0])
	}
	if !out[1].inserted || out[1].err != nil {
		t.Fatalf("the free amount: %+v", out[1])
	}
}
