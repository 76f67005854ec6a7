package models

// SetExportPageSize makes CSV exports read n payments per query, so tests
// cross page boundaries with few rows; call the returned func to restore.
func SetExportPageSize(n int) (restore func()) {
	old := exportPageSize
	exportPageSize = n
	return func() { exportPageSize = old }
}
