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

// KasPayCreated is the KasPay create-payment response (POST
// /api/payments).
type KasPayCreated struct {
	ID                    string  `json:"id"`
	KaspaAddress          *string `json:"kaspaAddress"`
	AmountExpected        string  `json:"amountExpected"`
	Status                string  `json:"status"`
	ExpiresAt             string  `json:"expiresAt"`
	Stage                 string  `json:"stage"`
	PaymentURI            string  `json:"paymentUri"`
	DerivationIndex       *int64  `json:"derivationIndex"`
	Currency              string  `json:"currency"`
	OriginalUSDAmount     *string `json:"originalUsdAmount"`
	Rate                  *string `json:"rate"`
	RequiredConfirmations int     `json:"requiredConfirmations"`
	CreatedAt             string  `json:"createdAt"`
	// USDC payments only (extensions): chain, chainId, asset, payAddress,
	// tokenAddress, paymentUri (EIP-681, replacing the Kaspa URI above)
	// and the exact amounts.
	*EVMFields
}

// KasPayStatus is the document's status object: amountReceived is a JSON
// number of KAS here (a string in lists and webhooks, as the document shows).
type KasPayStatus struct {
	ID                    string      `json:"id"`
	Status                string      `json:"status"`
	AmountReceived        json.Number `json:"amountReceived"`
	SenderAddress         *string     `json:"senderAddress"`
	TxID                  *string     `json:"txId"`
	Confirmations         int64       `json:"confirmations"`
	ConfirmedAt           *string     `json:"confirmedAt"`
	Stage                 string      `json:"stage"`
	AmountExpected        string      `json:"amountExpected"`
	RequiredConfirmations int         `json:"requiredConfirmations"`
	ExpiresAt             string      `json:"expiresAt"`
	Late                  bool        `json:"late"`
	// USDC payments only (extensions).
	*EVMFields
}

// KasPayCreated returns p as the KasPay create-payment response.
func (p *Payment) KasPayCreated() KasPayCreated {
	status, stage := p.Status.KasPay()
	// The URI is built once: a USDC payment's EVM fields carry it too.
	evmFields := p.EVMFieldsOf()
	var uri string
	if evmFields != nil {
		uri = evmFields.PaymentURI
	} else {
		uri = p.PaymentURI()
	}
	out := KasPayCreated{
		ID: p.ID, KaspaAddress: p.KaspaAddressOf(), AmountExpected: FormatAmount8(p.AmountExpected, p.AssetOf()),
		Status: status, ExpiresAt: ISOTime(p.ExpiresAt), Stage: stage, PaymentURI: uri,
		DerivationIndex: p.DerivationIndex, Currency: string(p.PriceCurrency),
		RequiredConfirmations: p.RequiredConfirmations, CreatedAt: ISOTime(p.CreatedAt),
		EVMFields: evmFields,
	}
	if p.PriceCurrency == USD {
		usd := FormatAmount8(p.PriceAmount, USD)
		rate := p.Rate
		out.OriginalUSDAmount, out.Rate = &usd, &rate
	}
	return out
}

// KasPayStatus returns p as the KasPay status object
// (GET /api/payments/:id/status).
func (p *Payment) KasPayStatus() KasPayStatus {
	status, stage := p.Status.KasPay()
	return KasPayStatus{
		ID: p.ID, Status: status, Stage: stage,
		// A JSON number in the payment's asset, printed exactly from base
		// units (no float).
		AmountReceived: json.Number(FormatAsset(p.AmountReceived, p.AssetOf())),
		SenderAddress:  optString(p.SenderHex()), TxID: optString(p.TxID),
		Confirmations: p.Confirmations, ConfirmedAt: optTime(p.ConfirmedAt),
		AmountExpected: FormatAmount8(p.AmountExpected, p.AssetOf()), RequiredConfirmations: p.RequiredConfirmations,
		ExpiresAt: ISOTime(p.ExpiresAt), Late: p.Late, EVMFields: p.EVMFieldsOf(),
	}
}

// KasPayPayment is a payment in lists and GET /api/payments/:id: the
// document's list item (amountReceived a string with 8 decimals), then
// Till's extensions.
type KasPayPayment struct {
	ID                    string          `json:"id"`
	AmountExpected        string          `json:"amountExpected"`
	AmountReceived        string          `json:"amountReceived"`
	Status                string          `json:"status"`
	TxID                  *string         `json:"txId"`
	SenderAddress         *string         `json:"senderAddress"`
	CustomerName          *string         `json:"customerName"`
	CustomerEmail         *string         `json:"customerEmail"`
	CreatedAt             string          `json:"createdAt"`
	ConfirmedAt           *string         `json:"confirmedAt"`
	Stage                 string          `json:"stage"`
	PaymentLinkID         *string         `json:"paymentLinkId"`
	KaspaAddress          *string         `json:"kaspaAddress"`
	DerivationIndex       *int64          `json:"derivationIndex"`
	Confirmations         int64           `json:"confirmations"`
	RequiredConfirmations int             `json:"requiredConfirmations"`
	ExpiresAt             string          `json:"expiresAt"`
	Currency              string          `json:"currency"`
	PriceAmount           string          `json:"priceAmount"`
	Rate                  *string         `json:"rate"`
	RateSource            *string         `json:"rateSource"`
	Late                  bool            `json:"late"`
	Metadata              json.RawMessage `json:"metadata"`
	// USDC payments only (extensions).
	*EVMFields
}

// KasPayItem returns p as a KasPay list item (GET /api/payments[/:id]).
func (p *Payment) KasPayItem() KasPayPayment {
	meta := json.RawMessage(p.Metadata)
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	status, stage := p.Status.KasPay()
	return KasPayPayment{
		ID: p.ID, AmountExpected: FormatAmount8(p.AmountExpected, p.AssetOf()),
		AmountReceived: FormatAmount8(p.AmountReceived, p.AssetOf()), Status: status, Stage: stage,
		TxID: optString(p.TxID), SenderAddress: optString(p.SenderHex()), CustomerName: optString(p.CustomerName),
		CustomerEmail: optString(p.CustomerEmail), CreatedAt: ISOTime(p.CreatedAt), ConfirmedAt: optTime(p.ConfirmedAt),
		PaymentLinkID: p.LinkID, KaspaAddress: p.KaspaAddressOf(), DerivationIndex: p.DerivationIndex,
		Confirmations: p.Confirmations, RequiredConfirmations: p.RequiredConfirmations, ExpiresAt: ISOTime(p.ExpiresAt),
		Currency: string(p.PriceCurrency), PriceAmount: FormatAmount8(p.PriceAmount, p.PriceCurrency),
		Rate: optString(p.Rate), RateSource: optString(p.RateSource), Late: p.Late, Metadata: meta,
		EVMFields: p.EVMFieldsOf(),
	}
}
