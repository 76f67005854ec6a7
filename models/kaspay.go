package models

import "strings"

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
