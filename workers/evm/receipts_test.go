package evm_test

import (
	"context"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"till/models"
	"till/models/modeltest"
	"till/workers/evm"
	"till/workers/evm/evmsim"
)

// receiptSessions opens n USDC sessions on the simulated chain ("local")
// for one merchant, through the domain (the link is turned into a USDC link
// on local directly: the USDC link API is built elsewhere).
func receiptSessions(t *testing.T, sim *evmsim.Sim, n int) (*models.Store, []*models.Payment) {
	t.Helper()
	ctx := context.Background()
	s := modeltest.Store(t, func(o *models.StoreOptions) {
		o.EVMChains = map[string]models.EVMChain{"local": {ChainID: int64(sim.ChainID()), USDC: strings.ToLower(sim.USDC().Hex()), Confirmations: 2}}
	})
	m, err := s.Register(ctx, models.RegisterInput{Email: "r@example.com", Password: "securepassword", Name: "Shop",
		KaspaAddress: "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"})
	if err != nil {
		t.Fatal(err)
	}
	title, amount := "Item", "10"
	l, err := s.CreateLink(ctx, m.ID, models.LinkInput{Title: &title, Amount: &amount})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB().W(ctx).Model(&models.PaymentLink{}).Where("id = ?", l.ID).Updates(map[string]any{
		"chain": "local", "currency": "USDC", "amount": 5_000_000, "receiver": strings.ToLower(recvA.Hex())}).Error; err != nil {
		t.Fatal(err)
	}
	var ps []*models.Payment
	for range n {
		p, err := s.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: l.Slug})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return s, ps
}

func TestReceiptCheckerMarksRevertedWalletTransactions(t *testing.T) {
	ctx := context.Background()
	sim, _, client := chain(t, evm.ClientOptions{})
	s, ps := receiptSessions(t, sim, 3)

	// A transfer beyond the payer's balance, sent with a fixed gas limit,
	// is mined and reverts (receipt status 0).
	bal, err := sim.BalanceOf(sim.Payer())
	if err != nil {
		t.Fatal(err)
	}
	reverted, err := sim.Send(recvA, new(big.Int).Add(bal, big.NewInt(1)))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := sim.Send(recvA, big.NewInt(ps[1].AmountExpected))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Mine(1); err != nil {
		t.Fatal(err)
	}
	if r, err := client.TransactionReceipt(ctx, reverted); err != nil || r.Status != 0 {
		t.Fatalf("reverted receipt %+v, %v", r, err)
	}
	unknown := common.HexToHash("0x" + strings.Repeat("ab", 32)) // never sent: no receipt
	for i, h := range []common.Hash{reverted, ok, unknown} {
		if _, err := s.SubmitWalletTx(ctx, ps[i].ID, h.Hex()); err != nil {
			t.Fatal(err)
		}
	}

	// One receipt per cycle: the walk takes three cycles and then starts over.
	rc := &evm.ReceiptChecker{Store: s, Client: client, Chain: "local", Batch: 1}
	total := 0
	for range 4 {
		c, err := rc.Cycle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Checked > 1 {
			t.Fatalf("cycle checked %d receipts, batch is 1", c.Checked)
		}
		total += c.Reverted
	}
	if total != 1 {
		t.Fatalf("%d sessions marked reverted, want 1", total)
	}
	want := []string{evm.RevertedFailure, "", ""}
	for i, p := range ps {
		got, err := s.Payment(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Failure != want[i] {
			t.Errorf("session %d failure %q, want %q", i, got.Failure, want[i])
		}
		// A reported hash never credits: every session is still pending, nothing received.
		if got.Status != models.StatusPending || got.AmountReceived != 0 || got.TxID != "" {
			t.Errorf("session %d: %s, received %d, tx %q", i, got.Status, got.AmountReceived, got.TxID)
		}
	}
	// Nothing left to check but the two that did not revert.
	left, err := s.SubmittedTxsToCheck(ctx, "local", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 {
		t.Fatalf("%d transactions still to check, want 2", len(left))
	}
	// Marking again changes nothing.
	if again, err := s.MarkSubmittedTxFailed(ctx, ps[0].ID, "other"); err != nil || again {
		t.Fatalf("second mark: %v, %v", again, err)
	}
}
