package price

import "till/models"

// Latest returns the last fetched rate whatever its age (false before the
// first success), for the operator's metrics: its age and source.
func (f *Feed) Latest() (models.Quote, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cached == nil {
		return models.Quote{}, false
	}
	return *f.cached, true
}
