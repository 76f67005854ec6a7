package models

import "github.com/google/uuid"

// NewPaymentID is a new payment's id: a time-ordered UUID (version 7, RFC
// 9562: a 48-bit millisecond timestamp, then the sub-millisecond clock in
// 12 bits, monotonic within the process, then 62 random bits). New
// sessions' entries in the primary key and in payments_short_id_key then
// land at the right edge of both B-trees, a page already dirty and cached,
// instead of at a random page each (issue 12, docs/BENCHMARKS.md "Time-
// ordered payment ids"). Its ShortID holds the timestamp, the clock bits and
// 30 random bits; a clash there is a unique violation, and the session is
// retried with a new id (insertUniqueAmountPayment, insertDerivedPayment).
func NewPaymentID() string { return uuid.Must(uuid.NewV7()).String() }
