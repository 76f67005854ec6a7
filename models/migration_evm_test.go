package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm/clause"

	"till/models"
	"till/models/modeltest"
)

// TestMigrationEVMOutpointKey checks 0008's partial outpoint key on the
// engine under test: a live duplicate of (chain, tx, log index) is refused,
// target-less ON CONFLICT DO NOTHING still skips it, and the same outpoint
// may be recorded again once the first row is orphaned.
func TestMigrationEVMOutpointKey(t *testing.T) {
	ctx := context.Background()
	db := modeltest.Open(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	transfer := func() *models.Transfer {
		n := int64(100)
		return &models.Transfer{ID: uuid.NewString(), Chain: "base", TxID: "0xabc", OutputIndex: 3,
			Address: "0x1111111111111111111111111111111111111111", Amount: 1_000_000, BlockNumber: &n,
			BlockHash: "0xb1", TokenAddress: "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913", SeenAt: now, CreatedAt: now}
	}
	first := transfer()
	if err := db.W(ctx).Create(first).Error; err != nil {
		t.Fatalf("insert first: %v", err)
	}
	if err := db.W(ctx).Create(transfer()).Error; err == nil {
		t.Fatal("a live duplicate outpoint was accepted")
	}
	res := db.W(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(transfer())
	if res.Error != nil || res.RowsAffected != 0 {
		t.Fatalf("ON CONFLICT DO NOTHING on a live duplicate: rows %d, err %v", res.RowsAffected, res.Error)
	}
	if err := db.W(ctx).Model(&models.Transfer{}).Where("id = ?", first.ID).Update("orphaned_at", now).Error; err != nil {
		t.Fatal(err)
	}
	again := transfer()
	again.BlockHash = "0xb2"
	res = db.W(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(again)
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("re-inclusion after orphaning: rows %d, err %v", res.RowsAffected, res.Error)
	}
	res = db.W(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(transfer())
	if res.Error != nil || res.RowsAffected != 0 {
		t.Fatalf("duplicate of the re-included row: rows %d, err %v", res.RowsAffected, res.Error)
	}
	var n int64
	if err := db.R(ctx).Model(&models.Transfer{}).Where("chain = ? AND tx_id = ?", "base", "0xabc").Count(&n).Error; err != nil || n != 2 {
		t.Fatalf("rows for the outpoint = %d (%v), want 2 (one orphaned, one live)", n, err)
	}
	var got models.Transfer
	if err := db.R(ctx).Where("id = ?", again.ID).Take(&got).Error; err != nil {
		t.Fatal(err)
	}
	if got.BlockNumber == nil || *got.BlockNumber != 100 || got.BlockHash != "0xb2" || got.TokenAddress == "" || got.OrphanedAt != nil {
		t.Fatalf("EVM transfer fields did not round-trip: %+v", got)
	}
}

// TestMigrationEVMColumns round-trips the new chain_states, payments and
// merchants columns through their GORM fields.
func TestMigrationEVMColumns(t *testing.T) {
	ctx := context.Background()
	db := modeltest.Open(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := models.ChainState{Chain: "base", ChainID: 8453, Head: 120, Cursor: 118, CursorHash: "0xc0", CursorTime: &at, ObservedAt: at}
	if err := db.W(ctx).Create(&st).Error; err != nil {
		t.Fatal(err)
	}
	var got models.ChainState
	if err := db.R(ctx).Where("chain = ?", "base").Take(&got).Error; err != nil {
		t.Fatal(err)
	}
	if got.ChainID != 8453 || got.Head != 120 || got.Cursor != 118 || got.CursorHash != "0xc0" || got.CursorTime == nil || !got.CursorTime.Equal(at) {
		t.Fatalf("chain state = %+v", got)
	}
	for _, q := range []string{
		"SELECT evm_address FROM merchants",
		"SELECT start_block, token_address, submitted_tx_hash, tx_known_at, failure FROM payments",
	} {
		if err := db.R(ctx).Exec(q).Error; err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}
