package models

// RowsRead is how many rows idx's last Refresh read.
func (idx *OpenIndex) RowsRead() int { return idx.read }
