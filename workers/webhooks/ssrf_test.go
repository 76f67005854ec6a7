package webhooks_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"till/models"
	"till/models/netguard"
	"till/workers/webhooks"
)

// TestDialTimeGuard sends real requests through the delivery client: every
// refused address class is refused before a connection is made, whether
// named by an IP literal or by a hostname resolving to it.
func TestDialTimeGuard(t *testing.T) {
	rc := newReceiver(t, nil)
	u, _ := url.Parse(rc.URL)
	port := u.Port()
	resolver := netguard.NewStaticResolver(map[string][]string{
		"loop.test":      {"127.0.0.1"},
		"loop6.test":     {"::1"},
		"private.test":   {"10.0.0.1"},
		"private2.test":  {"172.16.5.4"},
		"private3.test":  {"192.168.1.1"},
		"mapped.test":    {"::ffff:127.0.0.1"},
		"ula.test":       {"fd00::1"},
		"linklocal.test": {"169.254.1.1"},
		"ll6.test":       {"fe80::1"},
		"cgnat.test":     {"100.64.0.1"},
		"mcast.test":     {"224.0.0.1"},
		"zero.test":      {"0.0.0.0"},
		"bcast.test":     {"255.255.255.255"},
		"meta.test":      {"169.254.169.254"},
		"meta6.test":     {"fd00:ec2::254"},
		"mixed.test":     {"127.0.0.1", "93.184.216.34"},
		"localhost":      {"127.0.0.1"},
	})
	cases := []struct {
		host       string
		allowed    bool // with AllowPrivate
		wantReason string
	}{
		{"127.0.0.1", true, "loopback"},
		{"[::1]", true, "loopback"},
		{"[::ffff:127.0.0.1]", true, "loopback"},
		{"loop.test", true, "loopback"},
		{"loop6.test", true, "loopback"},
		{"localhost", true, "loopback"},
		{"mapped.test", true, "loopback"},
		{"mixed.test", true, "loopback"},
		{"private.test", true, "private"},
		{"private2.test", true, "private"},
		{"private3.test", true, "private"},
		{"ula.test", true, "unique-local"},
		{"linklocal.test", true, "link-local"},
		{"ll6.test", true, "link-local"},
		{"cgnat.test", true, "carrier-grade NAT"},
		{"mcast.test", true, "multicast"},
		{"zero.test", true, "unspecified"},
		{"bcast.test", true, "broadcast"},
		{"169.254.169.254", false, "cloud metadata"},
		{"[fd00:ec2::254]", false, "cloud metadata"},
		{"meta.test", false, "cloud metadata"},
		{"meta6.test", false, "cloud metadata"},
		{"metadata.google.internal", false, "cloud metadata"},
	}
	strict := webhooks.NewClient(&netguard.Policy{Resolver: resolver})
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			before := len(rc.requests())
			resp, err := strict.Post("http://"+tc.host+":"+port+"/hook", "application/json", strings.NewReader("{}"))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("strict client reached %s", tc.host)
			}
			if !errors.Is(err, netguard.ErrBlocked) || !strings.Contains(err.Error(), tc.wantReason) {
				t.Fatalf("want a %s refusal, got %v", tc.wantReason, err)
			}
			if len(rc.requests()) != before {
				t.Fatal("the request reached the receiver")
			}
		})
	}
	// TILL_WEBHOOK_ALLOW_PRIVATE: loopback works (the receiver answers),
	// metadata stays refused.
	loose := webhooks.NewClient(&netguard.Policy{AllowPrivate: true, Resolver: resolver})
	for _, host := range []string{"127.0.0.1", "loop.test", "localhost"} {
		resp, err := loose.Post("http://"+host+":"+port+"/hook", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("allow-private %s: %v", host, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("allow-private %s: %d", host, resp.StatusCode)
		}
	}
	for _, host := range []string{"169.254.169.254", "meta.test", "metadata.google.internal"} {
		resp, err := loose.Get("http://" + host + ":" + port + "/")
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, netguard.ErrBlocked) {
			t.Fatalf("allow-private reached metadata %s: %v", host, err)
		}
	}
}

// TestDNSRebindingIsRefusedAtDial registers a hostname that resolves to a
// public address, then lets it resolve to loopback: the dispatcher refuses
// to connect and records why.
func TestDNSRebindingIsRefusedAtDial(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, nil)
	u, _ := url.Parse(rc.URL)
	resolver := netguard.NewStaticResolver(map[string][]string{"hooks.rebind.test": {"93.184.216.34"}})
	policy := &netguard.Policy{Resolver: resolver}
	raw := "http://hooks.rebind.test:" + u.Port() + "/hook"
	events := []string{"*"}
	ep, _, err := e.s.CreateWebhook(e.ctx, e.m.ID, models.WebhookInput{URL: &raw, Events: &events}, policy)
	if err != nil {
		t.Fatalf("registration of a public name: %v", err)
	}
	resolver.Set("hooks.rebind.test", "127.0.0.1") // the attacker's DNS changes its answer
	e.confirm(e.payment("Ann", `{}`))
	d := e.dispatcher(func(d *webhooks.Dispatcher) { d.Policy = policy })
	if n := e.deliverDue(d); n != 1 {
		t.Fatalf("sent %d", n)
	}
	if len(rc.requests()) != 0 {
		t.Fatal("the rebound name reached the loopback receiver")
	}
	rec := e.deliveries(ep)[0]
	a := rec.AttemptLog[0]
	if rec.Status != models.DeliveryPending || a.StatusCode != nil || !strings.HasPrefix(a.Error, "refused: hooks.rebind.test resolves to 127.0.0.1, a loopback address") {
		t.Fatalf("attempt: %+v", a)
	}
	// Registration-time check of the same name now refuses it too.
	if _, _, err := e.s.CreateWebhook(e.ctx, e.m.ID, models.WebhookInput{URL: &raw, Events: &events}, policy); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("registration after rebinding: %v", err)
	}
}
