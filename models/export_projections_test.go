package models

// SetProjections replaces the projection table of s, so tests can observe
// transitions that no registered dialect names yet.
func SetProjections(s *Store, ps Projections) { s.projections = ps }
