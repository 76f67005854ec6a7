package models

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// The EVM half of the chain seam, only as far as the neutral credit path
// needs it today: how a USDC transfer becomes a Credit, and how deep an EVM
// chain's observation says credits are. The EVM watcher domain
// (ApplyEVMObservation: orphaning, the scan cursor, confirmations) builds on
// these and on credits.go.

// EVMTransfer is one USDC Transfer log paying a watched receiver.
type EVMTransfer struct {
	Chain       string
	TxHash      string
	LogIndex    int64
	BlockNumber int64
	BlockHash   string
	BlockTime   time.Time
	Token       string
	From        string
	To          string
	Amount      int64 // micro-USDC
}

// evmBacking is an EVM chain's observation: a live (non-orphaned) transfer
// at block n is head − n + 1 deep. Orphaned transfers are never active
// credits, so every active credit is backed.
type evmBacking struct{ head int64 }

func (b evmBacking) depth(credits []Transfer) (int64, bool) {
	if len(credits) == 0 {
		return 0, false
	}
	depth := int64(-1)
	for _, t := range credits {
		if t.BlockNumber == nil || t.OrphanedAt != nil {
			return 0, false
		}
		d := evmDepth(b.head, *t.BlockNumber)
		if depth < 0 || d < depth {
			depth = d
		}
	}
	return depth, true
}

// evmDepth counts the transfer's own block: mined in the head block is 1.
func evmDepth(head, block int64) int64 {
	if head < block {
		return 0
	}
	return head - block + 1
}

// evmCredit is a transfer log in neutral terms. EVM's start rule: a session
// can be paid only by a block after its start block (the head observed when
// it opened), start_block < block number.
func evmCredit(x EVMTransfer, head int64) Credit {
	block := x.BlockNumber
	return Credit{Chain: x.Chain, TxID: x.TxHash, Address: x.To, Amount: x.Amount,
		Depth: evmDepth(head, block), BlockTime: x.BlockTime,
		Started: func(q *gorm.DB) *gorm.DB { return q.Where("start_block < ?", block) }}
}

// evmStoredCredit is a recorded EVM transfer as a credit measured from the
// chain's last observed head (manual assignment).
func evmStoredCredit(t *Transfer, st *ChainState) (Credit, backing) {
	x := EVMTransfer{Chain: t.Chain, TxHash: t.TxID, LogIndex: t.OutputIndex, BlockHash: t.BlockHash,
		Token: t.TokenAddress, From: t.SenderAddress, To: t.Address, Amount: t.Amount}
	if t.BlockNumber != nil {
		x.BlockNumber = *t.BlockNumber
	}
	if t.BlockTime != nil {
		x.BlockTime = *t.BlockTime
	}
	return evmCredit(x, st.Head), evmBacking{head: st.Head}
}

// EVMRecordResult says what recording one transfer log did.
type EVMRecordResult struct{ Created, Matched, Confirmed bool }

// RecordEVMTransfer records one USDC transfer log under (chain, tx hash, log
// index) among live rows and credits it through the neutral path: exact
// unique amount on that chain and receiver, session started before the
// log's block, depth head − block + 1. Recording the same log twice changes
// nothing. It is the building block of the EVM watcher's domain call.
func (s *Store) RecordEVMTransfer(ctx context.Context, x EVMTransfer, head int64) (EVMRecordResult, error) {
	var r EVMRecordResult
	var err error
	r.Created, r.Matched, r.Confirmed, err = s.recordEVMTransfer(ctx, x, head, s.clock())
	if errors.Is(err, errConcurrentChange) {
		return EVMRecordResult{}, nil // rolled back; the next cycle sees it as new
	}
	return r, err
}

func (s *Store) recordEVMTransfer(ctx context.Context, x EVMTransfer, head int64, now time.Time) (created, matched, confirmed bool, err error) {
	n, bt := x.BlockNumber, x.BlockTime
	t := &Transfer{ID: uuid.NewString(), Chain: x.Chain, TxID: x.TxHash, OutputIndex: x.LogIndex, Address: x.To,
		Amount: x.Amount, BlockNumber: &n, BlockHash: x.BlockHash, BlockTime: &bt, TokenAddress: x.Token,
		SenderAddress: x.From, DetailsFetched: true, SeenAt: now, CreatedAt: now}
	return s.recordCredit(ctx, t, evmCredit(x, head), evmBacking{head: head}, now)
}
