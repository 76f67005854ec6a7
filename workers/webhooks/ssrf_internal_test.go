package webhooks

import (
	"errors"
	"testing"

	"till/models/netguard"
)

// The socket Control hook is the last line: whatever the resolver said, the
// address actually connected to is checked.
func TestControlHookChecksTheDialedAddress(t *testing.T) {
	cases := []struct {
		addr    string
		private bool
		ok      bool
	}{
		{"93.184.216.34:443", false, true},
		{"[2606:4700:4700::1111]:443", false, true},
		{"127.0.0.1:80", false, false},
		{"[::1]:80", false, false},
		{"[::ffff:10.0.0.1]:80", false, false},
		{"10.0.0.1:80", false, false},
		{"127.0.0.1:80", true, true},
		{"169.254.169.254:80", true, false},
	}
	for _, tc := range cases {
		err := controlFor(&netguard.Policy{AllowPrivate: tc.private})("tcp", tc.addr, nil)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, netguard.ErrBlocked)) {
			t.Errorf("control(%s, allowPrivate=%v) = %v", tc.addr, tc.private, err)
		}
	}
}
