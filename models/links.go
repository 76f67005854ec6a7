package models

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
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

// PaymentLink is a reusable checkout: a fixed amount in KAS or USD that any
// number of customers can pay, each in their own payment session.
type PaymentLink struct {
	ID             string
	MerchantID     string
	Slug           string
	Title          string
	Description    string
	Currency       Currency
	Amount         int64 // base units of Currency
	Chain          string
	Receiver       string
	ExpiryMinutes  *int
	Status         LinkStatus
	SuccessMessage string
	RedirectURL    string
	ExpiresAt      *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
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
)

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
	if err := s.applyLinkInput(l, in, now); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		l.Slug = makeSlug(l.Title)
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
	if in == (LinkInput{}) {
		return nil, Invalid("", "No fields to update")
	}
	now := s.clock()
	if err := s.applyLinkInput(l, in, now); err != nil {
		return nil, err
	}
	l.UpdatedAt = now
	res := s.db.W(ctx).Model(&PaymentLink{}).Scopes(ownedBy(merchantID)).Where("id = ?", id).Updates(map[string]any{
		"title": l.Title, "description": l.Description, "currency": l.Currency, "amount": l.Amount,
		"expiry_minutes": l.ExpiryMinutes, "status": l.Status, "success_message": l.SuccessMessage,
		"redirect_url": l.RedirectURL, "expires_at": l.ExpiresAt, "updated_at": l.UpdatedAt,
	})
	if res.Error != nil {
		return nil, fmt.Errorf("models: update link: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, &NotFoundError{What: "Payment link"}
	}
	return l, nil
}

// applyLinkInput validates every given field against l's resulting state and
// copies them in; on error l may be partly changed and must be discarded.
func (s *Store) applyLinkInput(l *PaymentLink, in LinkInput, now time.Time) error {
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
		if c != KAS && c != USD {
			v.add(Invalid("currency", "currency must be KAS or USD"))
		} else {
			l.Currency = c
		}
	}
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
	return v.err()
}

func validateLinkAmount(text string, l *PaymentLink) error {
	max := int64(maxLinkKAS)
	if l.Currency == USD {
		max = maxLinkUSDCents
	}
	if strings.TrimSpace(text) == "" {
		return Invalid("amount", "amount is required")
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
	if err == gorm.ErrRecordNotFound {
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
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return base + "-" + string(b)
}
