// Package partials holds the htmx swap targets: fragments that a page renders
// in place on first load and that htmx later replaces with fresh copies from
// the server.
package partials

import "github.com/a-h/templ"

// Checkout phases: what the customer's session view shows. They follow the
// payment status, except that a pending session past its deadline already
// shows as expired (the expirer marks it soon; polling continues meanwhile,
// so a last-second payment still turns up as confirming).
const (
	PhasePending    = "pending"
	PhaseConfirming = "confirming"
	PhaseConfirmed  = "confirmed"
	PhaseExpired    = "expired"
	PhaseUnderpaid  = "underpaid"
)

// CheckoutSession is everything the session view of the hosted checkout
// shows. Handlers fill it from the domain; the views only print it. Amounts
// are exact decimal KAS strings (no float on the way).
type CheckoutSession struct {
	PaymentID    string
	Slug         string
	MerchantName string
	Title        string
	Description  string
	Testnet      bool

	// Phase is one of the Phase constants; Status is the stored status.
	Phase  string
	Status string
	// Final is true when the stored status can no longer change by itself:
	// the poller is then rendered without its trigger.
	Final bool
	// PollURL is the status partial's URL for the next poll ("" when final).
	PollURL string
	// SelfURL reloads this session (the no-JavaScript "Refresh status").
	SelfURL string

	Address string
	// Amount is the exact amount to send, e.g. "100.00012345".
	Amount string
	// URI is the wallet URI "kaspa:…?amount=…" (what the QR encodes).
	URI string
	// WalletURL is URI as a link target; empty when the address did not
	// validate (the button is then not shown).
	WalletURL templ.SafeURL
	QRURL     string
	// ExpiresAt is ISO-8601 UTC for the countdown; ExpiresIn the remaining
	// time when rendered (m:ss) and ExpiresAtText the absolute time.
	ExpiresAt     string
	ExpiresIn     string
	ExpiresAtText string
	// DerivationIndex is set for per-payment addresses ("" otherwise).
	DerivationIndex string
	// SharedAddress is true when the amount itself identifies the payment.
	SharedAddress bool

	// USD links: the price, the rate used (USD per KAS) and its source.
	USD        string
	Rate       string
	RateSource string

	Confirmations int64
	Required      int64
	Received      string
	// Remaining is what an underpaid session still needs, with its URI.
	Remaining    string
	RemainingURI string
	RemainingURL templ.SafeURL

	TxID        string
	ExplorerURL templ.SafeURL
	Late        bool
	// Partial is set on an expired session that received part of its
	// amount (Received of Amount): the customer must contact the merchant.
	Partial bool
	// Overpaid is what a paid session received beyond its amount ("" when
	// nothing).
	Overpaid string
	// StrayCredit: a credit reached this shared address after the session
	// opened and matched nothing; the customer may have sent a different
	// amount. Nothing about that credit itself is shown.
	StrayCredit bool

	SuccessMessage string
	// RedirectURL is the merchant's http(s) return URL ("" when none or
	// invalid); RedirectHost names it for the visible link.
	RedirectURL  templ.SafeURL
	RedirectHost string
	// Live is true when the panel comes from a poll that saw the change
	// happen: only then does the confirmed panel redirect by itself.
	Live bool
	// CanPayAgain shows "Make another payment" (the link still takes
	// payments).
	CanPayAgain bool
	ReceiptURL  string
	// CSRF is the token for the "start a new payment" form.
	CSRF string

	// Asset names the unit of every amount shown ("KAS", "USDC").
	Asset string
	// EVM is set on USDC sessions: the network and token to pay on.
	EVM *EVMPay
	// SubmittedTx is the transaction the customer's browser wallet reported
	// ("sent, waiting to be mined"), SubmittedTxURL its explorer link, and
	// Failure why it failed (e.g. reverted), if it did.
	SubmittedTx    string
	SubmittedTxURL templ.SafeURL
	Failure        string
}

// EVMPay is how to pay a USDC session: network, chain ID, the USDC contract
// (EIP-55) with its explorer link, and what the browser-wallet script needs
// (the chain ID in hex, the amount in micro-USDC).
type EVMPay struct {
	Network    string
	ChainID    string
	ChainIDHex string
	Token      string
	TokenURL   templ.SafeURL
	Units      string
	// TxPostURL receives the wallet's transaction hash.
	TxPostURL string
}

// IsEVM reports whether the session pays USDC on an EVM chain.
func (s CheckoutSession) IsEVM() bool { return s.EVM != nil }

// Progress is the confirmation progress in percent, for the bar's label.
func (s CheckoutSession) Progress() int64 {
	if s.Required <= 0 {
		return 100
	}
	p := s.Confirmations * 100 / s.Required
	if p > 100 {
		p = 100
	}
	return p
}

// ConfirmationsShown caps the displayed count at the required depth.
func (s CheckoutSession) ConfirmationsShown() int64 {
	if s.Confirmations > s.Required {
		return s.Required
	}
	return s.Confirmations
}

// NetworkName is the network the session pays on, as the status says it.
func (s CheckoutSession) NetworkName() string {
	if s.EVM != nil {
		return s.EVM.Network
	}
	return "the Kaspa network"
}

// ExplorerName names the explorer a transaction link leads to.
func (s CheckoutSession) ExplorerName() string {
	if s.EVM != nil {
		return s.EVM.Network + " explorer"
	}
	return "Kaspa explorer"
}

// AddressKind is the kind of address the customer pays to.
func (s CheckoutSession) AddressKind() string {
	if s.EVM != nil {
		return s.EVM.Network
	}
	return "Kaspa"
}
