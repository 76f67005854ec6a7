package evm_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"

	"till/models"
	"till/models/modeltest"
	"till/web"
	"till/workers/evm"
)

// serveWeb runs Till's HTTP stack over h's store on a loopback port.
func (h *wharness) serveWeb() string {
	h.t.Helper()
	srv := web.New(web.Options{Store: h.store, BaseURL: "http://127.0.0.1", Secret: modeltest.TestSecret,
		PublicRateLimit: 100_000, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ChainStatus: func() any { return map[string]evm.ChainStatus{h.name: {Status: evm.StateWatching}} }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	go func() { _ = srv.App.Listener(ln) }()
	h.t.Cleanup(func() { _ = srv.App.Shutdown() })
	return "http://" + ln.Addr().String()
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestWatcherCycleChecksWalletReceipts: the watcher's cycle runs the receipt
// checks, so a wallet-reported transaction that reverted fails its session
// on the checkout, while a reported one that succeeded is credited only by
// its Transfer log.
func TestWatcherCycleChecksWalletReceipts(t *testing.T) {
	h := newWatch(t, nil)
	failed, paid := h.session(h.link), h.session(h.link)
	bal, err := h.sim.BalanceOf(h.sim.Payer())
	if err != nil {
		t.Fatal(err)
	}
	reverted, err := h.sim.Send(recvA, new(big.Int).Add(bal, big.NewInt(1))) // more than the payer holds: status 0
	if err != nil {
		t.Fatal(err)
	}
	ok, err := h.sim.Send(recvA, big.NewInt(paid.AmountExpected))
	if err != nil {
		t.Fatal(err)
	}
	h.mine(1)
	for p, hash := range map[string]string{failed.ID: reverted.Hex(), paid.ID: ok.Hex()} {
		if _, err := h.store.SubmitWalletTx(h.ctx, p, hash); err != nil {
			t.Fatal(err)
		}
	}
	base := h.serveWeb()
	if _, body := httpGet(t, base+"/pay/status/"+failed.ID); strings.Contains(string(body), "pay-tx-failed") {
		t.Fatal("failure shown before any receipt was checked")
	}

	h.proxy.ResetCounts()
	h.cycle()
	// The paid session is credited by its log first and is no longer
	// pending: only the reverted one's receipt is asked for.
	if n := h.proxy.Calls("eth_getTransactionReceipt"); n != 1 {
		t.Fatalf("%d receipt calls in the cycle, want 1", n)
	}
	if got := h.reload(failed.ID); got.Failure != evm.RevertedFailure || got.Status != models.StatusPending || got.AmountReceived != 0 {
		t.Fatalf("reverted session: failure %q, %s, received %d", got.Failure, got.Status, got.AmountReceived)
	}
	if got := h.reload(paid.ID); got.Failure != "" || got.Status != models.StatusConfirming || got.TxID != strings.ToLower(ok.Hex()) {
		t.Fatalf("paid session: failure %q, %s, tx %q", got.Failure, got.Status, got.TxID)
	}
	code, body := httpGet(t, base+"/pay/status/"+failed.ID)
	if code != http.StatusOK || !strings.Contains(string(body), `data-testid="pay-tx-failed"`) || !strings.Contains(string(body), evm.RevertedFailure) {
		t.Fatalf("checkout status %d lacks the failure: %s", code, body)
	}

	// Settled: later cycles ask for no receipt again.
	h.proxy.ResetCounts()
	h.mine(3)
	h.cycle()
	if n := h.proxy.Calls("eth_getTransactionReceipt"); n != 0 {
		t.Fatalf("%d receipt calls once nothing is left to check", n)
	}
	h.want(paid.ID, models.StatusConfirmed, 4)
}

// TestWatcherRecordsSender: a credited USDC payment carries the log's from
// address, in the store and in the status API; a reorg that takes the credit
// back clears it.
func TestWatcherRecordsSender(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	payer := strings.ToLower(h.sim.Payer().Hex())
	base := h.serveWeb()
	status := func() map[string]any {
		t.Helper()
		code, body := httpGet(t, base+"/api/payments/"+p.ID+"/status")
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil || code != http.StatusOK {
			t.Fatalf("status %d %s: %v", code, body, err)
		}
		return out
	}
	if s := status(); s["senderAddress"] != nil {
		t.Fatalf("sender before payment: %v", s["senderAddress"])
	}

	h.pay(recvA, p.AmountExpected)
	h.cycle()
	if got := h.want(p.ID, models.StatusConfirming, 1); got.SenderAddress != payer {
		t.Fatalf("sender %q, want %q", got.SenderAddress, payer)
	}
	// Stored lower-case, shown as the wallet shows it (EIP-55).
	if s := status(); s["senderAddress"] != h.sim.Payer().Hex() {
		t.Fatalf("status API sender %v, want %s", s["senderAddress"], h.sim.Payer().Hex())
	}
	if tr := h.transfers("payment_id = ?", p.ID); len(tr) != 1 || tr[0].SenderAddress != payer {
		t.Fatalf("transfers %+v", tr)
	}

	if err := h.sim.Reorg(1); err != nil { // the transfer is gone
		t.Fatal(err)
	}
	h.cycle()
	if got := h.want(p.ID, models.StatusPending, 0); got.SenderAddress != "" {
		t.Fatalf("sender %q kept after the credit was taken back", got.SenderAddress)
	}

	h.pay(recvA, p.AmountExpected) // paid again: the sender comes back with the new credit
	h.mine(2)
	h.cycle()
	if got := h.want(p.ID, models.StatusConfirmed, 3); got.SenderAddress != payer {
		t.Fatalf("sender %q after re-payment", got.SenderAddress)
	}
	if s := status(); s["senderAddress"] != h.sim.Payer().Hex() || s["status"] != "confirmed" {
		t.Fatalf("status API %v", s)
	}
}
