package models

// KiraPay webhook event types (the KiraPay document's webhook section).
const (
	EventTransactionCreated   = "transaction.created"
	EventTransactionSucceeded = "transaction.succeeded"
	EventTransactionFailed    = "transaction.failed"
)
