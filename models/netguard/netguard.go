// Package netguard decides which network destinations Till may call on a
// merchant's behalf (webhooks), so a merchant cannot aim Till at its own
// infrastructure (SSRF): loopback, private and link-local networks, carrier
// NAT, multicast, reserved ranges, IPv6 unique-local and link-local space,
// IPv4 addresses embedded in IPv6, and cloud metadata services.
//
// The same Policy is applied twice: when an endpoint is registered (the
// hostname is resolved and every address checked) and when the dispatcher
// dials (workers/webhooks), where the address actually connected to is
// checked again, so a DNS answer that changes after registration (DNS
// rebinding) cannot reach a refused address.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Resolver looks up a hostname's addresses; *net.Resolver implements it and
// tests substitute a fixed table.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Policy is the destination rule set.
type Policy struct {
	// AllowPrivate permits loopback, private and other non-public addresses
	// (TILL_WEBHOOK_ALLOW_PRIVATE, for development and tests). Cloud
	// metadata services stay refused even then.
	AllowPrivate bool
	// Resolver resolves hostnames; nil uses net.DefaultResolver.
	Resolver Resolver
	// LookupTimeout bounds one resolution (default 3s).
	LookupTimeout time.Duration
}

// Strict is the default policy: public destinations only, system resolver.
var Strict = &Policy{}

// ErrBlocked is matched (errors.Is) by every refusal.
var ErrBlocked = errors.New("netguard: destination not allowed")

// BlockedError says why a destination was refused; its message is safe to
// show to the merchant who chose the URL.
type BlockedError struct {
	Host   string     // the hostname, when one was resolved
	IP     netip.Addr // the refused address, when known
	Reason string     // e.g. "loopback", "private (RFC 1918)"
}

func (e *BlockedError) Error() string {
	switch {
	case !e.IP.IsValid():
		return fmt.Sprintf("%s is a %s host", e.Host, e.Reason)
	case e.Host != "" && e.Host != e.IP.String():
		return fmt.Sprintf("%s resolves to %s, a %s address", e.Host, e.IP, e.Reason)
	}
	return fmt.Sprintf("%s is a %s address", e.IP, e.Reason)
}

// Unwrap lets errors.Is(err, ErrBlocked) match.
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// ResolveError means a hostname could not be resolved.
type ResolveError struct {
	Host string
	Err  error
}

func (e *ResolveError) Error() string { return fmt.Sprintf("cannot resolve %s", e.Host) }

// Unwrap returns the resolver's error.
func (e *ResolveError) Unwrap() error { return e.Err }

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// ranges are the non-public networks, most specific first where they nest.
var ranges = []struct {
	prefix netip.Prefix
	reason string
}{
	{mustPrefix("0.0.0.0/8"), "unspecified (\"this network\")"},
	{mustPrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{mustPrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"},
	{mustPrefix("127.0.0.0/8"), "loopback"},
	{mustPrefix("169.254.0.0/16"), "link-local"},
	{mustPrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{mustPrefix("192.0.0.0/24"), "reserved (IETF protocol assignments)"},
	{mustPrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{mustPrefix("198.18.0.0/15"), "reserved (benchmarking)"},
	{mustPrefix("224.0.0.0/4"), "multicast"},
	{mustPrefix("255.255.255.255/32"), "broadcast"},
	{mustPrefix("240.0.0.0/4"), "reserved"},
	{mustPrefix("::/128"), "unspecified"},
	{mustPrefix("::1/128"), "loopback"},
	{mustPrefix("::/96"), "reserved (IPv4-compatible IPv6)"},
	{mustPrefix("64:ff9b:1::/48"), "reserved (local-use NAT64)"},
	{mustPrefix("100::/64"), "reserved (discard-only)"},
	{mustPrefix("fc00::/7"), "unique-local IPv6"},
	{mustPrefix("fe80::/10"), "link-local"},
	{mustPrefix("fec0::/10"), "site-local IPv6"},
	{mustPrefix("ff00::/8"), "multicast"},
}

// metadataIPs are cloud instance-metadata services: refused even when
// private destinations are allowed, since reaching them leaks credentials.
var metadataIPs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true, // AWS, GCP, Azure, OpenStack, DigitalOcean…
	netip.MustParseAddr("169.254.170.2"):   true, // AWS ECS task metadata
	netip.MustParseAddr("fd00:ec2::254"):   true, // AWS IPv6
	netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud
	netip.MustParseAddr("168.63.129.16"):   true, // Azure wire server
}

// metadataHosts are metadata service names, refused by name as well.
var metadataHosts = map[string]bool{
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"metadata":                   true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
}

// Classify says whether ip is anything but a public unicast address: reason
// names the class ("" for public), and metadata marks cloud metadata
// services. IPv4 addresses inside IPv6 (mapped ::ffff:a.b.c.d, NAT64
// 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they carry.
func Classify(ip netip.Addr) (reason string, metadata bool) {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if metadataIPs[ip] {
		return "cloud metadata", true
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case netip.PrefixFrom(ip, 96).Masked() == mustPrefix("64:ff9b::/96"):
			if r, m := Classify(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
				return r + " (NAT64)", m
			}
		case b[0] == 0x20 && b[1] == 0x02: // 6to4
			if r, m := Classify(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
				return r + " (6to4)", m
			}
		}
	}
	for _, r := range ranges {
		if r.prefix.Contains(ip) {
			return r.reason, false
		}
	}
	return "", false
}

// CheckIP refuses ip unless the policy allows it.
func (p *Policy) CheckIP(ip netip.Addr) error {
	reason, metadata := Classify(ip)
	if reason == "" || (p.AllowPrivate && !metadata) {
		return nil
	}
	return &BlockedError{IP: ip.WithZone(""), Reason: reason}
}

// NormalizeHost lower-cases a hostname and drops a trailing dot.
func NormalizeHost(host string) string { return strings.TrimSuffix(strings.ToLower(host), ".") }

// CheckName applies the rules that need no resolution: metadata names,
// localhost names, and numeric forms that some resolvers read as IPv4
// shorthand ("127.1", "2130706433", "0x7f.0.0.1").
func (p *Policy) CheckName(host string) error {
	h := NormalizeHost(host)
	if h == "" {
		return &BlockedError{Host: host, Reason: "missing"}
	}
	if metadataHosts[h] {
		return &BlockedError{Host: h, Reason: "cloud metadata"}
	}
	if (h == "localhost" || strings.HasSuffix(h, ".localhost")) && !p.AllowPrivate {
		return &BlockedError{Host: h, Reason: "loopback"}
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if numericLabel(last) {
		return &BlockedError{Host: h, Reason: "numeric (ambiguous IPv4 notation)"}
	}
	return nil
}

// numericLabel reports whether label is all decimal digits or a 0x hex
// number: no real top-level domain looks like that.
func numericLabel(label string) bool {
	if label == "" {
		return false
	}
	if strings.HasPrefix(label, "0x") {
		label = label[2:]
		if label == "" {
			return true
		}
		return strings.Trim(label, "0123456789abcdef") == ""
	}
	return strings.Trim(label, "0123456789") == ""
}

// Resolve returns the addresses of host (an IP literal or a hostname),
// refusing it when the name or any of its addresses is not allowed: a
// name that resolves to one public and one private address is refused.
func (p *Policy) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if err := p.CheckIP(ip); err != nil {
			return nil, err
		}
		return []netip.Addr{ip}, nil
	}
	if err := p.CheckName(host); err != nil {
		return nil, err
	}
	h := NormalizeHost(host)
	timeout := p.LookupTimeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r Resolver = net.DefaultResolver
	if p.Resolver != nil {
		r = p.Resolver
	}
	addrs, err := r.LookupIPAddr(lctx, h)
	if err != nil {
		return nil, &ResolveError{Host: h, Err: err}
	}
	if len(addrs) == 0 {
		return nil, &ResolveError{Host: h, Err: errors.New("no addresses")}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		if err := p.CheckIP(ip); err != nil {
			var be *BlockedError
			if errors.As(err, &be) {
				be.Host = h
			}
			return nil, err
		}
		out = append(out, ip.Unmap())
	}
	if len(out) == 0 {
		return nil, &ResolveError{Host: h, Err: errors.New("no usable addresses")}
	}
	return out, nil
}

// CheckURL checks the host of an absolute URL (resolving it).
func (p *Policy) CheckURL(ctx context.Context, u *url.URL) error {
	_, err := p.Resolve(ctx, u.Hostname())
	return err
}

// StaticResolver is a hostname → addresses table that can change at run
// time (tests of DNS rebinding). Unknown names fail like NXDOMAIN.
type StaticResolver struct {
	mu    sync.Mutex
	hosts map[string][]string
}

// NewStaticResolver returns a resolver answering from hosts.
func NewStaticResolver(hosts map[string][]string) *StaticResolver {
	r := &StaticResolver{hosts: map[string][]string{}}
	for h, ips := range hosts {
		r.Set(h, ips...)
	}
	return r
}

// Set replaces the addresses of host.
func (r *StaticResolver) Set(host string, ips ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts[NormalizeHost(host)] = ips
}

// LookupIPAddr implements Resolver.
func (r *StaticResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	list, ok := r.hosts[NormalizeHost(host)]
	r.mu.Unlock()
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, 0, len(list))
	for _, s := range list {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()})
	}
	return out, nil
}
