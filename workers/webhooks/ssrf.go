package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"till/models/netguard"
)

// NewClient returns the HTTP client deliveries go through. Its dialer
// resolves the host itself with the policy's resolver, refuses the
// connection when any address is not allowed, and checks the address
// actually connected to once more in the socket's Control hook, so a DNS
// answer that changed since registration (rebinding) cannot reach a refused
// network. It never follows redirects (a 3xx is a failed attempt), ignores
// proxy environment variables (a proxy would dial on its own terms), and
// has no overall timeout: each request carries its own deadline.
func NewClient(p *netguard.Policy) *http.Client {
	if p == nil {
		p = netguard.Strict
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: controlFor(p)}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           guardedDial(p, d),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// controlFor checks the address a socket is about to connect to.
func controlFor(p *netguard.Policy) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhooks: unexpected dial address %q", address)
		}
		return p.CheckIP(ap.Addr())
	}
}

// guardedDial resolves addr's host through the policy (which refuses names
// and addresses it does not allow) and dials the allowed addresses in turn.
func guardedDial(p *netguard.Policy, d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := p.Resolve(ctx, host)
		if err != nil {
			return nil, err
		}
		var firstErr error
		for _, ip := range ips {
			if (network == "tcp4" && !ip.Is4()) || (network == "tcp6" && !ip.Is6()) {
				continue
			}
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			if firstErr == nil {
				firstErr = err
			}
			if ctx.Err() != nil {
				break
			}
		}
		if firstErr == nil {
			firstErr = errors.New("no address of the right family")
		}
		return nil, firstErr
	}
}
