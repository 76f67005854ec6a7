package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// ShortIDLen is the length of a KiraPay _id: 24 lower-case hex digits (the
// seed types its ids as MongoDB ObjectIds).
const ShortIDLen = 24

// ShortIDExpr is the SQL expression of an entity's _id, written exactly as
// in the unique expression indexes of migration 0009 so both engines use
// them (an equal expression is what lets the planner match the index).
const ShortIDExpr = "substr(replace(id, '-', ''), 1, 24)"

// ShortID is the KiraPay _id of an entity: the first 24 hex digits of its
// UUID without dashes, lower case.
func ShortID(id string) string {
	s := strings.ToLower(strings.ReplaceAll(id, "-", ""))
	if len(s) > ShortIDLen {
		s = s[:ShortIDLen]
	}
	return s
}

// ValidShortID reports whether s is 24 lower-case hex digits.
func ValidShortID(s string) bool {
	if len(s) != ShortIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// byShortID scopes a query to the row whose _id is short, through the
// 0009 index. A malformed _id matches no row (a not-found, never an error):
// callers need not check it first.
func byShortID(short string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		if !ValidShortID(short) {
			return db.Where("1 = 0")
		}
		return db.Where(ShortIDExpr+" = ?", short)
	}
}

// findOwnedByShortID loads the row of type T whose _id is short and that
// belongs to merchantID; missing, foreign and malformed are one
// NotFoundError naming what.
func findOwnedByShortID[T any](ctx context.Context, db *gorm.DB, merchantID, short, what string) (*T, error) {
	var row T
	err := db.WithContext(ctx).Scopes(ownedBy(merchantID), byShortID(short)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{What: what}
	}
	if err != nil {
		return nil, fmt.Errorf("models: find %s by _id: %w", what, err)
	}
	return &row, nil
}
