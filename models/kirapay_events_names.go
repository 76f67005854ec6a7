package models

// KiraPay webhook event types (the seed's "Webhook Events"). Events of the
// KiraPay dialect carry these; a KiraPay endpoint receives all of them.
const (
	EventTransactionCreated   = "transaction.created"
	EventTransactionSucceeded = "transaction.succeeded"
	EventTransactionFailed    = "transaction.failed"
)
