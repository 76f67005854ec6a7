package models

import "strings"

// ShortID is an entity's KiraPay _id: the first 24 hex digits of its UUID
// without dashes (the KiraPay document types ids as MongoDB ObjectIds).
func ShortID(id string) string {
	s := strings.ReplaceAll(id, "-", "")
	if len(s) > 24 {
		s = s[:24]
	}
	return s
}
