package models

import (
	"encoding/json"
	"strings"
)

// The KasPay document knows three payment statuses. Till tracks more stages
// internally (checkout and dashboard show them); the KasPay surface (the
// JSON API and webhook payloads) folds every stage that is not final into
// "pending" and reports the stage itself in an added field.
const (
	KasPayPending   = "pending"
	KasPayConfirmed = "confirmed"
	KasPayExpired   = "expired"
)

// Stages of a payment as the KasPay surface names them in its "stage"
// field (a Till extension).
const (
	StageAwaitingPayment = "awaiting_payment"
	StageConfirming      = "confirming"
	StageUnderpaid       = "underpaid"
	StageConfirmed       = "confirmed"
	StageExpired         = "expired"
)

// KasPay maps an internal status to the KasPay surface: status is one of
// pending, confirmed, expired (the document's values), stage the detailed
// progress (awaiting_payment, confirming, underpaid, confirmed, expired).
// This is the only place the two vocabularies meet.
func (s PaymentStatus) KasPay() (status, stage string) {
	switch s {
	case StatusConfirmed:
		return KasPayConfirmed, StageConfirmed
	case StatusExpired:
		return KasPayExpired, StageExpired
	case StatusConfirming:
		return KasPayPending, StageConfirming
	case StatusUnderpaid:
		return KasPayPending, StageUnderpaid
	default:
		return KasPayPending, StageAwaitingPayment
	}
}

// KasPayStatusFilter reads a ?status= value of the KasPay surface, which
// accepts both vocabularies: the document's statuses (pending meaning every
// stage that is not final) and the stage names, which match exactly. The
// result is the set of internal statuses to list; empty v means any.
func KasPayStatusFilter(v string) ([]PaymentStatus, error) {
	switch strings.TrimSpace(v) {
	case "":
		return nil, nil
	case KasPayPending:
		return []PaymentStatus{StatusPending, StatusConfirming, StatusUnderpaid}, nil
	case StageAwaitingPayment:
		return []PaymentStatus{StatusPending}, nil
	case StageConfirming:
		return []PaymentStatus{StatusConfirming}, nil
	case StageUnderpaid:
		return []PaymentStatus{StatusUnderpaid}, nil
	case KasPayConfirmed:
		return []PaymentStatus{StatusConfirmed}, nil
	case KasPayExpired:
		return []PaymentStatus{StatusExpired}, nil
	}
	return nil, Invalid("status", "status must be one of pending, confirmed, expired, or a stage: "+
		"awaiting_payment, confirming, underpaid")
}

// CheckLoginEmail refuses a login whose email is not an email address at
// all, as the KasPay document answers (400 "Invalid email format"), before
// any account lookup; a well-formed unknown email stays a 401.
func CheckLoginEmail(email string) error {
	return validateEmail("email", NormalizeEmail(email))
}

// The KasPay presenter: every KasPay-dialect view of a payment (webhook
// snapshot, create, status, list item) is built here and nowhere else.

// PaymentSnapshot is the payment object carried by events and webhooks, in
// the KasPay dialect (field order is the order of the JSON).
type PaymentSnapshot struct {
	ID string `json:"id"`
	// Status is the KasPay status (pending, confirmed, expired) and Stage
	// Till's detailed stage; see PaymentStatus.KasPay.
	Status         string `json:"status"`
	Stage          string `json:"stage"`
	AmountExpected string `json:"amountExpected"`
	AmountReceived string `json:"amountReceived"`
	// KaspaAddress is null for payments on other chains.
	KaspaAddress          *string         `json:"kaspaAddress"`
	SenderAddress         *string         `json:"senderAddress"`
	TxID                  *string         `json:"txId"`
	CustomerEmail         *string         `json:"customerEmail"`
	CustomerName          *string         `json:"customerName"`
	Metadata              json.RawMessage `json:"metadata"`
	ConfirmedAt           *string         `json:"confirmedAt"`
	PaymentLinkID         *string         `json:"paymentLinkId"`
	Currency              string          `json:"currency"`
	Confirmations         int64           `json:"confirmations"`
	RequiredConfirmations int             `json:"requiredConfirmations"`
	Late                  bool            `json:"late"`
	ExpiresAt             string          `json:"expiresAt"`
	CreatedAt             string          `json:"createdAt"`
	// EVMFields are Till extensions, present on non-Kaspa payments only
	// (a Kaspa payment's snapshot is exactly the KasPay document's).
	*EVMFields
}

// EVMFields describe where and how a USDC payment is paid: the chain by
// name and ID, the asset, the receiver and token contract (EIP-55), the
// EIP-681 payment URI and the amounts exactly in USDC (the 8-place strings
// of the KasPay fields print the same value).
type EVMFields struct {
	Chain           string `json:"chain"`
	ChainID         int64  `json:"chainId"`
	Asset           string `json:"asset"`
	PayAddress      string `json:"payAddress"`
	TokenAddress    string `json:"tokenAddress"`
	PaymentURI      string `json:"paymentUri"`
	AssetAmount     string `json:"assetAmount"`
	AssetAmountPaid string `json:"assetAmountReceived"`
}

// EVMFieldsOf returns p's EVM extension fields, nil for a Kaspa payment.
func (p *Payment) EVMFieldsOf() *EVMFields {
	if IsKaspa(p.Chain) {
		return nil
	}
	a := p.AssetOf()
	return &EVMFields{Chain: p.Chain, ChainID: p.ChainID(), Asset: string(a), PayAddress: p.PayAddressHex(),
		TokenAddress: p.TokenAddressHex(), PaymentURI: p.PaymentURI(),
		AssetAmount: FormatAsset(p.AmountExpected, a), AssetAmountPaid: FormatAsset(p.AmountReceived, a)}
}

// KaspaAddressOf is the kaspaAddress field of the KasPay surface: the pay
// address of a Kaspa payment, null on other chains.
func (p *Payment) KaspaAddressOf() *string {
	if !IsKaspa(p.Chain) {
		return nil
	}
	a := p.PayAddress
	return &a
}

// Snapshot returns the KasPay payment object of events and webhooks.
func (p *Payment) Snapshot() PaymentSnapshot {
	meta := json.RawMessage(p.Metadata)
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	status, stage := p.Status.KasPay()
	return PaymentSnapshot{
		ID: p.ID, Status: status, Stage: stage,
		AmountExpected: FormatAmount8(p.AmountExpected, p.AssetOf()), AmountReceived: FormatAmount8(p.AmountReceived, p.AssetOf()),
		KaspaAddress: p.KaspaAddressOf(), SenderAddress: optString(p.SenderHex()), TxID: optString(p.TxID),
		CustomerEmail: optString(p.CustomerEmail), CustomerName: optString(p.CustomerName), Metadata: meta,
		ConfirmedAt: optTime(p.ConfirmedAt), PaymentLinkID: p.LinkID, Currency: string(p.PriceCurrency),
		Confirmations: p.Confirmations, RequiredConfirmations: p.RequiredConfirmations, Late: p.Late,
		ExpiresAt: ISOTime(p.ExpiresAt), CreatedAt: ISOTime(p.CreatedAt), EVMFields: p.EVMFieldsOf(),
	}
}
