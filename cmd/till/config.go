package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"till/models"
	"till/models/kaspa"
)

// Config is Till's configuration, read once from the environment.
type Config struct {
	Addr                string
	BaseURL             string
	DatabaseURL         string
	DataDir             string
	Secret              []byte
	SecretGenerated     bool
	SecretPath          string
	KaspaNetwork        kaspa.Network
	KaspaAPIURL         string
	PriceAPIURL         string
	PollInterval        time.Duration
	WebhookAllowPrivate bool
	LatePaymentWindow   time.Duration
	TokenTTL            time.Duration
	TrustedProxies      []string
	SessionRateLimit    int
	LogLevel            slog.Level
	LogFormat           string
}

// configError names the variable and what it allows, in one line.
type configError struct{ name, value, allowed string }

func (e *configError) Error() string {
	return fmt.Sprintf("config: %s=%q is invalid: %s", e.name, e.value, e.allowed)
}

// LoadConfig reads and validates the environment. getenv is os.Getenv in
// production and a map in tests.
func LoadConfig(getenv func(string) string) (*Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{}

	c.Addr = get("TILL_ADDR", ":3000")
	if host, port, err := net.SplitHostPort(c.Addr); err != nil || !validPort(port) || strings.ContainsAny(host, " /") {
		return nil, &configError{"TILL_ADDR", c.Addr, "must be host:port or :port, e.g. :3000 or 127.0.0.1:8080"}
	}

	c.BaseURL = strings.TrimRight(get("TILL_BASE_URL", "http://localhost:3000"), "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, &configError{"TILL_BASE_URL", c.BaseURL, "must be an absolute http(s) URL without query, e.g. https://pay.example.com"}
	}

	c.DatabaseURL = get("TILL_DATABASE_URL", "sqlite://data/till.db")
	if _, err := models.ParseDatabaseURL(c.DatabaseURL); err != nil {
		return nil, &configError{"TILL_DATABASE_URL", redactURL(c.DatabaseURL), err.Error()}
	}

	c.DataDir = get("TILL_DATA_DIR", "data")

	network, err := kaspa.ParseNetwork(get("TILL_KASPA_NETWORK", "mainnet"))
	if err != nil {
		return nil, &configError{"TILL_KASPA_NETWORK", getenv("TILL_KASPA_NETWORK"), "must be mainnet or testnet-10"}
	}
	c.KaspaNetwork = network
	defAPI := "https://api.kaspa.org"
	if network == kaspa.Testnet10 {
		defAPI = "https://api-tn10.kaspa.org"
	}
	c.KaspaAPIURL = strings.TrimRight(get("TILL_KASPA_API_URL", defAPI), "/")
	if !isHTTPURL(c.KaspaAPIURL) {
		return nil, &configError{"TILL_KASPA_API_URL", c.KaspaAPIURL, "must be an absolute http(s) URL, e.g. https://api.kaspa.org"}
	}
	c.PriceAPIURL = strings.TrimRight(get("TILL_PRICE_API_URL", "https://api.coingecko.com/api/v3"), "/")
	if !isHTTPURL(c.PriceAPIURL) {
		return nil, &configError{"TILL_PRICE_API_URL", c.PriceAPIURL, "must be an absolute http(s) URL, e.g. https://api.coingecko.com/api/v3"}
	}

	if c.PollInterval, err = duration(get, "TILL_POLL_INTERVAL", "2s", 100*time.Millisecond, time.Hour); err != nil {
		return nil, err
	}
	if c.LatePaymentWindow, err = duration(get, "TILL_LATE_PAYMENT_WINDOW", "24h", 0, 30*24*time.Hour); err != nil {
		return nil, err
	}
	if c.TokenTTL, err = duration(get, "TILL_JWT_TTL", "24h", time.Minute, 30*24*time.Hour); err != nil {
		return nil, err
	}

	v := get("TILL_WEBHOOK_ALLOW_PRIVATE", "false")
	if c.WebhookAllowPrivate, err = strconv.ParseBool(v); err != nil {
		return nil, &configError{"TILL_WEBHOOK_ALLOW_PRIVATE", v, "must be true or false"}
	}

	if tp := get("TILL_TRUSTED_PROXIES", ""); tp != "" {
		for _, p := range strings.Split(tp, ",") {
			p = strings.TrimSpace(p)
			if _, err := netip.ParsePrefix(p); err != nil {
				if _, err := netip.ParseAddr(p); err != nil {
					return nil, &configError{"TILL_TRUSTED_PROXIES", tp, "must be a comma-separated list of IPs or CIDRs, e.g. 10.0.0.0/8,127.0.0.1"}
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}

	srl := get("TILL_SESSION_RATE_LIMIT", "60")
	if c.SessionRateLimit, err = strconv.Atoi(srl); err != nil || c.SessionRateLimit < 1 || c.SessionRateLimit > 1_000_000 {
		return nil, &configError{"TILL_SESSION_RATE_LIMIT", srl, "must be a whole number of payment sessions per client IP per minute, 1 to 1000000"}
	}

	lv := get("TILL_LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(lv)); err != nil {
		return nil, &configError{"TILL_LOG_LEVEL", lv, "must be debug, info, warn or error"}
	}
	c.LogFormat = get("TILL_LOG_FORMAT", "text")
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, &configError{"TILL_LOG_FORMAT", c.LogFormat, "must be text or json"}
	}

	if s := getenv("TILL_SECRET"); s != "" {
		if len(s) < 32 {
			return nil, &configError{"TILL_SECRET", "(hidden)", "must be at least 32 characters (e.g. the output of: openssl rand -hex 32)"}
		}
		c.Secret = []byte(s)
	}
	return c, nil
}

// LoadOrCreateSecret fills c.Secret from TILL_DATA_DIR/secret when
// TILL_SECRET is unset, creating a random one on first start.
func (c *Config) LoadOrCreateSecret() error {
	if c.Secret != nil {
		return nil
	}
	c.SecretPath = filepath.Join(c.DataDir, "secret")
	b, err := os.ReadFile(c.SecretPath)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return fmt.Errorf("config: %s holds a secret shorter than 32 characters; delete it or set TILL_SECRET", c.SecretPath)
		}
		c.Secret = []byte(s)
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("config: read %s: %w", c.SecretPath, err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("config: create %s: %w", c.DataDir, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	s := hex.EncodeToString(raw)
	if err := os.WriteFile(c.SecretPath, []byte(s+"\n"), 0o600); err != nil {
		return fmt.Errorf("config: write %s: %w", c.SecretPath, err)
	}
	c.Secret = []byte(s)
	c.SecretGenerated = true
	return nil
}

func duration(get func(string, string) string, name, def string, lo, hi time.Duration) (time.Duration, error) {
	v := get(name, def)
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return 0, &configError{name, v, fmt.Sprintf("must be a duration between %s and %s, e.g. %s", lo, hi, def)}
	}
	return d, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// redactURL hides a password in a database URL before it is printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}
