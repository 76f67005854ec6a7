package kaspa_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

// TestTransactionIsCoinbase reads a coinbase and a customer transaction
// back through the REST history and the transaction endpoint: the coinbase
// shape (coinbase subnetwork id, no inputs) is recognised on both.
func TestTransactionIsCoinbase(t *testing.T) {
	chain := double.New(double.Options{})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	c := kaspa.NewClient(url, &http.Client{Timeout: 2 * time.Second})
	ctx := context.Background()
	addr := chain.AddressFor("miner")
	cases := []struct {
		name     string
		coinbase bool
	}{{"coinbase", true}, {"customer payment", false}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := chain.Submit(double.TxSpec{Outputs: []double.Output{{Address: addr, Sompi: 1234}}, Coinbase: tc.coinbase})
			if err != nil {
				t.Fatal(err)
			}
			tx, err := c.Transaction(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tx.IsCoinbase() != tc.coinbase || (len(tx.Inputs) == 0) != tc.coinbase {
				t.Fatalf("GET /transactions: IsCoinbase %v, subnetwork %s, %d inputs", tx.IsCoinbase(), tx.SubnetworkID, len(tx.Inputs))
			}
			txs, _, err := c.FullTransactionsPage(ctx, addr, 0, 50)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, h := range txs {
				if h.ID == id {
					found = true
					if h.IsCoinbase() != tc.coinbase {
						t.Fatalf("history: IsCoinbase %v, subnetwork %s", h.IsCoinbase(), h.SubnetworkID)
					}
				}
			}
			if !found {
				t.Fatal("not in the address history")
			}
		})
	}
}
