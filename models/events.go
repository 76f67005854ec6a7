package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Event types. Every payment state change that a merchant's systems care
// about writes one event in the same transaction as the change.
const (
	EventPaymentConfirmed = "payment.confirmed"
	EventPaymentExpired   = "payment.expired"
)

// Event is an outbox row: what happened, with a snapshot of the payment as it
// was at that moment. Webhook deliveries are created from it in the same
// transaction, so a committed state change always has its notifications.
type Event struct {
	ID         string
	MerchantID string
	Type       string
	PaymentID  *string
	// Data is the payment snapshot in canonical JSON (see CanonicalJSON).
	Data      string
	CreatedAt time.Time
}

// TableName pins the table name.
func (Event) TableName() string { return "events" }

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

// ISOTime formats t the way every Till API does: UTC, milliseconds, Z.
func ISOTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ISOTime(*t)
	return &s
}

// Snapshot returns the event/webhook view of p.
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

// emitPaymentEvent records that p (already in its new state) had event typ,
// inside tx, and queues the webhook deliveries it causes.
func (s *Store) emitPaymentEvent(tx *gorm.DB, p *Payment, typ string) error {
	data, err := CanonicalJSON(p.Snapshot())
	if err != nil {
		return fmt.Errorf("models: event payload: %w", err)
	}
	pid := p.ID
	ev := &Event{ID: uuid.NewString(), MerchantID: p.MerchantID, Type: typ, PaymentID: &pid, Data: string(data), CreatedAt: s.clock()}
	if err := tx.Create(ev).Error; err != nil {
		return fmt.Errorf("models: insert event: %w", err)
	}
	return s.enqueueDeliveries(tx, ev)
}

// EventsForPayment lists a payment's events, oldest first.
func (s *Store) EventsForPayment(ctx context.Context, paymentID string) ([]Event, error) {
	var evs []Event
	if err := s.db.R(ctx).Where("payment_id = ?", paymentID).Order("created_at, id").Find(&evs).Error; err != nil {
		return nil, fmt.Errorf("models: events: %w", err)
	}
	return evs, nil
}
