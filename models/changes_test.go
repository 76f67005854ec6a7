package models_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"till/models"
	"till/models/modeltest"
)

func TestSQLWriteGroups(t *testing.T) {
	const payments, links, merchants, chain, index, all = 1, 2, 4 | 16, 8, 16, 31
	cases := []struct {
		sql   string
		write bool
		mask  uint32
	}{
		{"SELECT * FROM payments WHERE id = ?", false, 0},
		{"  select 1", false, 0},
		{"SAVEPOINT sp1", false, 0},
		{"INSERT INTO rate_limits (bucket) VALUES (?) ON CONFLICT (bucket) DO UPDATE SET hits = 1 RETURNING hits", true, 0},
		{"INSERT OR IGNORE INTO payments (id) VALUES (?)", true, payments},
		{`INSERT INTO "transfers" (id) VALUES (?)`, true, payments},
		{models.ReserveIndexSQL, true, index},
		{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + ? WHERE id = ? RETURNING kaspa_next_index, kaspa_kpub", true, index},
		{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + $1 WHERE id = $2 RETURNING kaspa_next_index, kaspa_kpub", true, index},
		{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + $2 WHERE id = $1 RETURNING kaspa_next_index, kaspa_kpub", true, merchants},
		{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + ?, name = ? WHERE id = ? RETURNING kaspa_next_index, kaspa_kpub", true, merchants},
		{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + ? WHERE id = ? OR 1 = 1 RETURNING kaspa_next_index, kaspa_kpub", true, merchants},
		{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + ? WHERE id = ? RETURNING kaspa_next_index", true, merchants},
		{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + 1 WHERE id = ? RETURNING kaspa_next_index", true, merchants},
		{`UPDATE "merchants" SET "kaspa_address"=$1,"updated_at"=$2 WHERE id = $3`, true, merchants},
		{"UPDATE OR ROLLBACK payment_links SET status = ?", true, links},
		{"\n\tDELETE FROM idempotency_keys WHERE created_at < ?", true, 0},
		{"DELETE FROM payments", true, payments},
		{`INSERT INTO "chain_states" ("chain","network","daa_score") VALUES ($1,$2,$3) ON CONFLICT ("chain") DO UPDATE SET "daa_score"="excluded"."daa_score"`, true, chain},
		{"UPDATE `chain_states` SET `head`=?,`cursor`=? WHERE chain = ?", true, chain},
		{"UPDATE some_new_table SET x = 1", true, all},
		{"WITH x AS (SELECT 1) UPDATE payments SET late = true", true, all},
		{"VACUUM INTO ?", true, all},
		{"CREATE TABLE t (id INT)", true, all},
	}
	for _, c := range cases {
		w, m := models.SQLWriteGroups(c.sql)
		if w != c.write || m != c.mask {
			t.Errorf("%q: write %v groups %05b, want %v %05b", c.sql, w, m, c.write, c.mask)
		}
	}
}

// awaitLive waits until the handle's caches are live (on Postgres: its
// listener is listening).
func awaitLive(t *testing.T, db *models.DB) {
	t.Helper()
	await(t, "change listener live", db.Changes().Live)
}

// await polls cond until it holds (10 s at most).
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestChangesCountCommittedWrites: a write is counted once it is
// committed, in its own group; a transaction's writes at commit, a rolled
// back transaction's not at all; raw statements by the table they name.
func TestChangesCountCommittedWrites(t *testing.T) {
	f := newFixture(t)
	db := f.s.DB()
	ch := db.Changes()
	p := f.session()

	before := ch.Stamp("payments")
	linksBefore := ch.Stamp("payment_links")
	err := db.Tx(f.ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&models.Payment{}).Where("id = ?", p.ID).Update("confirmations", 1).Error; err != nil {
			return err
		}
		if ch.Stamp("payments") != before {
			t.Error("a write inside a transaction was counted before its commit")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Stamp("payments") == before {
		t.Fatal("a committed transaction was not counted")
	}
	if ch.Stamp("payment_links") != linksBefore {
		t.Error("a write to payments counted as a write to payment_links")
	}

	before = ch.Stamp("payments")
	errRollback := errors.New("roll back")
	err = db.Tx(f.ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&models.Payment{}).Where("id = ?", p.ID).Update("confirmations", 2).Error; err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if ch.Stamp("payments") != before {
		t.Error("a rolled back transaction was counted")
	}
	if got := f.reload(p.ID).Confirmations; got != 1 {
		t.Errorf("confirmations %d after the rollback, want 1", got)
	}

	before = ch.Stamp("merchants")
	if err := db.W(f.ctx).Exec("UPDATE merchants SET name = name WHERE id = ?", f.m.ID).Error; err != nil {
		t.Fatal(err)
	}
	if ch.Stamp("merchants") == before {
		t.Error("Exec of an UPDATE was not counted")
	}
	before = ch.Stamp("payments")
	if _, _, err := f.s.HitRateLimit(f.ctx, "test", models.RateLimit{Max: 10, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if ch.Stamp("payments") != before {
		t.Error("a rate-limit hit invalidated cached payments")
	}
	before = ch.Stamp("payments")
	if err := db.W(f.ctx).Exec("CREATE TABLE cache_probe (id INTEGER)").Error; err != nil {
		t.Fatal(err)
	}
	if ch.Stamp("payments") == before {
		t.Error("Exec of a statement on an unknown table did not invalidate everything")
	}
}

// TestCachedPaymentNeverStale races readers against a writer: a reader
// that starts after a write committed must see it (or a later one), from
// the cache or not, whether the write was a single statement or a
// transaction.
func TestCachedPaymentNeverStale(t *testing.T) {
	f := newFixture(t)
	db := f.s.DB()
	awaitLive(t, db)
	p := f.session()
	const writes = 300
	var committed atomic.Int64
	_, stop := readConcurrently(4, func() bool {
		want := committed.Load()
		got, err := f.s.Payment(f.ctx, p.ID)
		if err != nil {
			t.Error(err)
			return false
		}
		if got.Confirmations < want {
			t.Errorf("read %d confirmations after %d was committed: a stale cache entry", got.Confirmations, want)
			return false
		}
		return true
	})
	for i := int64(1); i <= writes && !t.Failed(); i++ {
		var err error
		if i%2 == 0 {
			err = db.W(f.ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("confirmations", i).Error
		} else {
			err = db.Tx(f.ctx, func(tx *gorm.DB) error {
				return tx.Model(&models.Payment{}).Where("id = ?", p.ID).Update("confirmations", i).Error
			})
		}
		if err != nil {
			t.Fatal(err)
		}
		committed.Store(i)
	}
	stop()
}

// readConcurrently runs n readers, each calling read over and over until
// it returns false or stop is called (stop waits for them); reads counts
// the reads completed.
func readConcurrently(n int, read func() bool) (reads *atomic.Int64, stop func()) {
	reads = new(atomic.Int64)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				ok := read()
				reads.Add(1)
				if !ok {
					return
				}
			}
		}()
	}
	return reads, func() { close(done); wg.Wait() }
}

// TestCachedReadsAreCopies: changing what a cached read returned does not
// change what the next caller gets.
func TestCachedReadsAreCopies(t *testing.T) {
	f := newFixture(t)
	p := f.session()
	a := f.reload(p.ID)
	a.Status = models.StatusConfirmed
	*a.LinkID = "changed"
	a.ExpiresAt = time.Time{}
	b := f.reload(p.ID)
	if b.Status != models.StatusPending || *b.LinkID != f.link.ID || b.ExpiresAt.IsZero() {
		t.Errorf("a caller's change reached the cache: %+v", b)
	}
	v, err := f.s.Checkout(f.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	v.Payment.Status, v.Link.Title = models.StatusExpired, "changed"
	v, err = f.s.Checkout(f.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Payment.Status != models.StatusPending || v.Link.Title != f.link.Title {
		t.Errorf("a caller's change reached the checkout cache: %+v %+v", v.Payment, v.Link)
	}
}

// openSecond opens a second handle (another process, as far as caching
// goes) on the database of db's store, with its own Store.
func openSecond(t *testing.T, url string) (*models.DB, *models.Store) {
	t.Helper()
	db, err := models.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := models.NewSealer(models.DeriveKey(modeltest.TestSecret, "seal"))
	if err != nil {
		t.Fatal(err)
	}
	return db, models.NewStore(db, models.StoreOptions{Sealer: sealer, BcryptCost: 4})
}

// twoHandles is a store on a fresh database with a merchant and a session,
// and a second handle on the same database.
func twoHandles(t *testing.T) (a, b *models.Store, m *models.Merchant, p *models.Payment) {
	t.Helper()
	url := modeltest.URL(t)
	dbA, a := openSecond(t, url)
	if err := dbA.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	dbB, b := openSecond(t, url)
	ctx := context.Background()
	m, err := a.Register(ctx, models.RegisterInput{Email: "m@example.com", Password: "securepassword", Name: "Shop", KaspaAddress: merchantAddr})
	if err != nil {
		t.Fatal(err)
	}
	title, amount := "Item", "10"
	l, err := a.CreateLink(ctx, m.ID, models.LinkInput{Title: &title, Amount: &amount})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = a.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: l.Slug}); err != nil {
		t.Fatal(err)
	}
	awaitLive(t, dbA)
	awaitLive(t, dbB)
	return a, b, m, p
}

// TestCacheTTLBoundsUnseenWriters: a write Till's handle cannot see (made
// beside GORM, as another program would) is served from the cache only
// until the entry's TTL runs out.
func TestCacheTTLBoundsUnseenWriters(t *testing.T) {
	a, b, _, p := twoHandles(t)
	ctx := context.Background()
	a.DB().Changes().SetTTL(time.Hour)
	if got, err := a.Payment(ctx, p.ID); err != nil || got.Confirmations != 0 {
		t.Fatal(got, err)
	}
	rawExec(t, b.DB(), "UPDATE payments SET confirmations = 7 WHERE id = ?", p.ID)
	if got, _ := a.Payment(ctx, p.ID); got.Confirmations != 0 {
		t.Fatalf("confirmations %d: the read was not cached (the test proves nothing)", got.Confirmations)
	}
	a.DB().Changes().SetTTL(100 * time.Millisecond)
	await(t, "the unseen write after the TTL", func() bool {
		got, err := a.Payment(ctx, p.ID)
		return err == nil && got.Confirmations == 7
	})
}

// TestCrossProcessInvalidation (Postgres): a write through one handle is
// seen through the other's cache by NOTIFY, with a TTL too long to help;
// a rotated API key stops working in both; losing the listener connection
// invalidates everything and it comes back.
func TestCrossProcessInvalidation(t *testing.T) {
	if modeltest.Engine() != models.Postgres {
		t.Skip("LISTEN/NOTIFY is Postgres only; SQLite relies on the TTL (TestCacheTTLBoundsUnseenWriters)")
	}
	a, b, m, p := twoHandles(t)
	ctx := context.Background()
	b.DB().Changes().SetTTL(time.Hour)
	if got, err := b.Payment(ctx, p.ID); err != nil || got.Confirmations != 0 {
		t.Fatal(got, err)
	}
	if err := a.DB().W(ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("confirmations", 3).Error; err != nil {
		t.Fatal(err)
	}
	await(t, "the other handle's write through NOTIFY", func() bool {
		got, err := b.Payment(ctx, p.ID)
		return err == nil && got.Confirmations == 3
	})

	oldKey, err := a.APIKey(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.MerchantByAPIKey(ctx, oldKey); err != nil {
		t.Fatal(err)
	}
	newKey, err := a.RotateAPIKey(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	await(t, "the old key refused by the other handle", func() bool {
		_, err := b.MerchantByAPIKey(ctx, oldKey)
		return errors.Is(err, models.ErrInvalidCredentials)
	})
	if _, err := b.MerchantByAPIKey(ctx, newKey); err != nil {
		t.Errorf("new key through the other handle: %v", err)
	}

	before := b.DB().Changes().Stamp("payments")
	admin, err := b.DB().W(ctx).DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE application_name = 'till-changes' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	await(t, "everything invalidated and the listener back", func() bool {
		return b.DB().Changes().Stamp("payments") > before && b.DB().Changes().Live()
	})
	if err := a.DB().W(ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("confirmations", 4).Error; err != nil {
		t.Fatal(err)
	}
	await(t, "a write seen after the listener came back", func() bool {
		got, err := b.Payment(ctx, p.ID)
		return err == nil && got.Confirmations == 4
	})
}

// TestAPIKeyRotationInProcess: a rotated key stops working at once, the
// new one works at once, though the old one's merchant was cached.
func TestAPIKeyRotationInProcess(t *testing.T) {
	f := newFixture(t)
	awaitLive(t, f.s.DB())
	old, err := f.s.APIKey(f.m)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second from the cache
		if _, err := f.s.MerchantByAPIKey(f.ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	key, err := f.s.RotateAPIKey(f.ctx, f.m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.MerchantByAPIKey(f.ctx, old); !errors.Is(err, models.ErrInvalidCredentials) {
		t.Errorf("rotated key: %v, want ErrInvalidCredentials", err)
	}
	if m, err := f.s.MerchantByAPIKey(f.ctx, key); err != nil || m.ID != f.m.ID {
		t.Errorf("new key: %v %v", m, err)
	}
}
