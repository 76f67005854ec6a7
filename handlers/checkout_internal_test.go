package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"till/models/kaspa"
)

func TestExplorerTxURL(t *testing.T) {
	tx := strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		network kaspa.Network
		tx      string
		want    templ.SafeURL
	}{
		{"mainnet", kaspa.Mainnet, tx, templ.SafeURL("https://explorer.kaspa.org/txs/" + tx)},
		{"testnet-10", kaspa.Testnet10, tx, templ.SafeURL("https://explorer-tn10.kaspa.org/txs/" + tx)},
		{"empty", kaspa.Mainnet, "", ""},
		{"upper case", kaspa.Mainnet, strings.ToUpper(tx), ""},
		{"short", kaspa.Mainnet, tx[:62], ""},
		{"injection", kaspa.Mainnet, tx[:60] + `"><a`, ""},
		{"path", kaspa.Mainnet, "../../" + tx[:58], ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := explorerTxURL(tc.network, tc.tx); got != tc.want {
				t.Errorf("explorerTxURL(%q) = %q, want %q", tc.tx, got, tc.want)
			}
		})
	}
}

func TestHTTPURL(t *testing.T) {
	cases := []struct {
		in, url, host string
	}{
		{"https://shop.example.com/thanks?o=1", "https://shop.example.com/thanks?o=1", "shop.example.com"},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x", "127.0.0.1"},
		{"javascript:alert(1)", "", ""},
		{"data:text/html,hi", "", ""},
		{"//evil.example/x", "", ""},
		{"https://user:pw@shop.example.com/", "", ""},
		{"", "", ""},
	}
	for _, tc := range cases {
		u, host := httpURL(tc.in)
		if string(u) != tc.url || host != tc.host {
			t.Errorf("httpURL(%q) = %q, %q; want %q, %q", tc.in, u, host, tc.url, tc.host)
		}
	}
}

func TestRemaining(t *testing.T) {
	cases := map[time.Duration]string{
		-time.Second:                          "0:00",
		0:                                     "0:00",
		59*time.Second + 999*time.Millisecond: "0:59",
		15 * time.Minute:                      "15:00",
		time.Hour + 2*time.Minute + 3*time.Second: "1:02:03",
	}
	for d, want := range cases {
		if got := remaining(d); got != want {
			t.Errorf("remaining(%s) = %q, want %q", d, got, want)
		}
	}
}
