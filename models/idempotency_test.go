package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
)

// TestIdempotencyStore walks one key through its life: claimed, in flight,
// finished and replayed, refused for another request, taken over when its
// request was abandoned or it expired, and pruned after IdempotencyTTL.
func TestIdempotencyStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	store := modeltest.Store(t, func(o *models.StoreOptions) { o.Now = func() time.Time { return now } })
	fp := models.RequestFingerprint("POST", "/api/links", []byte(`{"a":1}`))
	other := models.RequestFingerprint("POST", "/api/links", []byte(`{"a":2}`))

	if r, err := store.BeginIdempotent(ctx, "m:1", "k", fp); r != nil || err != nil {
		t.Fatalf("first claim: %v %v", r, err)
	}
	if _, err := store.BeginIdempotent(ctx, "m:1", "k", fp); !errors.Is(err, models.ErrIdempotencyInFlight) {
		t.Fatalf("in flight: %v", err)
	}
	if r, err := store.BeginIdempotent(ctx, "m:2", "k", fp); r != nil || err != nil {
		t.Fatalf("another scope: %v %v", r, err)
	}
	want := models.StoredResponse{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"x"}`)}
	if err := store.FinishIdempotent(ctx, "m:1", "k", want); err != nil {
		t.Fatal(err)
	}
	r, err := store.BeginIdempotent(ctx, "m:1", "k", fp)
	if err != nil || r == nil || r.Status != 201 || string(r.Body) != `{"id":"x"}` || r.ContentType != "application/json" {
		t.Fatalf("replay: %+v %v", r, err)
	}
	if _, err := store.BeginIdempotent(ctx, "m:1", "k", other); !errors.Is(err, models.ErrIdempotencyMismatch) {
		t.Fatalf("other request: %v", err)
	}
	// An abandoned request (a 5xx) frees its key at once.
	if err := store.AbandonIdempotent(ctx, "m:2", "k"); err != nil {
		t.Fatal(err)
	}
	if r, err := store.BeginIdempotent(ctx, "m:2", "k", other); r != nil || err != nil {
		t.Fatalf("after abandon: %v %v", r, err)
	}
	// A request that never finished (its process died) is taken over once
	// IdempotencyAbandonAfter has passed.
	now = now.Add(models.IdempotencyAbandonAfter)
	if r, err := store.BeginIdempotent(ctx, "m:2", "k", other); r != nil || err != nil {
		t.Fatalf("take over: %v %v", r, err)
	}
	// After the TTL a key is forgotten: reused for anything, then pruned.
	now = now.Add(models.IdempotencyTTL)
	if r, err := store.BeginIdempotent(ctx, "m:1", "k", other); r != nil || err != nil {
		t.Fatalf("expired key: %v %v", r, err)
	}
	now = now.Add(models.IdempotencyTTL + time.Second)
	for i := range 5 {
		if _, err := store.BeginIdempotent(ctx, "m:3", string(rune('a'+i)), fp); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(models.IdempotencyTTL + time.Second)
	var total int64
	for {
		n, err := store.PruneIdempotencyKeys(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if n > 2 {
			t.Fatalf("a batch of 2 pruned %d", n)
		}
		total += n
	}
	if total != 7 { // m:1/k, m:2/k and the five m:3 keys
		t.Fatalf("pruned %d keys, want 7", total)
	}
}
