// The KiraPay presenter: every KiraPay-dialect view of a USDC payment
// session (the wallet transaction of GET /api/wallet/transactions and the
// data of transaction.* webhook events) is built here and nowhere else.
package models

import (
	"encoding/json"
	"strconv"

	"till/models/evm"
)

// KiraPay transaction statuses as the KiraPay surface shows them.
const (
	KiraPayPending = "Pending"
	KiraPaySuccess = "Success"
	KiraPayFailed  = "Failed"
	KiraPayCancel  = "Cancel" // Till never cancels; kept for the filter
)

// KiraPayTxType is the type of every Till transaction: a direct ERC-20
// transfer to the receiver (KiraPay's "Contract" is its CCTP flow).
const KiraPayTxType = "Transfer"

// Reasons a KiraPay transaction failed, sent in transaction.failed's
// data.error and shown by the wallet list.
const (
	KiraPayErrReverted = "Transaction reverted"
	KiraPayErrOrphaned = "Transfer removed by a chain reorganisation"
	KiraPayErrShort    = "Amount received is less than the price"
	KiraPayErrNotMined = "Transaction not mined before the payment window closed"
)

// KiraPayUser is the user object of a KiraPay transaction: the merchant.
type KiraPayUser struct {
	ID       string `json:"_id"`
	Username string `json:"username"`
}

// KiraPayPayload is the transfer part of a KiraPay transaction, in the
// shape of KiraPay's CCTP payload: Till reports a direct transfer, so the
// message fields are the transfer's and the CCTP-only fields are null or 0.
// Chain, Confirmations and RequiredConfirmations are Till extensions.
type KiraPayPayload struct {
	Sender                string  `json:"sender"`
	Recipient             string  `json:"recipient"`
	MintRecipient         string  `json:"mintRecipient"`
	MessageSender         string  `json:"messageSender"`
	Amount                string  `json:"amount"`
	SourceDomain          *uint32 `json:"sourceDomain"`
	DestinationDomain     *uint32 `json:"destinationDomain"`
	Status                string  `json:"status"`
	EventNonce            *string `json:"eventNonce"`
	Attestation           *string `json:"attestation"`
	CCTPVersion           *int    `json:"cctpVersion"`
	MaxFee                int     `json:"maxFee"`
	FeeExecuted           int     `json:"feeExecuted"`
	Chain                 string  `json:"chain"`
	Confirmations         int64   `json:"confirmations"`
	RequiredConfirmations int     `json:"requiredConfirmations"`
}

// KiraPayTransaction is the KiraPay transaction object of one USDC payment
// session: _id is the session's ShortID, price the amount received.
type KiraPayTransaction struct {
	ID        string          `json:"_id"`
	Price     json.Number     `json:"price"`
	Hash      *string         `json:"hash"`
	Status    string          `json:"status"`
	Type      string          `json:"type"`
	User      KiraPayUser     `json:"user"`
	Link      *string         `json:"link"`
	Source    *string         `json:"source"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
	V         int             `json:"__v"`
	Payload   *KiraPayPayload `json:"payload,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// KiraPayTxSource is what the presenter needs besides the payment: the
// merchant's name and the hash of the payment's latest orphaned transfer.
type KiraPayTxSource struct {
	Payment  *Payment
	Username string
	// OrphanedTxID is the hash of the payment's latest orphaned transfer
	// ("" for none): shown when the payment holds no credited or submitted
	// transaction any more, and it names an expiry's failure "removed by a
	// reorganisation" even when the session kept its tx_id.
	OrphanedTxID string
}

// KiraPayStatus is the KiraPay status of a payment's transaction:
// Success once confirmed; Failed when the session expired with a
// transaction known (orphaned transfer, amount short, or a submitted hash
// never mined) or its submitted transaction reverted with nothing credited;
// Pending otherwise.
func (p *Payment) KiraPayStatus() string {
	switch {
	case p.Status == StatusConfirmed:
		return KiraPaySuccess
	case p.Status == StatusExpired:
		return KiraPayFailed
	case p.TxID == "" && p.Failure != "":
		return KiraPayFailed
	}
	return KiraPayPending
}

// KiraPayError is why p's transaction failed ("" unless KiraPayStatus is
// Failed). orphaned says the session's transfer left the chain.
func (p *Payment) KiraPayError(orphaned bool) string {
	if p.KiraPayStatus() != KiraPayFailed {
		return ""
	}
	switch {
	case p.Status != StatusExpired:
		return KiraPayErrReverted
	case p.AmountReceived > 0:
		return KiraPayErrShort
	case orphaned:
		return KiraPayErrOrphaned
	case p.Failure != "":
		return KiraPayErrReverted
	}
	return KiraPayErrNotMined
}

// KiraPayDomain is the CCTP domain of an EVM chain (nil for a chain
// without one, such as a local development chain).
func KiraPayDomain(chain string) *uint32 {
	c, ok := evm.Builtin(chain)
	if !ok || !c.HasCCTP {
		return nil
	}
	d := c.CCTPDomain
	return &d
}

// KiraPayTx presents src as a KiraPay transaction. withPayload adds the
// transfer payload when a transfer is credited (the wallet list and
// transaction.succeeded carry it, transaction.created does not).
func KiraPayTx(src KiraPayTxSource, withPayload bool) KiraPayTransaction {
	p := src.Payment
	t := KiraPayTransaction{
		ID:        ShortID(p.ID),
		Price:     json.Number(evm.FormatUSDC(p.AmountReceived)),
		Status:    p.KiraPayStatus(),
		Type:      KiraPayTxType,
		User:      KiraPayUser{ID: ShortID(p.MerchantID), Username: src.Username},
		CreatedAt: ISOTime(p.CreatedAt),
		UpdatedAt: ISOTime(p.UpdatedAt),
		Error:     p.KiraPayError(src.OrphanedTxID != ""),
	}
	if p.TxKnownAt != nil {
		t.CreatedAt = ISOTime(*p.TxKnownAt)
	}
	switch {
	case p.TxID != "":
		t.Hash = &p.TxID
	case p.SubmittedTxHash != "":
		t.Hash = &p.SubmittedTxHash
	case src.OrphanedTxID != "":
		t.Hash = &src.OrphanedTxID
	}
	if p.LinkID != nil {
		id := ShortID(*p.LinkID)
		t.Link = &id
	}
	dom := KiraPayDomain(p.Chain)
	if dom != nil {
		s := strconv.FormatUint(uint64(*dom), 10)
		t.Source = &s
	}
	if withPayload && p.TxID != "" {
		status := "pending"
		if p.Status == StatusConfirmed {
			status = "complete"
		}
		recipient := p.PayAddressHex()
		t.Payload = &KiraPayPayload{
			Sender: p.SenderHex(), Recipient: recipient, MintRecipient: recipient, MessageSender: p.SenderHex(),
			Amount: strconv.FormatInt(p.AmountReceived, 10), SourceDomain: dom, DestinationDomain: dom,
			Status: status, Chain: p.Chain, Confirmations: p.Confirmations,
			RequiredConfirmations: p.RequiredConfirmations,
		}
	}
	return t
}
