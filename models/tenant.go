package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Tenant scoping: every table holding a merchant's data has a merchant_id
// column, and every query for such data goes through these helpers, so a row
// of another merchant is indistinguishable from a missing one.

// ownedBy is a GORM scope restricting a query to one merchant's rows.
func ownedBy(merchantID string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Where("merchant_id = ?", merchantID)
	}
}

// findOwned loads the row of type T with id that belongs to merchantID. It
// returns a NotFoundError naming what when the row is missing or belongs to
// someone else.
func findOwned[T any](ctx context.Context, db *gorm.DB, merchantID, id, what string) (*T, error) {
	var row T
	err := db.WithContext(ctx).Scopes(ownedBy(merchantID)).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{What: what}
	}
	if err != nil {
		return nil, fmt.Errorf("models: find %s %s: %w", what, id, err)
	}
	return &row, nil
}

// listOwned returns rows of type T belonging to merchantID, with optional
// extra scopes (filters, ordering, paging).
func listOwned[T any](ctx context.Context, db *gorm.DB, merchantID string, scopes ...func(*gorm.DB) *gorm.DB) ([]T, error) {
	var rows []T
	q := db.WithContext(ctx).Scopes(ownedBy(merchantID)).Scopes(scopes...)
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("models: list: %w", err)
	}
	return rows, nil
}

// updateOwned applies updates to the row with id owned by merchantID, only
// when extra conditions (e.g. a status) hold. It reports the rows changed;
// zero means missing, foreign or not in the expected state.
func updateOwned[T any](ctx context.Context, db *gorm.DB, merchantID, id string, updates map[string]any, conds ...func(*gorm.DB) *gorm.DB) (int64, error) {
	var zero T
	res := db.WithContext(ctx).Model(&zero).Scopes(ownedBy(merchantID)).Scopes(conds...).Where("id = ?", id).Updates(updates)
	if res.Error != nil {
		return 0, fmt.Errorf("models: update: %w", res.Error)
	}
	return res.RowsAffected, nil
}
