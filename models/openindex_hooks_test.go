package models

import "time"

// RowsRead is how many rows idx's last Refresh read.
func (idx *OpenIndex) RowsRead() int { return idx.read }

// KaspaHotScan is KaspaHotFrom computed by a pass over every session of
// idx, as it was before the index kept it: the tests' reference.
func (s *Store) KaspaHotScan(idx *OpenIndex, dueWithin time.Duration) map[string]bool {
	due := s.clock().Add(dueWithin).UnixMicro()
	hot := map[string]bool{}
	for _, e := range idx.sessions {
		if e.holdsCredit() || e.status == codePending && e.expires <= due {
			hot[e.a.addr] = true
		}
	}
	return hot
}
