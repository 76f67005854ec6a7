package models_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"till/models"
	"till/models/modeltest"
)

// rawExec runs q (one argument at most) on db's write pool beside GORM, as another program would:
// the change tracker does not see it.
func rawExec(t *testing.T, db *models.DB, q string, args ...any) {
	t.Helper()
	raw, err := db.W(context.Background()).DB()
	if err != nil {
		t.Fatal(err)
	}
	if db.Dialect == models.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	if _, err := raw.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}

// TestSessionSourceSeesWritesAtOnce: session creation's cached read of the
// link, merchant and chain position is used (a write beside the tracker
// goes unseen), and every tracked change a session depends on is seen by
// the next session at once: a link paused, edited, expired; a merchant's
// payout address and kpub; the chain's position.
func TestSessionSourceSeesWritesAtOnce(t *testing.T) {
	f := newFixture(t)
	awaitLive(t, f.s.DB())
	f.s.DB().Changes().SetTTL(time.Hour)
	first := f.session()
	if first.StartDaaScore != int64(f.daa) {
		t.Fatalf("start %d, want the observed %d", first.StartDaaScore, f.daa)
	}
	rawExec(t, f.s.DB(), "UPDATE payment_links SET title = 'unseen' WHERE id = ?", f.link.ID)
	src, err := models.SessionSourceOf(f.ctx, f.s, f.link.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if src.Link.Title == "unseen" {
		t.Fatal("the session source was not cached (the test proves nothing)")
	}

	inactive, active := string(models.LinkInactive), string(models.LinkActive)
	if _, err := f.s.UpdateLink(f.ctx, f.m.ID, f.link.ID, models.LinkInput{Status: &inactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug}); !errors.Is(err, models.ErrLinkClosed) {
		t.Fatalf("session on a paused link: %v, want ErrLinkClosed", err)
	}
	amount := "12"
	if _, err := f.s.UpdateLink(f.ctx, f.m.ID, f.link.ID, models.LinkInput{Status: &active, Amount: &amount}); err != nil {
		t.Fatal(err)
	}
	if p := f.session(); p.PriceAmount != 12*models.SompiPerKAS {
		t.Fatalf("price %d after the edit, want %d", p.PriceAmount, 12*models.SompiPerKAS)
	}

	one := 1
	in := &one
	if _, err := f.s.UpdateLink(f.ctx, f.m.ID, f.link.ID, models.LinkInput{LinkExpiresIn: &in}); err != nil {
		t.Fatal(err)
	}
	f.session()
	f.clock.Add(2 * time.Minute)
	if _, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug}); !errors.Is(err, models.ErrLinkExpired) {
		t.Fatalf("session on an expired link: %v, want ErrLinkExpired", err)
	}
	var never *int
	if _, err := f.s.UpdateLink(f.ctx, f.m.ID, f.link.ID, models.LinkInput{LinkExpiresIn: &never}); err != nil {
		t.Fatal(err)
	}
	f.session() // cached again before the merchant changes

	addr := dashAddrB
	if _, err := f.s.UpdateSettings(f.ctx, f.m.ID, models.SettingsInput{KaspaAddress: &addr}); err != nil {
		t.Fatal(err)
	}
	if p := f.session(); p.PayAddress != dashAddrB {
		t.Fatalf("pay address %s after the payout address changed, want %s", p.PayAddress, dashAddrB)
	}
	withKpub(t, f)
	if p := f.session(); p.DerivationIndex == nil || p.PayAddress != receive0 {
		t.Fatalf("session %s (index %v) after the kpub was set, want %s", p.PayAddress, p.DerivationIndex, receive0)
	}

	f.advance(5_000)
	f.observe()
	if p := f.session(); p.StartDaaScore != int64(f.daa) {
		t.Fatalf("start %d after the watcher observed %d", p.StartDaaScore, f.daa)
	}
}

// TestChainStateHasItsOwnGroup: a watcher's chain_states write invalidates
// the cached chain positions only, not the link and merchant reads.
func TestChainStateHasItsOwnGroup(t *testing.T) {
	f := newFixture(t)
	ch := f.s.DB().Changes()
	links, merchants, payments, chain := ch.Stamp("payment_links"), ch.Stamp("merchants"), ch.Stamp("payments"), ch.Stamp("chain_states")
	f.advance(10)
	f.observe()
	if ch.Stamp("chain_states") == chain {
		t.Fatal("a watcher cycle did not count as a chain_states write")
	}
	if ch.Stamp("payment_links") != links || ch.Stamp("merchants") != merchants || ch.Stamp("payments") != payments {
		t.Error("a watcher cycle with nothing to record invalidated the link, merchant or payment caches")
	}
}

// TestKpubCounterKeepsLinkCache: a kpub session moves the merchant's
// address counter on, which the cached whole merchant (API key lookups)
// shows at once but session creation's link cache does not depend on: it
// stays cached across kpub sessions.
func TestKpubCounterKeepsLinkCache(t *testing.T) {
	f := newFixture(t)
	awaitLive(t, f.s.DB())
	f.s.DB().Changes().SetTTL(time.Hour)
	withKpub(t, f)
	key, err := f.s.APIKey(f.m)
	if err != nil {
		t.Fatal(err)
	}
	f.session()
	rawExec(t, f.s.DB(), "UPDATE payment_links SET title = 'unseen' WHERE id = ?", f.link.ID)
	for want := int64(2); want <= 3; want++ {
		if p := f.session(); *p.DerivationIndex != want-1 {
			t.Fatalf("index %d, want %d", *p.DerivationIndex, want-1)
		}
		m, err := f.s.MerchantByAPIKey(f.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if m.KaspaNextIndex != want {
			t.Errorf("next index %d through the API key cache, want %d", m.KaspaNextIndex, want)
		}
	}
	src, err := models.SessionSourceOf(f.ctx, f.s, f.link.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if src.Link.Title == "unseen" {
		t.Error("kpub sessions invalidated the cached session source")
	}
}

// TestSessionSourceCopies: changing what a session source returned does not
// change the cached one.
func TestSessionSourceCopies(t *testing.T) {
	f := newFixture(t)
	awaitLive(t, f.s.DB())
	exp := 30
	l := f.newLink("5", &exp)
	a, err := models.SessionSourceOf(f.ctx, f.s, l.Slug)
	if err != nil {
		t.Fatal(err)
	}
	*a.Link.ExpiryMinutes, a.Link.Title, a.Merchant.KaspaAddress, a.DaaScore = 1, "changed", "changed", -1
	b, err := models.SessionSourceOf(f.ctx, f.s, l.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if *b.Link.ExpiryMinutes != 30 || b.Link.Title != l.Title || b.Merchant.KaspaAddress != merchantAddr || b.DaaScore != int64(f.daa) {
		t.Errorf("a caller's change reached the cache: %+v", b)
	}
}

// TestSessionSourceNeverStale races readers of the session source against
// a writer of the link, the merchant and the chain state: a reader that
// starts after a write committed sees it (or a later one), from the cache
// or not, whether the write was a single statement or a transaction. Every
// write is followed by a read that began after it.
func TestSessionSourceNeverStale(t *testing.T) {
	f := newFixture(t)
	db := f.s.DB()
	awaitLive(t, db)
	const writes, readers = 150, 4
	var link, merchant, chain atomic.Int64
	reads, stop := readConcurrently(readers, func() bool {
		wl, wm, wc := link.Load(), merchant.Load(), chain.Load()
		got, err := models.SessionSourceOf(f.ctx, f.s, f.link.Slug)
		if err != nil {
			t.Error(err)
			return false
		}
		title, _ := strconv.ParseInt(got.Link.Title, 10, 64)
		if title < wl || int64(got.Merchant.RequiredConfirmations) < wm || got.DaaScore < wc {
			t.Errorf("read link %d, merchant %d, chain %d after %d, %d, %d were committed: a stale cache entry",
				title, got.Merchant.RequiredConfirmations, got.DaaScore, wl, wm, wc)
			return false
		}
		return true
	})
	for i := int64(1); i <= writes && !t.Failed(); i++ {
		var model any
		var column string
		var committed *atomic.Int64
		switch i % 3 {
		case 0:
			model, column, committed = &models.PaymentLink{}, "title", &link
		case 1:
			model, column, committed = &models.Merchant{}, "required_confirmations", &merchant
		default:
			model, column, committed = &models.ChainState{}, "daa_score", &chain
		}
		value := any(i)
		if column == "title" {
			value = strconv.FormatInt(i, 10)
		}
		write := func(tx *gorm.DB) error {
			res := tx.Model(model).Where("1 = 1").Update(column, value)
			if res.Error == nil && res.RowsAffected == 0 {
				return errors.New("no row written")
			}
			return res.Error
		}
		var err error
		if i%2 == 0 {
			err = write(db.W(f.ctx))
		} else {
			err = db.Tx(f.ctx, write)
		}
		if err != nil {
			t.Fatal(err)
		}
		committed.Store(i)
		// At least one read that began after this commit, before the next
		// write (readers read one at a time: readers+1 completions).
		r0, deadline := reads.Load(), time.Now().Add(10*time.Second)
		for reads.Load() <= r0+readers && !t.Failed() {
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for a read after the commit")
			}
			runtime.Gosched()
		}
	}
	stop()
}

// TestSessionSourceCrossProcess (Postgres): a link paused, a payout address
// changed and a chain position observed through one handle are seen by the
// other's cached session source through NOTIFY, with a TTL too long to help.
func TestSessionSourceCrossProcess(t *testing.T) {
	if modeltest.Engine() != models.Postgres {
		t.Skip("LISTEN/NOTIFY is Postgres only; SQLite serves a single process")
	}
	a, b, m, p := twoHandles(t)
	ctx := context.Background()
	b.DB().Changes().SetTTL(time.Hour)
	l, err := a.Link(ctx, m.ID, *p.LinkID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: l.Slug}); err != nil {
		t.Fatal(err)
	}
	source := func() *models.SessionSourceView {
		t.Helper()
		src, err := models.SessionSourceOf(ctx, b, l.Slug)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}

	inactive, active := string(models.LinkInactive), string(models.LinkActive)
	if _, err := a.UpdateLink(ctx, m.ID, l.ID, models.LinkInput{Status: &inactive}); err != nil {
		t.Fatal(err)
	}
	await(t, "the paused link through NOTIFY", func() bool { return source().Link.Status == models.LinkInactive })
	if _, err := b.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: l.Slug}); !errors.Is(err, models.ErrLinkClosed) {
		t.Fatalf("session on the link paused by the other handle: %v, want ErrLinkClosed", err)
	}
	if _, err := a.UpdateLink(ctx, m.ID, l.ID, models.LinkInput{Status: &active}); err != nil {
		t.Fatal(err)
	}

	addr := dashAddrB
	if _, err := a.UpdateSettings(ctx, m.ID, models.SettingsInput{KaspaAddress: &addr}); err != nil {
		t.Fatal(err)
	}
	await(t, "the new payout address through NOTIFY", func() bool {
		src := source()
		return src.Merchant.KaspaAddress == dashAddrB && src.Link.Status == models.LinkActive
	})
	if p, err := b.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: l.Slug}); err != nil || p.PayAddress != dashAddrB {
		t.Fatalf("session through the other handle: %v %v, want pay address %s", p, err, dashAddrB)
	}

	before := source().DaaScore
	st := models.ChainState{Chain: models.ChainKaspa, Network: "kaspa-mainnet", DaaScore: uint64(before) + 777, ObservedAt: time.Now()}
	if err := a.DB().W(ctx).Save(&st).Error; err != nil {
		t.Fatal(err)
	}
	await(t, "the chain position through NOTIFY", func() bool { return source().DaaScore == before+777 })
	if p, err := b.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: l.Slug}); err != nil || p.StartDaaScore != before+777 {
		t.Fatalf("session through the other handle: %v %v, want start %d", p, err, before+777)
	}
}
