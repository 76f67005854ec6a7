package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"till/models/netguard"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		ip       string
		reason   string // substring; "" = public
		metadata bool
	}{
		{"93.184.216.34", "", false},
		{"1.1.1.1", "", false},
		{"2606:4700:4700::1111", "", false},
		{"0.0.0.0", "unspecified", false},
		{"0.1.2.3", "unspecified", false},
		{"127.0.0.1", "loopback", false},
		{"127.255.255.254", "loopback", false},
		{"10.0.0.1", "private", false},
		{"172.16.0.1", "private", false},
		{"172.31.255.255", "private", false},
		{"172.32.0.1", "", false},
		{"192.168.1.1", "private", false},
		{"169.254.1.1", "link-local", false},
		{"100.64.0.1", "carrier-grade NAT", false},
		{"100.127.255.255", "carrier-grade NAT", false},
		{"100.128.0.1", "", false},
		{"224.0.0.251", "multicast", false},
		{"239.255.255.250", "multicast", false},
		{"255.255.255.255", "broadcast", false},
		{"240.0.0.1", "reserved", false},
		{"192.0.0.8", "reserved", false},
		{"198.18.0.1", "reserved", false},
		{"::", "unspecified", false},
		{"::1", "loopback", false},
		{"fc00::1", "unique-local", false},
		{"fd12:3456:789a::1", "unique-local", false},
		{"fe80::1", "link-local", false},
		{"fe80::1%eth0", "link-local", false},
		{"febf::1", "link-local", false},
		{"fec0::1", "site-local", false},
		{"ff02::1", "multicast", false},
		{"::ffff:127.0.0.1", "loopback", false},
		{"::ffff:10.0.0.1", "private", false},
		{"::ffff:169.254.169.254", "cloud metadata", true},
		{"::ffff:93.184.216.34", "", false},
		{"::127.0.0.1", "IPv4-compatible", false},
		{"64:ff9b::10.0.0.1", "(RFC 1918) (NAT64)", false},
		{"64:ff9b::93.184.216.34", "", false},
		{"2002:c0a8:0101::1", "(RFC 1918) (6to4)", false},
		{"2002:5db8:d822::1", "", false},
		{"169.254.169.254", "cloud metadata", true},
		{"169.254.170.2", "cloud metadata", true},
		{"fd00:ec2::254", "cloud metadata", true},
		{"100.100.100.200", "cloud metadata", true},
		{"168.63.129.16", "cloud metadata", true},
	}
	for _, tc := range cases {
		t.Run(tc.ip, func(t *testing.T) {
			reason, meta := netguard.Classify(netip.MustParseAddr(tc.ip))
			if (tc.reason == "") != (reason == "") || !strings.Contains(reason, tc.reason) || meta != tc.metadata {
				t.Fatalf("Classify(%s) = %q, %v; want %q, %v", tc.ip, reason, meta, tc.reason, tc.metadata)
			}
			strict := (&netguard.Policy{}).CheckIP(netip.MustParseAddr(tc.ip))
			loose := (&netguard.Policy{AllowPrivate: true}).CheckIP(netip.MustParseAddr(tc.ip))
			if (strict == nil) != (tc.reason == "") {
				t.Errorf("strict CheckIP = %v", strict)
			}
			if (loose == nil) == tc.metadata {
				t.Errorf("allow-private CheckIP = %v (metadata must stay refused)", loose)
			}
			if strict != nil && !errors.Is(strict, netguard.ErrBlocked) {
				t.Errorf("refusal does not match ErrBlocked: %v", strict)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	r := netguard.NewStaticResolver(map[string][]string{
		"public.example":  {"93.184.216.34", "2606:2800:220:1::1"},
		"private.example": {"10.0.0.7"},
		"mixed.example":   {"93.184.216.34", "127.0.0.1"},
		"mapped.example":  {"::ffff:192.168.0.1"},
		"meta.example":    {"169.254.169.254"},
		"localhost":       {"127.0.0.1"},
	})
	cases := []struct {
		host    string
		private bool
		want    string // substring of the error; "" = allowed
	}{
		{"public.example", false, ""},
		{"PUBLIC.example.", false, ""},
		{"private.example", false, "private.example resolves to 10.0.0.7, a private"},
		{"private.example", true, ""},
		{"mixed.example", false, "127.0.0.1"},
		{"mapped.example", false, "private"},
		{"meta.example", true, "cloud metadata"},
		{"metadata.google.internal", true, "cloud metadata"},
		{"Metadata.Google.Internal.", false, "cloud metadata"},
		{"localhost", false, "loopback"},
		{"db.localhost", false, "loopback"},
		{"localhost", true, ""},
		{"unknown.example", false, "cannot resolve unknown.example"},
		{"2130706433", false, "numeric"},
		{"0x7f.0.0.1", false, "numeric"},
		{"127.1", false, "numeric"},
		{"1.1.1.1", false, ""},
		{"[::1]", false, "loopback"},
		{"::1", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			p := &netguard.Policy{AllowPrivate: tc.private, Resolver: r}
			ips, err := p.Resolve(context.Background(), tc.host)
			if tc.want == "" {
				if err != nil || len(ips) == 0 {
					t.Fatalf("want allowed, got %v %v", ips, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
	// The table can change, as DNS can.
	r.Set("public.example", "192.168.7.7")
	if _, err := (&netguard.Policy{Resolver: r}).Resolve(context.Background(), "public.example"); !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("after rebinding: %v", err)
	}
}

// slowResolver never answers before its context ends.
type slowResolver struct{}

func (slowResolver) LookupIPAddr(ctx context.Context, _ string) ([]net.IPAddr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestResolveHasAShortTimeout(t *testing.T) {
	p := &netguard.Policy{Resolver: slowResolver{}, LookupTimeout: 50 * time.Millisecond}
	_, err := p.Resolve(context.Background(), "slow.example")
	var re *netguard.ResolveError
	if !errors.As(err, &re) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a resolve timeout, got %v", err)
	}
}
