package models

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"till/models/evm"
)

// LinkStatus is the publication state a merchant sets on a link.
type LinkStatus string

// Link statuses. Expiry is not a stored status: a link whose ExpiresAt has
// passed is expired whatever its status says.
const (
	LinkDraft    LinkStatus = "draft"
	LinkActive   LinkStatus = "active"
	LinkInactive LinkStatus = "inactive"
)

// Valid reports whether s is a known link status.
func (s LinkStatus) Valid() bool { return s == LinkDraft || s == LinkActive || s == LinkInactive }

// PaymentLink is a reusable checkout: a fixed amount in KAS or USD (paid in
// KAS), or in USDC on one EVM chain, that any number of customers can pay,
// each in their own payment session. A USDC link names its Chain and its
// Receiver (lower-case hex) and its slug is a 10-character random code; a
// USDC price of 0 is an open amount (the customer enters it).
type PaymentLink struct {
	ID          string
	MerchantID  string
	Slug        string
	Title       string
	Description string
	Currency    Currency
	Amount      int64 // base units of Currency
	Chain       string
	Receiver    string
	// ReceiverGiven is the receiver as the creator typed it ("" when it
	// came from the merchant's settings): the KiraPay API echoes it, and a
	// mixed-case one whose EIP-55 checksum fails is flagged.
	ReceiverGiven  string
	ExpiryMinutes  *int
	Status         LinkStatus
	SuccessMessage string
	RedirectURL    string
	// APIKeyID is the API key that created the link (nil: dashboard/JWT).
	APIKeyID  *string
	ExpiresAt *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName pins the table name.
func (PaymentLink) TableName() string { return "payment_links" }

// Expired reports whether the link's own lifetime has ended at now.
func (l *PaymentLink) Expired(now time.Time) bool {
	return l.ExpiresAt != nil && !now.Before(*l.ExpiresAt)
}

// EffectiveExpiryMinutes is the payment window a session opened on l gets:
// the link's own value, or the merchant's default.
func (l *PaymentLink) EffectiveExpiryMinutes(merchantDefault int) int {
	if l.ExpiryMinutes != nil {
		return *l.ExpiryMinutes
	}
	return merchantDefault
}

// BelowMinimum reports whether a USD link's price is, at the current rate,
// less than the payable minimum (MinPayableSompi): sessions on it would be
// refused, so the link builder warns.
func (p *LinkPreview) BelowMinimum() bool {
	return p.Link.Currency == USD && p.ApproxSompi > 0 && p.ApproxSompi < MinPayableSompi
}

// EffectiveStatus is what the dashboard shows: draft and inactive win, then
// expiry, then active.
func (l *PaymentLink) EffectiveStatus(now time.Time) string {
	if l.Status == LinkActive && l.Expired(now) {
		return "expired"
	}
	return string(l.Status)
}

// Bounds on link input.
const (
	MaxTitleLen          = 200
	MaxDescriptionLen    = 2000
	MaxSuccessMessageLen = 1000
	MaxURLLen            = 2048
	MinLinkExpiryMinutes = 1
	MaxLinkExpiryMinutes = 10080 // payment window of one session: a week
	MaxLinkLifetime      = 5 * 366 * 24 * 60
	maxLinkKAS           = 1_000_000_000 * SompiPerKAS // a billion KAS
	maxLinkUSDCents      = 100_000_000_00              // a hundred million dollars
	maxLinkMicroUSDC     = 1_000_000_000 * 1_000_000   // a billion USDC (the KiraPay API's bound)
	// LinkCodeLen is the length of a USDC link's code ([a-z0-9]).
	LinkCodeLen = 10
)

// OpenAmount reports whether the link lets the customer choose the amount
// (a USDC link priced 0).
func (l *PaymentLink) OpenAmount() bool { return l.Currency == USDC && l.Amount == 0 }

// ReceiverHex is the link's USDC receiver in EIP-55 form ("" for none).
func (l *PaymentLink) ReceiverHex() string { return evmHex(l.Receiver) }

// ReceiverShown is the receiver as given at creation, else its EIP-55 form.
func (l *PaymentLink) ReceiverShown() string {
	if l.ReceiverGiven != "" {
		return l.ReceiverGiven
	}
	return l.ReceiverHex()
}

// ReceiverChecksumMismatch reports whether the receiver was given in mixed
// case that is not its EIP-55 checksum (accepted by the KiraPay API, whose
// own example is such an address, but possibly mistyped). All-lower and
// all-upper hex carry no checksum and never mismatch.
func (l *PaymentLink) ReceiverChecksumMismatch() bool {
	if l.ReceiverGiven == "" {
		return false
	}
	_, err := evm.ParseAddress(l.ReceiverGiven, evm.Strict)
	return errors.Is(err, evm.ErrChecksum)
}

// evmHex shows a stored lower-case EVM address in EIP-55 form.
func evmHex(lower string) string {
	if lower == "" {
		return ""
	}
	a, err := evm.ParseAddress(lower, evm.Format)
	if err != nil {
		return lower
	}
	return a.Hex()
}

// EVMChainNames lists the enabled EVM chains by name (the link builder's
// choices): the default chain first, then the others sorted.
func (s *Store) EVMChainNames() []string {
	names := make([]string, 0, len(s.evm))
	for n := range s.evm {
		if n != s.defaultEVM {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if s.defaultEVM != "" {
		names = append([]string{s.defaultEVM}, names...)
	}
	return names
}

// USDCContract is the configured USDC contract of an enabled EVM chain in
// EIP-55 form ("" for a chain not enabled).
func (s *Store) USDCContract(chain string) string { return evmHex(s.evm[chain].USDC) }

// EVMChainEnabled reports whether chain is an enabled EVM chain.
func (s *Store) EVMChainEnabled(chain string) bool {
	_, ok := s.evm[chain]
	return ok
}

// LinkInput carries link fields from either API or page. Nil means "not
// given": on create the default applies, on update the field stays.
type LinkInput struct {
	Title          *string
	Description    *string
	Amount         *string // decimal text, as sent
	Currency       *string
	ExpiryMinutes  **int // set to a nil *int to clear (use the merchant default)
	Status         *string
	SuccessMessage *string
	RedirectURL    *string
	// LinkExpiresIn is the link's lifetime in minutes from now; a pointer to
	// 0 or to nil means it never expires.
	LinkExpiresIn **int
	// Chain is a USDC link's EVM chain (an enabled one); Receiver its
	// pay-to address, strict EIP-55 ("" means the merchant's EVM address).
	Chain    *string
	Receiver *string
	// ReceiverAnyCase takes the receiver on its format alone (the KiraPay
	// API): a mixed-case address with a wrong EIP-55 checksum is accepted
	// and flagged (ReceiverChecksumMismatch) instead of refused.
	ReceiverAnyCase bool
	// APIKeyID is the API key creating the link (nil: dashboard or JWT);
	// create only.
	APIKeyID *string
	// EdgeErrors are the field errors the request's decoder already found
	// (a field of the wrong JSON type, a required one missing): they are
	// reported with the domain's own, in place of any on the same field,
	// so a dialect can answer the first in its own order.
	EdgeErrors ValidationErrors
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// CreateLink validates in and creates a link for merchantID.
func (s *Store) CreateLink(ctx context.Context, merchantID string, in LinkInput) (*PaymentLink, error) {
	now := s.clock()
	l, in := newLink(merchantID, in, now)
	l.APIKeyID = in.APIKeyID
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if err := s.applyLinkInput(l, in, now, m); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if l.Currency == USDC {
			l.Slug = makeCode()
		} else {
			l.Slug = makeSlug(l.Title)
		}
		err := s.db.W(ctx).Create(l).Error
		if err == nil {
			return l, nil
		}
		if !isUniqueViolation(err) || attempt >= 5 {
			return nil, fmt.Errorf("models: create link: %w", err)
		}
	}
}

// newLink returns a link with the creation defaults (KAS, active) and in
// with its required fields marked as given, so that missing ones are
// reported as required rather than silently kept.
func newLink(merchantID string, in LinkInput, now time.Time) (*PaymentLink, LinkInput) {
	l := &PaymentLink{ID: uuid.NewString(), MerchantID: merchantID, Chain: chainKaspa, Currency: KAS, Status: LinkActive, CreatedAt: now, UpdatedAt: now}
	empty := ""
	if in.Title == nil {
		in.Title = &empty
	}
	if in.Amount == nil {
		in.Amount = &empty
	}
	return l, in
}

// UpdateLink validates in and applies it to the merchant's link; any invalid
// field leaves the link unchanged.
func (s *Store) UpdateLink(ctx context.Context, merchantID, id string, in LinkInput) (*PaymentLink, error) {
	l, err := s.Link(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	if in.empty() {
		return nil, Invalid("", "No fields to update")
	}
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if err := s.applyLinkInput(l, in, now, m); err != nil {
		return nil, err
	}
	l.UpdatedAt = now
	res := s.db.W(ctx).Model(&PaymentLink{}).Scopes(ownedBy(merchantID)).Where("id = ?", id).Updates(map[string]any{
		"title": l.Title, "description": l.Description, "currency": l.Currency, "amount": l.Amount,
		"expiry_minutes": l.ExpiryMinutes, "status": l.Status, "success_message": l.SuccessMessage,
		"redirect_url": l.RedirectURL, "expires_at": l.ExpiresAt, "updated_at": l.UpdatedAt,
		"chain": l.Chain, "receiver": l.Receiver, "receiver_given": l.ReceiverGiven,
	})
	if res.Error != nil {
		return nil, fmt.Errorf("models: update link: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, &NotFoundError{What: "Payment link"}
	}
	return l, nil
}

// empty reports whether in sets no field.
func (in LinkInput) empty() bool {
	return in.Title == nil && in.Description == nil && in.Amount == nil && in.Currency == nil &&
		in.ExpiryMinutes == nil && in.Status == nil && in.SuccessMessage == nil && in.RedirectURL == nil &&
		in.LinkExpiresIn == nil && in.Chain == nil && in.Receiver == nil && len(in.EdgeErrors) == 0
}

// applyLinkInput validates every given field against l's resulting state and
// copies them in; on error l may be partly changed and must be discarded.
// m is the link's merchant (its EVM address is a USDC link's default
// receiver).
func (s *Store) applyLinkInput(l *PaymentLink, in LinkInput, now time.Time, m *Merchant) error {
	var v ValidationErrors
	if in.Title != nil {
		t := strings.TrimSpace(*in.Title)
		v.add(validateText("title", "Title", t, true, MaxTitleLen))
		l.Title = t
	}
	if in.Description != nil {
		d := strings.TrimSpace(*in.Description)
		v.add(validateMultiline("description", "Description", d, MaxDescriptionLen))
		l.Description = d
	}
	if in.Currency != nil {
		c := Currency(strings.ToUpper(strings.TrimSpace(*in.Currency)))
		switch {
		case c == USDC && len(s.evm) == 0:
			// USDC with no EVM chain enabled: the chain is what is missing
			// (the KasPay document's message).
			v.add(Invalid("chain", "currency must be KAS or USD"))
			l.Currency = c
		case !c.Valid() && len(s.evm) == 0:
			v.add(Invalid("currency", "currency must be KAS or USD")) // the KasPay document's message
		case !c.Valid():
			v.add(Invalid("currency", "currency must be KAS, USD or USDC"))
		case l.Slug != "" && (c == USDC) != (l.Currency == USDC):
			// A link's code and sessions belong to one chain family.
			v.add(Invalid("currency", "A link's currency cannot change between USDC and KAS/USD; create a new link instead"))
		default:
			l.Currency = c
		}
	}
	s.applyLinkChain(&v, l, in, m)
	if in.Amount != nil || in.Currency != nil {
		text := str(in.Amount)
		if in.Amount == nil { // currency changed alone: re-check the stored amount
			text = FormatUnits(l.Amount, l.Currency.Decimals(), 0)
		}
		v.add(validateLinkAmount(text, l))
	}
	if in.ExpiryMinutes != nil {
		l.ExpiryMinutes = *in.ExpiryMinutes
		if m := l.ExpiryMinutes; m != nil && (*m < MinLinkExpiryMinutes || *m > MaxLinkExpiryMinutes) {
			v.add(Invalid("expiryMinutes", "expiryMinutes must be between %d and %d minutes", MinLinkExpiryMinutes, MaxLinkExpiryMinutes))
		}
	}
	if in.Status != nil {
		st := LinkStatus(strings.TrimSpace(*in.Status))
		if !st.Valid() {
			v.add(Invalid("status", "status must be one of draft, active, inactive"))
		} else {
			l.Status = st
		}
	}
	if in.SuccessMessage != nil {
		m := strings.TrimSpace(*in.SuccessMessage)
		v.add(validateMultiline("successMessage", "Success message", m, MaxSuccessMessageLen))
		l.SuccessMessage = m
	}
	if in.RedirectURL != nil {
		u := strings.TrimSpace(*in.RedirectURL)
		v.add(validateRedirectURL("redirectUrl", u))
		l.RedirectURL = u
	}
	if in.LinkExpiresIn != nil {
		l.ExpiresAt = nil
		if m := *in.LinkExpiresIn; m != nil && *m != 0 {
			if *m < 0 || *m > MaxLinkLifetime {
				v.add(Invalid("linkExpiresIn", "linkExpiresIn must be between 0 (never) and %d minutes", MaxLinkLifetime))
			} else {
				t := now.Add(time.Duration(*m) * time.Minute)
				l.ExpiresAt = &t
			}
		}
	}
	return v.merge(in.EdgeErrors).err()
}

// applyLinkChain sets a USDC link's chain and receiver (and a KAS/USD
// link's chain to Kaspa), refusing a chain that is not enabled, a receiver
// that fails strict EIP-55 and a USDC link with no receiver at all.
func (s *Store) applyLinkChain(v *ValidationErrors, l *PaymentLink, in LinkInput, m *Merchant) {
	if l.Currency != USDC {
		if in.Chain != nil && strings.TrimSpace(*in.Chain) != "" && !IsKaspa(strings.TrimSpace(*in.Chain)) {
			v.add(Invalid("chain", "chain applies to USDC links only"))
		}
		if in.Receiver != nil && strings.TrimSpace(*in.Receiver) != "" {
			v.add(Invalid("receiver", "receiver applies to USDC links only"))
		}
		l.Chain, l.Receiver, l.ReceiverGiven = chainKaspa, "", ""
		return
	}
	if in.Chain != nil || IsKaspa(l.Chain) {
		name := strings.ToLower(strings.TrimSpace(str(in.Chain)))
		if name == "" {
			name = s.defaultEVM // TILL_EVM_DEFAULT_CHAIN, when set
		}
		switch {
		case name == "":
			v.add(Invalid("chain", "chain is required for USDC links (one of: %s)", s.enabledChainList()))
		case !s.EVMChainEnabled(name):
			v.add(Invalid("chain", "chain %q is not enabled on this server (enabled: %s)", name, s.enabledChainList()))
		default:
			l.Chain = name
		}
	}
	if in.Receiver != nil || l.Receiver == "" {
		r := strings.TrimSpace(str(in.Receiver))
		switch {
		case r != "":
			level := evm.Strict
			if in.ReceiverAnyCase {
				level = evm.Format
			}
			a, err := evm.ParseAddress(r, level)
			if err != nil {
				v.add(Invalid("receiver", "Invalid receiver address: %s", evmReason(err)))
			} else {
				l.Receiver, l.ReceiverGiven = a.Lower(), r
			}
		case m != nil && m.EVMAddress != "":
			l.Receiver, l.ReceiverGiven = m.EVMAddress, ""
		default:
			v.add(Invalid("receiver", "receiver is required: set your EVM address in settings or give the link a receiver"))
		}
	}
}

// evmReason is an evm package error without its "invalid EVM address: "
// prefix, for messages that name the field themselves.
func evmReason(err error) string {
	return strings.TrimPrefix(err.Error(), evm.ErrInvalidAddress.Error()+": ")
}

// enabledChainList names the enabled EVM chains for messages.
func (s *Store) enabledChainList() string {
	if len(s.evm) == 0 {
		return "none"
	}
	return strings.Join(s.EVMChainNames(), ", ")
}

func validateLinkAmount(text string, l *PaymentLink) error {
	if l.Currency == USDC {
		return validateUSDCLinkAmount(text, l)
	}
	max := int64(maxLinkKAS)
	if l.Currency == USD {
		max = maxLinkUSDCents
	}
	if strings.TrimSpace(text) == "" {
		return InvalidAs("amount", ErrRequired, "amount is required")
	}
	units, err := ParseAmount(text, l.Currency, max)
	if err != nil {
		return Invalid("amount", "%s", err.Error())
	}
	if l.Currency == KAS && units < MinPayableSompi {
		return Invalid("amount", "amount must be at least 0.2 KAS: smaller payments cannot be sent from standard Kaspa wallets")
	}
	l.Amount = units
	return nil
}

// validateUSDCLinkAmount reads a USDC price exactly: 0 is an open amount,
// anything else is at least the payable minimum (0.01 USDC).
func validateUSDCLinkAmount(text string, l *PaymentLink) error {
	if strings.TrimSpace(text) == "" {
		return InvalidAs("amount", ErrRequired, "amount is required (0 lets the customer choose it)")
	}
	units, err := evm.ParseUSDC(text)
	switch {
	case err != nil:
		return Invalid("amount", "amount: %s", strings.TrimPrefix(err.Error(), evm.ErrInvalidAmount.Error()+": "))
	case units > maxLinkMicroUSDC:
		return Invalid("amount", "amount is too large (at most %s USDC)", FormatAsset(maxLinkMicroUSDC, USDC))
	case units != 0 && units < MinPayableMicroUSDC:
		return Invalid("amount", "amount must be 0 (open amount) or at least 0.01 USDC")
	}
	l.Amount = units
	return nil
}

func validateRedirectURL(field, u string) error {
	if u == "" {
		return nil
	}
	if len(u) > MaxURLLen {
		return Invalid(field, "redirectUrl must be at most %d characters", MaxURLLen)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
		return Invalid(field, "redirectUrl must be an absolute http or https URL")
	}
	return nil
}

// Link returns the merchant's link with id.
func (s *Store) Link(ctx context.Context, merchantID, id string) (*PaymentLink, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, &NotFoundError{What: "Payment link"}
	}
	return findOwned[PaymentLink](ctx, s.db.read, merchantID, id, "Payment link")
}

// LinkBySlug returns the link with slug, whoever owns it (checkout is public).
func (s *Store) LinkBySlug(ctx context.Context, slug string) (*PaymentLink, error) {
	var l PaymentLink
	err := s.db.R(ctx).Where("slug = ?", slug).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{What: "Payment link"}
	}
	if err != nil {
		return nil, fmt.Errorf("models: link by slug: %w", err)
	}
	return &l, nil
}

// Links returns the merchant's links, newest first.
func (s *Store) Links(ctx context.Context, merchantID string) ([]PaymentLink, error) {
	return listOwned[PaymentLink](ctx, s.db.read, merchantID, func(db *gorm.DB) *gorm.DB {
		return db.Order("created_at DESC, id DESC")
	})
}

var slugUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// makeSlug builds "premium-plan-k3x9qa" from a title: lower-case ASCII words
// and a random suffix, so slugs are readable and not guessable.
func makeSlug(title string) string {
	base := strings.Trim(slugUnsafe.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	if base == "" {
		base = "pay"
	}
	return base + "-" + randomCode(6)
}

// makeCode is a USDC link's code: LinkCodeLen random characters [a-z0-9].
func makeCode() string { return randomCode(LinkCodeLen) }

func randomCode(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// LinkByShortID returns the merchant's link whose KiraPay _id is short; a
// malformed _id or another merchant's link is the same NotFoundError.
func (s *Store) LinkByShortID(ctx context.Context, merchantID, short string) (*PaymentLink, error) {
	return findOwnedByShortID[PaymentLink](ctx, s.db.read, merchantID, short, "Link")
}

// USDCLinksPage is one page of the merchant's USDC links, newest first,
// and how many there are (the KiraPay links list): one indexed count and
// one page query. page and limit are ≥ 1; a page past the end is empty.
func (s *Store) USDCLinksPage(ctx context.Context, merchantID string, page, limit int) ([]PaymentLink, int64, error) {
	db := s.db.R(ctx)
	usdc := func(q *gorm.DB) *gorm.DB { return q.Where("merchant_id = ? AND currency = ?", merchantID, USDC) }
	var total int64
	if err := db.Model(&PaymentLink{}).Scopes(usdc).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("models: count links: %w", err)
	}
	links := []PaymentLink{}
	if int64(page-1) >= (total+int64(limit)-1)/int64(limit) {
		return links, total, nil // past the end (or none): no page query
	}
	err := db.Scopes(usdc).Order("created_at DESC, id DESC").Limit(limit).Offset((page - 1) * limit).Find(&links).Error
	if err != nil {
		return nil, 0, fmt.Errorf("models: list links: %w", err)
	}
	return links, total, nil
}

// PublicLink is the payable USDC link with code and its merchant (the
// KiraPay public link endpoint). Unknown, draft, inactive, expired and
// non-USDC links are one NotFoundError ("Link not found", the seed's
// message).
//
// KiraPay clients poll it: the link and merchant are a cached read (see
// Changes); whether the link is payable is decided on every call.
func (s *Store) PublicLink(ctx context.Context, code string) (*PaymentLink, *Merchant, error) {
	notFound := &NotFoundError{What: "Link"}
	if len(code) != LinkCodeLen {
		return nil, nil, notFound
	}
	pl, err := s.caches.publicLinks.get(code, func() (publicLink, error) {
		l, err := s.LinkBySlug(ctx, code)
		if err != nil {
			return publicLink{}, err
		}
		m, err := s.Merchant(ctx, l.MerchantID)
		if err != nil {
			return publicLink{}, err
		}
		return publicLink{link: *l, merchant: *m}, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	l, m := pl.link.clone(), pl.merchant
	if l.Currency != USDC || l.Status != LinkActive || l.Expired(s.clock()) {
		return nil, nil, notFound
	}
	return l, &m, nil
}

// publicLink is a cached PublicLink read: the link and its merchant.
type publicLink struct {
	link     PaymentLink
	merchant Merchant
}
