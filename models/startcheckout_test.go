package models_test

import (
	"errors"
	"testing"
	"time"

	"till/models"
)

// TestStartCheckout: one domain call resumes the visitor's open session on
// the link, and opens a new one when the visitor has none, theirs is over, or
// another visitor asks; a closed link is refused with its reason first.
func TestStartCheckout(t *testing.T) {
	f := newFixture(t)
	start := func(visitor string) (*models.Payment, bool) {
		t.Helper()
		p, resumed, err := f.s.StartCheckout(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug, Visitor: visitor})
		if err != nil {
			t.Fatal(err)
		}
		return p, resumed
	}
	first, resumed := start("visitor-a")
	if resumed || first.Visitor != "visitor-a" || first.Status != models.StatusPending {
		t.Fatalf("first start: resumed=%v visitor %q status %s", resumed, first.Visitor, first.Status)
	}
	again, resumed := start("visitor-a")
	if !resumed || again.ID != first.ID {
		t.Fatalf("second start by the same visitor: resumed=%v id %s, want %s", resumed, again.ID, first.ID)
	}
	other, resumed := start("visitor-b")
	if resumed || other.ID == first.ID {
		t.Fatalf("another visitor resumed %s", other.ID)
	}
	anon, resumed := start("")
	if resumed || anon.ID == first.ID || anon.ID == other.ID {
		t.Fatalf("no visitor: resumed=%v id %s", resumed, anon.ID)
	}
	// Once the visitor's session is past its expiry, a new one opens.
	f.clock.Add(first.ExpiresAt.Sub(f.clock.Now()) + time.Minute)
	next, resumed := start("visitor-a")
	if resumed || next.ID == first.ID {
		t.Fatalf("after expiry: resumed=%v id %s", resumed, next.ID)
	}

	// A deactivated link refuses even the visitor with an open session.
	inactive := string(models.LinkInactive)
	if _, err := f.s.UpdateLink(f.ctx, f.m.ID, f.link.ID, models.LinkInput{Status: &inactive}); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.s.StartCheckout(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug, Visitor: "visitor-a"})
	var st *models.StateError
	if !errors.Is(err, models.ErrLinkClosed) || errors.Is(err, models.ErrLinkExpired) || !errors.As(err, &st) || st.Message != models.MsgLinkExpired {
		t.Fatalf("inactive link: %v", err)
	}
	if _, _, err := f.s.StartCheckout(f.ctx, models.CreatePaymentInput{LinkSlug: "no-such-link", Visitor: "visitor-a"}); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown link: %v", err)
	}
}

// TestReasonsMatch: errors.Is finds a reason through the wrappers that
// carry one (StateError, ValidationError, ConflictError, RateLimitError,
// AssignError) and never another reason.
func TestReasonsMatch(t *testing.T) {
	cases := []struct {
		err  error
		want models.Reason
	}{
		{&models.StateError{Reason: models.ErrLinkExpired, Message: "x"}, models.ErrLinkExpired},
		{&models.StateError{Message: "x"}, models.ErrRefused},
		{models.Invalid("email", "bad"), models.ErrInvalid},
		{&models.ValidationError{Reason: models.ErrBelowMinimum, Message: "low"}, models.ErrBelowMinimum},
		{&models.ConflictError{Field: "email", Message: "taken"}, models.ErrDuplicate},
		{&models.RateLimitError{Message: "slow"}, models.ErrRateLimited},
		{&models.AssignError{Reason: models.AssignNotEligible, Message: "no"}, models.ErrAssignRefused},
	}
	for _, tc := range cases {
		for _, r := range models.Reasons {
			if got := errors.Is(tc.err, r); got != (r == tc.want) {
				t.Errorf("%T %q: errors.Is(%s) = %v", tc.err, tc.err, r, got)
			}
		}
	}
}
