package models_test

import (
	"context"
	"errors"
	"testing"

	"till/models"
	"till/models/modeltest"
)

func TestTenantScoping(t *testing.T) {
	ctx := context.Background()
	db := modeltest.Open(t)
	if err := db.W(ctx).Exec(`CREATE TABLE tenant_probes (id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, note TEXT NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	for _, row := range []models.TenantProbe{{ID: "a1", MerchantID: "alice", Note: "alice's"}, {ID: "a2", MerchantID: "alice", Note: "alice's too"}, {ID: "b1", MerchantID: "bob", Note: "bob's"}} {
		if err := db.W(ctx).Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}

	t.Run("owner reads its row", func(t *testing.T) {
		got, err := models.FindOwnedProbe(ctx, db, "alice", "a1")
		if err != nil || got.Note != "alice's" {
			t.Fatalf("got %v %v", got, err)
		}
	})
	t.Run("other merchant gets not found", func(t *testing.T) {
		_, err := models.FindOwnedProbe(ctx, db, "bob", "a1")
		var nf *models.NotFoundError
		if !errors.As(err, &nf) || nf.What != "Probe" {
			t.Fatalf("err = %v, want Probe not found", err)
		}
	})
	t.Run("list returns only own rows", func(t *testing.T) {
		rows, err := models.ListOwnedProbes(ctx, db, "alice")
		if err != nil || len(rows) != 2 {
			t.Fatalf("rows %v err %v", rows, err)
		}
		for _, r := range rows {
			if r.MerchantID != "alice" {
				t.Fatalf("foreign row %v", r)
			}
		}
	})
	t.Run("update of a foreign row changes nothing", func(t *testing.T) {
		n, err := models.UpdateOwnedProbe(ctx, db, "bob", "a1", "stolen")
		if err != nil || n != 0 {
			t.Fatalf("n=%d err=%v", n, err)
		}
		got, _ := models.FindOwnedProbe(ctx, db, "alice", "a1")
		if got.Note != "alice's" {
			t.Fatalf("foreign update went through: %q", got.Note)
		}
		if n, _ := models.UpdateOwnedProbe(ctx, db, "alice", "a1", "edited"); n != 1 {
			t.Fatalf("owner update affected %d rows", n)
		}
	})
}
