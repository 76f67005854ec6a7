package models_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"till/models"
)

// TestNewPaymentID: a payment id is a UUID of version 7 (RFC 9562 variant)
// whose first 48 bits are the current Unix time in milliseconds, its
// ShortID is a valid KiraPay _id, and ids from one process increase, as
// strings too (the primary key and payments_short_id_key then append).
func TestNewPaymentID(t *testing.T) {
	before := time.Now().UnixMilli()
	first := models.NewPaymentID()
	after := time.Now().UnixMilli()
	u, err := uuid.Parse(first)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != first {
		t.Fatalf("%s: version %d variant %v (%v), want a canonical version 7 UUID", first, u.Version(), u.Variant(), err)
	}
	ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
	if ms < before || ms > after {
		t.Errorf("%s: timestamp %d ms, want within [%d, %d]", first, ms, before, after)
	}
	prev, prevShort := first, models.ShortID(first)
	for range 20_000 {
		id := models.NewPaymentID()
		short := models.ShortID(id)
		if !models.ValidShortID(short) {
			t.Fatalf("ShortID(%s) = %q, not a valid _id", id, short)
		}
		if id <= prev || short <= prevShort {
			t.Fatalf("%s after %s (short %s after %s): ids of one process must increase", id, prev, short, prevShort)
		}
		prev, prevShort = id, short
	}
}

// TestPaymentIDClashRetried: a new session whose id clashes with an
// existing payment's (the same id, or only the same ShortID — the unique
// index payments_short_id_key) is retried with a new id and opens; it is
// never refused. Both insert paths: unique amounts on the merchant's
// address, and kpub-derived addresses. 16 creators at once as well, so on
// Postgres the clash also meets the batched insert (ON CONFLICT DO NOTHING).
func TestPaymentIDClashRetried(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kpub    bool
		clash   func(id string) string
		creator int
	}{
		{"same id", false, func(id string) string { return id }, 1},
		{"same short id", false, sameShortID, 1},
		{"same short id, 16 at once", false, sameShortID, 16},
		{"kpub, same id", true, func(id string) string { return id }, 1},
		{"kpub, same short id", true, sameShortID, 1},
		{"kpub, same short id, 16 at once", true, sameShortID, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.kpub {
				withKpub(t, f)
			}
			old := f.session()
			clash := tc.clash(old.ID)
			if clash != old.ID && models.ShortID(clash) != models.ShortID(old.ID) {
				t.Fatalf("bad test: %s does not clash with %s", clash, old.ID)
			}
			// The first id each creator is given clashes.
			var mu sync.Mutex
			clashes, fresh := tc.creator, 0
			models.SetPaymentIDs(f.s, func() string {
				mu.Lock()
				defer mu.Unlock()
				if clashes > 0 {
					clashes--
					return clash
				}
				fresh++
				return models.NewPaymentID()
			})
			got := make([]*models.Payment, tc.creator)
			errs := make([]error, tc.creator)
			var wg sync.WaitGroup
			for i := range tc.creator {
				wg.Go(func() {
					got[i], errs[i] = f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
				})
			}
			wg.Wait()
			seen := map[string]bool{models.ShortID(old.ID): true}
			for i, p := range got {
				if errs[i] != nil {
					t.Fatalf("creator %d: %v, want a session opened with a new id", i, errs[i])
				}
				if seen[models.ShortID(p.ID)] || p.PayAddress == "" {
					t.Fatalf("creator %d: id %s (short id taken) or no address %q", i, p.ID, p.PayAddress)
				}
				seen[models.ShortID(p.ID)] = true
				back, err := f.s.Payment(f.ctx, p.ID)
				if err != nil || back.AmountExpected != p.AmountExpected || back.PayAddress != p.PayAddress {
					t.Fatalf("creator %d: %s reads back as %+v (%v)", i, p.ID, back, err)
				}
			}
			if fresh < tc.creator {
				t.Errorf("%d fresh ids for %d creators: the clash was not retried with a new id", fresh, tc.creator)
			}
			if back, err := f.s.Payment(f.ctx, old.ID); err != nil || back.AmountExpected != old.AmountExpected {
				t.Fatalf("the old session changed: %+v (%v)", back, err)
			}
		})
	}
}

// sameShortID is an id other than id with the same ShortID (its first 24
// hex digits): the last 8 hex digits changed.
func sameShortID(id string) string {
	tail := "00000000"
	if strings.HasSuffix(id, tail) {
		tail = "11111111"
	}
	return id[:len(id)-8] + tail
}
