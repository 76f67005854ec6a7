package models

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"till/models/evm"
	"till/models/kaspa"
)

// PaymentStatus is where a payment session is in its life.
type PaymentStatus string

// Payment statuses: pending → confirming → confirmed; pending → expired;
// per-payment-address sessions can be underpaid. An expired session that
// receives its payment within the late window still becomes confirmed.
const (
	StatusPending    PaymentStatus = "pending"
	StatusConfirming PaymentStatus = "confirming"
	StatusConfirmed  PaymentStatus = "confirmed"
	StatusExpired    PaymentStatus = "expired"
	StatusUnderpaid  PaymentStatus = "underpaid"
)

// Valid reports whether s is a known status.
func (s PaymentStatus) Valid() bool {
	switch s {
	case StatusPending, StatusConfirming, StatusConfirmed, StatusExpired, StatusUnderpaid:
		return true
	}
	return false
}

// Final reports whether the status can no longer change by itself.
func (s PaymentStatus) Final() bool { return s == StatusConfirmed || s == StatusExpired }

// Payment is one checkout session: what one customer must pay, where, until
// when, and what the chain has shown so far.
type Payment struct {
	ID              string
	MerchantID      string
	LinkID          *string
	Chain           string
	Asset           string
	PayAddress      string
	DerivationIndex *int64
	AmountExpected  int64 // sompi
	AmountReceived  int64 // sompi
	PriceCurrency   Currency
	PriceAmount     int64 // base units of PriceCurrency
	Rate            string
	RateSource      string
	RateAt          *time.Time
	// USDCents is the session's value in US cents at the rate of its
	// creation: the price for USD links, the KAS amount at the then
	// current rate for KAS links (nil when no fresh rate was at hand).
	USDCents              *int64 `gorm:"column:usd_cents"`
	Status                PaymentStatus
	Late                  bool
	Confirmations         int64
	RequiredConfirmations int
	StartDaaScore         int64
	// StartBlock is, on EVM chains, the chain's head when the session
	// opened: only transfers in later blocks can pay it.
	StartBlock int64
	// TokenAddress is the token contract paid (EVM; "" for native KAS).
	TokenAddress string
	// SubmittedTxHash is a transaction the customer's wallet reported
	// (shown as "sent"; it never credits by itself), TxKnownAt when Till
	// first learned of a transaction for the session (that report or the
	// first credit: KiraPay's transaction createdAt), and Failure why the
	// reported transaction failed (it reverted), if it did.
	SubmittedTxHash string
	TxKnownAt       *time.Time
	Failure         string
	TxID            string
	SenderAddress   string
	CustomerEmail   string
	CustomerName    string
	Metadata        string
	Visitor         string
	ExpiresAt       time.Time
	DetectedAt      *time.Time
	ConfirmedAt     *time.Time
	ExpiredAt       *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName pins the table name.
func (Payment) TableName() string { return "payments" }

// PaymentURI is the wallet URI for the exact amount (QR codes, wallet
// links): a Kaspa URI on Kaspa, the EIP-681 USDC transfer request on an
// EVM chain ("" when the chain's ID is unknown to this process).
func (p *Payment) PaymentURI() string {
	if IsKaspa(p.Chain) {
		return kaspa.PaymentURI(p.PayAddress, p.AmountExpected)
	}
	id, ok := EVMChainID(p.Chain)
	token, err1 := evm.ParseAddress(p.TokenAddress, evm.Format)
	to, err2 := evm.ParseAddress(p.PayAddress, evm.Format)
	if !ok || err1 != nil || err2 != nil {
		return ""
	}
	return evm.PaymentURI(token, uint64(id), to, p.AmountExpected)
}

// ChainID is the EVM chain ID of the payment's chain (0 on Kaspa or when
// unknown).
func (p *Payment) ChainID() int64 {
	id, _ := EVMChainID(p.Chain)
	return id
}

// PayAddressHex is the pay-to address as shown: EIP-55 on EVM chains.
func (p *Payment) PayAddressHex() string {
	if IsKaspa(p.Chain) {
		return p.PayAddress
	}
	return evmHex(p.PayAddress)
}

// SenderHex is the payer's address as a wallet shows it: as stored for
// Kaspa, EIP-55 for EVM chains ("" when unknown).
func (p *Payment) SenderHex() string {
	if IsKaspa(p.Chain) {
		return p.SenderAddress
	}
	return evmHex(p.SenderAddress)
}

// TokenAddressHex is the token contract paid in EIP-55 form ("" for KAS).
func (p *Payment) TokenAddressHex() string { return evmHex(p.TokenAddress) }

// evmChainIDs maps enabled EVM chain names to their chain IDs; NewStore
// adds its StoreOptions.EVMChains, so presenters that see only a Payment
// (PaymentURI, ChainID) know them. Built-in chains are known by default.
var evmChainIDs sync.Map // string → int64

// registerEVMChains records the chain IDs of enabled chains.
func registerEVMChains(chains map[string]EVMChain) {
	for name, c := range chains {
		if c.ChainID > 0 {
			evmChainIDs.Store(name, c.ChainID)
		}
	}
}

// EVMChainID returns the chain ID of an EVM chain by name: an enabled
// chain's configured ID, else the built-in table's.
func EVMChainID(chain string) (int64, bool) {
	if v, ok := evmChainIDs.Load(chain); ok {
		return v.(int64), true
	}
	if c, ok := evm.Builtin(chain); ok {
		return int64(c.ChainID), true
	}
	return 0, false
}

// Quote is a KAS price: Rate is USD per KAS as an exact decimal string.
type Quote struct {
	Rate   string
	Source string
	At     time.Time
}

// RateSource gives the current KAS/USD price, or an error when no fresh,
// non-zero price is available (the domain then refuses to price in USD).
// Cached returns the last fresh price without fetching, so KAS-priced
// sessions can record their USD value without waiting on the network.
type RateSource interface {
	Quote(ctx context.Context) (Quote, error)
	Cached() (Quote, bool)
}

// CreatePaymentInput is what a customer (or the checkout page) sends.
type CreatePaymentInput struct {
	LinkSlug      string
	CustomerEmail string
	CustomerName  string
	// Metadata is a JSON object (or empty).
	Metadata json.RawMessage
	// Visitor identifies the browser for checkout resume ("" from the API).
	Visitor string
	// Amount is, on an open-amount USDC link only, the amount the customer
	// chose: decimal USDC text, at least 0.01 (the unique offset is added
	// to it). "" on every other link.
	Amount string
}

// Bounds on session input.
const (
	MaxMetadataBytes   = 4096
	MaxCustomerNameLen = 200
	// uniqueOffsetRange is how many sompi may be added to make an amount
	// unique on a shared address: at most 0.00099999 KAS.
	uniqueOffsetRange = 99_999
)

// Payment sessions never price below this many minutes or above a week.
const defaultRequiredConfirmations = 100

// CreatePayment opens a payment session for the link with in.LinkSlug.
func (s *Store) CreatePayment(ctx context.Context, in CreatePaymentInput) (*Payment, error) {
	var v ValidationErrors
	email := NormalizeEmail(in.CustomerEmail)
	if email != "" {
		v.add(validateEmail("customerEmail", email))
	}
	name := strings.TrimSpace(in.CustomerName)
	v.add(validateText("customerName", "customerName", name, false, MaxCustomerNameLen))
	meta, err := normalizeMetadata(in.Metadata)
	v.add(err)
	if strings.TrimSpace(in.LinkSlug) == "" {
		v.add(Invalid("paymentLinkSlug", "paymentLinkSlug is required"))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	src, err := s.sessionSource(ctx, strings.TrimSpace(in.LinkSlug))
	if err != nil {
		return nil, err
	}
	link, m := &src.link, &src.merchant
	customerAmount, err := openAmount(link, in.Amount)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if err := s.checkLinkOpen(link, now); err != nil {
		return nil, err
	}
	params := ParamsOf(link.Chain)
	p := &Payment{
		ID: s.paymentID(), MerchantID: m.ID, LinkID: &link.ID, Chain: params.Chain, Asset: string(params.Asset),
		PriceCurrency: link.Currency, PriceAmount: link.Amount, Status: StatusPending,
		RequiredConfirmations: m.RequiredConfirmations, CustomerEmail: email, CustomerName: name,
		Metadata: meta, Visitor: in.Visitor, CreatedAt: now, UpdatedAt: now,
	}
	minutes := link.EffectiveExpiryMinutes(m.PaymentExpiry)
	p.ExpiresAt = now.Add(time.Duration(minutes) * time.Minute)
	if params.Asset == USDC {
		if link.OpenAmount() {
			p.PriceAmount = customerAmount
		}
		return p, s.createUSDCPayment(ctx, src, params, p)
	}
	if m.KaspaKpub == "" && m.KaspaAddress == "" && link.Receiver == "" {
		return nil, &StateError{Reason: ErrNoPayoutAddress, Message: "This merchant has not set up a payout address yet"}
	}
	if p.RequiredConfirmations <= 0 {
		p.RequiredConfirmations = defaultRequiredConfirmations
	}

	switch link.Currency {
	case KAS:
		p.AmountExpected = link.Amount
		if s.rates != nil {
			if q, ok := s.rates.Cached(); ok {
				at := q.At.UTC().Truncate(time.Microsecond)
				p.Rate, p.RateSource, p.RateAt = q.Rate, q.Source, &at
			}
		}
	case USD:
		if s.rates == nil {
			return nil, &UnavailableError{Message: "Unable to fetch KAS/USD price for conversion"}
		}
		q, err := s.rates.Quote(ctx)
		if err != nil {
			return nil, &UnavailableError{Message: "Unable to fetch KAS/USD price for conversion"}
		}
		sompi, err := ConvertUSDToSompi(link.Amount, q.Rate)
		if err != nil {
			return nil, &UnavailableError{Message: "Unable to fetch KAS/USD price for conversion"}
		}
		at := q.At.UTC().Truncate(time.Microsecond)
		p.AmountExpected, p.Rate, p.RateSource, p.RateAt = sompi, q.Rate, q.Source, &at
	default:
		return nil, &StateError{Reason: ErrCurrencyMismatch, Message: "This link's currency cannot be paid in KAS"}
	}
	if p.AmountExpected < params.MinPayable {
		return nil, belowMinimum(p)
	}
	switch {
	case p.PriceCurrency == USD:
		cents := p.PriceAmount
		p.USDCents = &cents
	case p.Rate != "":
		if cents, err := SompiToUSDCents(link.Amount, p.Rate); err == nil {
			p.USDCents = &cents
		}
	}
	p.StartDaaScore = src.daaScore
	switch {
	case link.Receiver != "":
		// The link names its own pay-to address: shared, by unique amount.
		p.PayAddress = link.Receiver
	case m.KaspaKpub != "":
		return p, s.insertDerivedPayment(ctx, m, p)
	default:
		p.PayAddress = m.KaspaAddress
	}
	return p, s.insertUniqueAmountPayment(ctx, p, s.offsetRangeOf(params))
}

// createUSDCPayment opens a session paying USDC on an EVM chain: the link's
// receiver (else the merchant's EVM address) receives the price plus a
// unique offset of 1…9,999 micro-USDC, and only transfers in blocks after
// the chain's last observed head can pay it.
func (s *Store) createUSDCPayment(ctx context.Context, src *sessionSource, params ChainParams, p *Payment) error {
	link, m := &src.link, &src.merchant
	ch, ok := s.evm[params.Chain]
	if !ok {
		return &StateError{Reason: ErrChainDisabled, Message: "This link's network (" + params.Chain + ") is not enabled on this server"}
	}
	p.PayAddress = strings.ToLower(link.Receiver)
	if p.PayAddress == "" {
		p.PayAddress = m.EVMAddress
	}
	if p.PayAddress == "" {
		return &StateError{Reason: ErrNoPayoutAddress, Message: "This merchant has not set up a payout address yet"}
	}
	if link.Currency != USDC {
		return &StateError{Reason: ErrCurrencyMismatch, Message: "This link's currency cannot be paid in USDC"}
	}
	p.TokenAddress = ch.USDC
	p.RequiredConfirmations = ch.Confirmations
	if p.RequiredConfirmations <= 0 {
		p.RequiredConfirmations = defaultEVMConfirmations
	}
	p.AmountExpected = p.PriceAmount // the link's price, or the customer's amount
	if p.AmountExpected < params.MinPayable {
		return belowMinimum(p)
	}
	// One USDC is valued at one US dollar; cents rounded half up.
	cents := (p.AmountExpected + 5_000) / 10_000
	p.USDCents = &cents
	p.StartBlock = max(src.head, src.cursor)
	return s.insertUniqueAmountPayment(ctx, p, s.offsetRangeOf(params))
}

// Bounds on an open-amount link's customer amount (micro-USDC).
const maxCustomerMicroUSDC = maxLinkMicroUSDC

// openAmount validates the customer's amount against the link: required
// (≥ 0.01 USDC, ≤ 6 decimals) on an open-amount link, refused on others.
func openAmount(link *PaymentLink, text string) (int64, error) {
	text = strings.TrimSpace(text)
	if !link.OpenAmount() {
		if text != "" {
			return 0, Invalid("amount", "amount can only be given for an open-amount link; this link has a fixed price")
		}
		return 0, nil
	}
	if text == "" {
		return 0, Invalid("amount", "amount is required: this link lets the customer choose the amount (at least 0.01 USDC)")
	}
	units, err := evm.ParseUSDC(text)
	switch {
	case err != nil:
		return 0, Invalid("amount", "amount: %s", strings.TrimPrefix(err.Error(), evm.ErrInvalidAmount.Error()+": "))
	case units < MinPayableMicroUSDC:
		return 0, Invalid("amount", "amount must be at least 0.01 USDC")
	case units > maxCustomerMicroUSDC:
		return 0, Invalid("amount", "amount is too large (at most %s USDC)", FormatAsset(maxCustomerMicroUSDC, USDC))
	}
	return units, nil
}

// offsetRangeOf is the unique-offset range of a chain's sessions, narrowed
// by StoreOptions.UniqueOffsetRange when set.
func (s *Store) offsetRangeOf(params ChainParams) int64 {
	if s.offsetRange > 0 && s.offsetRange < params.OffsetRange {
		return s.offsetRange
	}
	return params.OffsetRange
}

// checkLinkOpen refuses drafts, inactive and expired links, all with the
// KasPay document's 400. An inactive link answers as an expired one does
// ("Payment link has expired"), a draft says it is not active yet; the
// Reason tells the checkout page which explanation to show.
func (s *Store) checkLinkOpen(l *PaymentLink, now time.Time) error {
	switch {
	case l.Status == LinkDraft:
		return &StateError{Reason: ErrLinkNotActive, Message: "Payment link is not active"}
	case l.Status != LinkActive:
		return &StateError{Reason: ErrLinkClosed, Message: MsgLinkExpired}
	case l.Expired(now):
		return &StateError{Reason: ErrLinkExpired, Message: MsgLinkExpired}
	}
	return nil
}

// MsgLinkExpired is the KasPay document's answer for a link that takes no
// more payments.
const MsgLinkExpired = "Payment link has expired"

// belowMinimum explains why a session was refused because its KAS amount is
// under MinPayableSompi: an input problem (400), not a conflict, and shown
// on the checkout form as a form-level message.
func belowMinimum(p *Payment) error {
	if p.AssetOf() == USDC {
		return &ValidationError{Reason: ErrBelowMinimum, Message: "This link's amount is below the payable minimum of 0.01 USDC"}
	}
	msg := "This link's amount is below the payable minimum of 0.2 KAS"
	if p.PriceCurrency == USD {
		msg = fmt.Sprintf("This link's price of %s USD is %s KAS at the current rate (%s USD per KAS), "+
			"below the payable minimum of 0.2 KAS", FormatUnits(p.PriceAmount, USD.Decimals(), 2),
			kaspa.FormatKAS(p.AmountExpected), p.Rate)
	}
	return &ValidationError{Reason: ErrBelowMinimum, Message: msg}
}

// insertUniqueAmountPayment adds a random number of base units (1…offsets:
// 99,999 sompi on Kaspa, 9,999 micro-USDC on EVM chains) to the price so
// that no two open sessions on one address of one chain share an amount: a
// credit of that exact amount can then only mean this session. The partial
// unique index settles races between concurrent creators; expired sessions
// still inside the late window are checked too, since they can still match,
// in the insert statement itself (insertUniqueAmount): one statement per try.
// Each retry also takes a new id: the clash may have been on the id's unique
// indexes (the primary key, payments_short_id_key).
func (s *Store) insertUniqueAmountPayment(ctx context.Context, p *Payment, offsets int64) error {
	base := p.AmountExpected
	lateCutoff := s.clock().Add(-s.lateWindow)
	for attempt := 0; attempt < 50; attempt++ {
		if attempt > 0 {
			p.ID = s.paymentID() // the clash may have been the id's
		}
		n, _ := rand.Int(rand.Reader, big.NewInt(offsets))
		p.AmountExpected = base + 1 + n.Int64()
		inserted, err := s.insertUniqueAmount(ctx, p, lateCutoff)
		if inserted {
			return nil
		}
		if err != nil && !isUniqueViolation(err) {
			return fmt.Errorf("models: create payment: %w", err)
		}
	}
	return &UnavailableError{Message: "Too many open payments on this address right now; try again shortly"}
}

// insertDerivedPayment gives the session the merchant's next receive address
// kpub/0/i. The index comes from the merchant's counter, reserved together
// with the other sessions of the merchant waiting at that moment
// (kpubreserve.go), so concurrent sessions never share an address and the
// merchant's row is locked once per batch. The address is derived from the
// kpub the reservation read with the index, not the cached m.KaspaKpub: a
// kpub change in between (the counter back at 0) cannot pair the new
// wallet's index with the old wallet's key. An index whose address is still
// watched is skipped by the conditional insert (a gap, as an unpaid session
// leaves); so is one whose insert clashed on the id's unique indexes, which
// is then retried with a new id.
func (s *Store) insertDerivedPayment(ctx context.Context, m *Merchant, p *Payment) error {
	// A key that does not parse costs no index (it is cached: one lookup).
	if _, err := s.extendedKey(m.KaspaKpub); err != nil {
		return &StateError{Reason: ErrKeyUnusable, Message: "The merchant's extended public key is not usable: " + err.Error()}
	}
	lateCutoff := s.clock().Add(-s.lateWindow)
	// Skip indexes whose address still belongs to a watched session (after
	// a kpub change back to an earlier wallet, say).
	for attempt := 0; attempt < 1000; attempt++ {
		if attempt > 0 {
			p.ID = s.paymentID() // the clash may have been the id's
		}
		inserted, err := s.insertAtNextIndex(ctx, m.ID, p, lateCutoff)
		if err != nil || inserted {
			return err
		}
	}
	p.DerivationIndex, p.PayAddress = nil, ""
	return &UnavailableError{Message: "No free payment address could be derived"}
}

// insertAtNextIndex inserts p at the merchant's next index: false without
// an error when that index is to be skipped. On SQLite the index is
// reserved, its address derived and p inserted in one writer transaction
// (the group commit's); on Postgres the index is reserved first, then p's
// insert is queued.
func (s *Store) insertAtNextIndex(ctx context.Context, merchantID string, p *Payment, lateCutoff time.Time) (bool, error) {
	if s.db.stmts != nil {
		args := append(p.insertArgs(), p.PayAddress, p.Chain, lateCutoff)
		return s.commits.execKpubInsert(ctx, merchantID, p, args)
	}
	idx, kpub, err := s.reserveIndex(ctx, merchantID)
	if err != nil {
		return false, err
	}
	return s.insertAtIndex(ctx, p, idx, kpub, lateCutoff)
}

// insertAtIndex derives the address at idx of kpub, the reservation's,
// and inserts p there: false without an error when the index is to be
// skipped (unusable, or its address still watched).
func (s *Store) insertAtIndex(ctx context.Context, p *Payment, idx int64, kpub string, lateCutoff time.Time) (bool, error) {
	addr, err := s.addressAt(kpub, idx)
	if errors.Is(err, errSkipIndex) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.DerivationIndex = &idx
	p.PayAddress = addr
	return insertedAtIndex(s.insertOnFreeAddress(ctx, p, lateCutoff))
}

// insertedAtIndex is a kpub session insert's outcome for the caller: a
// clash on the id is "not inserted" (retried with a new id).
func insertedAtIndex(inserted bool, err error) (bool, error) {
	if err != nil && !isUniqueViolation(err) {
		return false, fmt.Errorf("models: create payment: %w", err)
	}
	return inserted, nil
}

// addressAt is the receive address at idx of kpub, the reservation's, or
// why the session cannot have it: errSkipIndex for an index without a key.
func (s *Store) addressAt(kpub string, idx int64) (string, error) {
	if kpub == "" {
		// The merchant went back to a single address meanwhile.
		return "", &UnavailableError{Message: "The merchant's payout settings changed; try again"}
	}
	if idx < 0 || idx > math.MaxUint32 {
		// A wrapped index would hand out an address already used.
		return "", fmt.Errorf("models: receive address index %d out of range", idx)
	}
	key, err := s.extendedKey(kpub)
	if err != nil {
		return "", &StateError{Reason: ErrKeyUnusable, Message: "The merchant's extended public key is not usable: " + err.Error()}
	}
	addr, err := key.ReceiveAddress(uint32(idx))
	if errors.Is(err, kaspa.ErrUnusableIndex) {
		return "", errSkipIndex
	}
	if err != nil {
		return "", &StateError{Reason: ErrKeyUnusable, Message: "Cannot derive a payment address: " + err.Error()}
	}
	return addr.String(), nil
}

// extendedKey parses a merchant's kpub once and keeps it: parsing and the
// /0 branch derivation cost more than deriving one address.
func (s *Store) extendedKey(kpub string) (*kaspa.ExtendedPublicKey, error) {
	if k, ok := s.kpubs.Load(kpub); ok {
		return k.(*kaspa.ExtendedPublicKey), nil
	}
	k, err := kaspa.ParseExtendedPublicKey(kpub, s.network)
	if err != nil {
		return nil, err
	}
	s.kpubs.Store(kpub, k)
	return k, nil
}

// normalizeMetadata checks that raw is a JSON object within the size bound
// and returns its canonical form ("{}" when empty).
func normalizeMetadata(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "{}", nil
	}
	if len(raw) > MaxMetadataBytes {
		return "", Invalid("metadata", "metadata must be at most %d bytes of JSON", MaxMetadataBytes)
	}
	// Parsed into an ordered tree, not a map: the stored text is exactly what
	// JSON.stringify(JSON.parse(raw)) gives, the customer's key order included.
	out, err := canonicalObject(raw)
	if err != nil {
		return "", Invalid("metadata", "metadata must be a JSON object")
	}
	if len(out) > MaxMetadataBytes {
		return "", Invalid("metadata", "metadata must be at most %d bytes of JSON", MaxMetadataBytes)
	}
	return string(out), nil
}

// Payment returns the payment with id, whoever owns it: only for public
// status reads and workers. Merchants use MerchantPayment.
// The status polls read it: it is cached (see Changes) and the caller gets
// its own copy.
func (s *Store) Payment(ctx context.Context, id string) (*Payment, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, &NotFoundError{What: "Payment"}
	}
	p, err := s.caches.payments.get(id, func() (Payment, error) { return s.loadPayment(ctx, id) })
	if err != nil {
		return nil, err
	}
	return p.clone(), nil
}

// loadPayment reads the payment with id from the database (no cache).
func (s *Store) loadPayment(ctx context.Context, id string) (Payment, error) {
	var p Payment
	err := s.db.R(ctx).Where("id = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return p, &NotFoundError{What: "Payment"}
	}
	if err != nil {
		return p, fmt.Errorf("models: payment %s: %w", id, err)
	}
	return p, nil
}

// MerchantPayment returns the merchant's payment with id.
func (s *Store) MerchantPayment(ctx context.Context, merchantID, id string) (*Payment, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, &NotFoundError{What: "Payment"}
	}
	return findOwned[Payment](ctx, s.db.read, merchantID, id, "Payment")
}
