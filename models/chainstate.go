package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ChainState is the last chain position a watcher observed. New payment
// sessions record it, so a credit from an older block never pays them.
type ChainState struct {
	Chain      string `gorm:"primaryKey"`
	Network    string
	DaaScore   uint64
	BlueScore  uint64
	ObservedAt time.Time
	// EVM chains: the chain ID, the last observed head, and the scan
	// cursor (the last fully scanned block: number, hash and timestamp).
	// CursorTime is the clock expiry runs on for EVM sessions.
	ChainID    int64
	Head       int64
	Cursor     int64
	CursorHash string
	CursorTime *time.Time
}

// TableName pins the table name.
func (ChainState) TableName() string { return "chain_states" }

// ChainState returns the last observed state of chain.
func (s *Store) ChainState(ctx context.Context, chain string) (*ChainState, error) {
	var st ChainState
	err := s.db.R(ctx).Where("chain = ?", chain).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{What: "Chain state"}
	}
	if err != nil {
		return nil, fmt.Errorf("models: chain state: %w", err)
	}
	return &st, nil
}

// saveChainState upserts the observed position.
func saveChainState(tx *gorm.DB, st *ChainState) error {
	return tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "chain"}},
		DoUpdates: clause.AssignmentColumns([]string{"network", "daa_score", "blue_score", "observed_at"}),
	}).Create(st).Error
}
