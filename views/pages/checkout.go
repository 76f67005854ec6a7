package pages

import (
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// CheckoutLink is the checkout of a link before a session exists.
type CheckoutLink struct {
	Slug         string
	MerchantName string
	Title        string
	Description  string
	Testnet      bool
	// Amount is the price in Currency: exact KAS ("100", "0.25") or USD
	// with cents ("19.99").
	Amount   string
	Currency string
	// ExpiryMinutes is how long a session stays payable.
	ExpiryMinutes int
	// Notice explains why the visitor sees the link again (an expired
	// session).
	Notice string
	Form   Form
	// OpenAmount: a USDC link without a price, where the customer enters
	// the amount (at least 0.01 USDC) before the session opens.
	OpenAmount bool
	// Network names a USDC link's chain ("" for Kaspa).
	Network string
}

// AssetName is what the customer pays in: "USDC" or "KAS".
func (l CheckoutLink) AssetName() string {
	if l.Currency == "USDC" {
		return "USDC"
	}
	return "Kaspa"
}

// USD reports whether the link is priced in dollars.
func (l CheckoutLink) USD() bool { return l.Currency == "USD" }

// CheckoutReceipt is a confirmed payment's public receipt: only what the
// payer already knows, never the customer's name or email.
type CheckoutReceipt struct {
	PaymentID      string
	MerchantName   string
	Title          string
	Testnet        bool
	AmountReceived string
	AmountExpected string
	USD            string
	Rate           string
	RateSource     string
	Address        string
	TxID           string
	ExplorerURL    templ.SafeURL
	Sender         string
	CreatedAt      string
	ConfirmedAt    string
	ConfirmedAtISO string
	Late           bool
	// CheckoutURL leads back to the link's checkout ("" without a link).
	CheckoutURL string
	// Asset is what was paid ("USDC"; "" or "KAS" for Kaspa) and Network
	// the EVM network's name ("" for Kaspa).
	Asset   string
	Network string
}

// AssetName is the unit printed after amounts.
func (r CheckoutReceipt) AssetName() string {
	if r.Asset == "" {
		return "KAS"
	}
	return r.Asset
}

// ExplorerName names the explorer the transaction link leads to.
func (r CheckoutReceipt) ExplorerName() string {
	if r.Network != "" {
		return r.Network + " explorer"
	}
	return "Kaspa explorer"
}

// CheckoutProblem is the page for a link or session a customer cannot use.
type CheckoutProblem struct {
	Status       int
	Heading      string
	Body         string
	MerchantName string
	BackURL      string
	Testnet      bool
}

// initial is the first letter of a merchant's name, for its avatar.
func initial(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// minutesText says how long a session lasts: "30 minutes", "2 hours".
func minutesText(m int) string {
	switch {
	case m == 1:
		return "1 minute"
	case m%1440 == 0 && m >= 1440:
		if m == 1440 {
			return "1 day"
		}
		return strconv.Itoa(m/1440) + " days"
	case m%60 == 0 && m >= 60:
		if m == 60 {
			return "1 hour"
		}
		return strconv.Itoa(m/60) + " hours"
	}
	return strconv.Itoa(m) + " minutes"
}

// shortID is the first block of a payment id, for display.
func shortID(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}
