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
	"slices"
	"strconv"
	"strings"
	"time"

	"till/models"
	"till/models/evm"
	"till/models/kaspa"
)

// Config is Till's configuration, read once from the environment.
type Config struct {
	Addr            string
	BaseURL         string
	DatabaseURL     string
	DataDir         string
	Secret          []byte
	SecretGenerated bool
	SecretPath      string
	KaspaNetwork    kaspa.Network
	KaspaAPIURL     string
	PriceAPIURL     string
	PollInterval    time.Duration
	// KaspaFollow is TILL_KASPA_FOLLOW: the Kaspa watcher follows the
	// virtual chain (GET /virtual-chain) and polls only the addresses it
	// must once they take more than one UTXO request (workers/kaspa).
	KaspaFollow         bool
	WebhookAllowPrivate bool
	LatePaymentWindow   time.Duration
	TokenTTL            time.Duration
	TrustedProxies      []string
	SessionRateLimit    int
	LogLevel            slog.Level
	LogFormat           string
	// MetricsAddr is TILL_METRICS_ADDR: the separate listener serving
	// /metrics; empty (the default) serves no metrics.
	MetricsAddr string
	// Pprof is TILL_PPROF: also serve net/http/pprof on the metrics
	// listener (never on the public app); needs TILL_METRICS_ADDR.
	Pprof bool
	// EVMChains are the enabled EVM chains (TILL_EVM_CHAINS), in the
	// order given; empty means USDC on EVM is off.
	EVMChains []evm.ChainConfig
	// EVMDefaultChain names the chain preselected for new USDC links.
	EVMDefaultChain string
	// Retention is how long webhook events, deliveries and attempts are
	// kept (TILL_RETENTION); 0 turns pruning off.
	Retention time.Duration
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

	if c.MetricsAddr = get("TILL_METRICS_ADDR", ""); c.MetricsAddr != "" {
		host, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil || !validPort(port) || strings.ContainsAny(host, " /") {
			return nil, &configError{"TILL_METRICS_ADDR", c.MetricsAddr, "must be host:port or :port, e.g. 127.0.0.1:9100"}
		}
		if _, appPort, _ := net.SplitHostPort(c.Addr); port == appPort && port != "0" {
			return nil, &configError{"TILL_METRICS_ADDR", c.MetricsAddr, "must use another port than TILL_ADDR: metrics are never served on the public app"}
		}
	}

	pp := get("TILL_PPROF", "false")
	var err error
	if c.Pprof, err = strconv.ParseBool(pp); err != nil {
		return nil, &configError{"TILL_PPROF", pp, "must be true or false"}
	}
	if c.Pprof && c.MetricsAddr == "" {
		return nil, &configError{"TILL_PPROF", pp, "needs TILL_METRICS_ADDR: profiles are served only on the metrics listener"}
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
	kf := get("TILL_KASPA_FOLLOW", "true")
	if c.KaspaFollow, err = strconv.ParseBool(kf); err != nil {
		return nil, &configError{"TILL_KASPA_FOLLOW", kf, "must be true or false"}
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

	rv := get("TILL_RETENTION", "90d")
	if c.Retention, err = parseRetention(rv); err != nil {
		return nil, &configError{"TILL_RETENTION", rv, "must be a number of days like 90d, a duration from 1h like 2160h, or 0 or off to keep everything"}
	}

	if c.EVMChains, c.EVMDefaultChain, err = loadEVMChains(get); err != nil {
		return nil, err
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

// evmVar names a per-chain variable: TILL_EVM_<NAME>_<FIELD>, with the
// chain name upper-cased and '-' turned into '_' (base-sepolia →
// TILL_EVM_BASE_SEPOLIA_RPC_URL). Chain names allow no '_', so two names
// never share a variable.
func evmVar(name, field string) string {
	return "TILL_EVM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + field
}

// loadEVMChains reads TILL_EVM_CHAINS, each chain's TILL_EVM_<NAME>_*
// variables and TILL_EVM_DEFAULT_CHAIN.
func loadEVMChains(get func(string, string) string) ([]evm.ChainConfig, string, error) {
	list := get("TILL_EVM_CHAINS", "")
	def := get("TILL_EVM_DEFAULT_CHAIN", "")
	if list == "" {
		if def != "" {
			return nil, "", &configError{"TILL_EVM_DEFAULT_CHAIN", def, "must be one of the chains in TILL_EVM_CHAINS, which is empty (EVM is off)"}
		}
		return nil, "", nil
	}
	builtins := strings.Join(evm.BuiltinNames(), ", ")
	// Every name is checked before any chain's variables, so a typo in
	// the list is reported as such.
	var names []string
	for _, raw := range strings.Split(list, ",") {
		name := strings.TrimSpace(raw)
		if !evm.ValidChainName(name) {
			return nil, "", &configError{"TILL_EVM_CHAINS", list, fmt.Sprintf("%q is not a chain name: use 1 to 32 lower-case letters, digits and '-', starting with a letter (built in: %s; any other name is a local chain set by its TILL_EVM_<NAME>_* variables)", name, builtins)}
		}
		if slices.Contains(names, name) {
			return nil, "", &configError{"TILL_EVM_CHAINS", list, fmt.Sprintf("lists %s twice", name)}
		}
		names = append(names, name)
	}
	var chains []evm.ChainConfig
	byID := map[uint64]string{}
	for _, name := range names {
		cc, err := loadEVMChain(get, name, builtins)
		if err != nil {
			return nil, "", err
		}
		if other, taken := byID[cc.ChainID]; taken {
			return nil, "", &configError{evmVar(name, "CHAIN_ID"), strconv.FormatUint(cc.ChainID, 10), fmt.Sprintf("chain ID %d is already enabled as %s; one chain is watched under one name", cc.ChainID, other)}
		}
		byID[cc.ChainID] = name
		chains = append(chains, cc)
	}
	if def == "" {
		return chains, names[0], nil
	}
	if slices.Contains(names, def) {
		return chains, def, nil
	}
	return nil, "", &configError{"TILL_EVM_DEFAULT_CHAIN", def, "must be one of the enabled chains: " + strings.Join(names, ", ")}
}

// loadEVMChain reads one chain's variables. A built-in chain needs only its
// RPC URL; a chain outside the table needs RPC URL, chain ID, USDC and
// confirmations.
func loadEVMChain(get func(string, string) string, name, builtins string) (evm.ChainConfig, error) {
	chain, builtin := evm.Builtin(name)
	if !builtin {
		for _, field := range []string{"RPC_URL", "CHAIN_ID", "USDC", "CONFIRMATIONS"} {
			if get(evmVar(name, field), "") == "" {
				return evm.ChainConfig{}, &configError{evmVar(name, field), "", fmt.Sprintf("required because %s is not a built-in chain (%s); such a chain needs %s, %s, %s and %s",
					name, builtins, evmVar(name, "RPC_URL"), evmVar(name, "CHAIN_ID"), evmVar(name, "USDC"), evmVar(name, "CONFIRMATIONS"))}
			}
		}
		chain = evm.Chain{Name: name, DisplayName: name}
	}
	cc := evm.ChainConfig{Chain: chain, Builtin: builtin}

	rpcVar := evmVar(name, "RPC_URL")
	cc.RPCURL = get(rpcVar, "")
	if cc.RPCURL == "" {
		return cc, &configError{rpcVar, "", fmt.Sprintf("required: the JSON-RPC endpoint of %s (http or https), for every chain in TILL_EVM_CHAINS", name)}
	}
	u, err := url.Parse(cc.RPCURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return cc, &configError{rpcVar, redactRPC(cc.RPCURL), "must be the chain's JSON-RPC endpoint, an absolute http(s) URL, e.g. https://mainnet.base.org"}
	}
	cc.RPCHost = u.Host

	idVar := evmVar(name, "CHAIN_ID")
	if v := get(idVar, ""); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil || id == 0 {
			return cc, &configError{idVar, v, "must be the chain's EIP-155 chain ID, a positive whole number, e.g. 1337"}
		}
		if builtin && id != chain.ChainID {
			return cc, &configError{idVar, v, fmt.Sprintf("%s is chain %d; leave it unset, or give the other chain a name of its own", name, chain.ChainID)}
		}
		cc.ChainID = id
	}

	usdcVar := evmVar(name, "USDC")
	if v := get(usdcVar, ""); v != "" {
		a, err := evm.ParseAddress(v, evm.Strict)
		if err != nil {
			return cc, &configError{usdcVar, v, "must be the USDC token contract: " + err.Error()}
		}
		if what, ok := evm.BridgedUSDC[a]; ok {
			return cc, &configError{usdcVar, v, fmt.Sprintf("is %s, not native USDC; Till credits only Circle's native USDC", what)}
		}
		if builtin && !chain.Testnet && a != chain.USDC {
			return cc, &configError{usdcVar, v, fmt.Sprintf("Till credits only Circle's native USDC on %s (%s); leave it unset", name, chain.USDC.Hex())}
		}
		cc.USDC = a
	}

	confVar := evmVar(name, "CONFIRMATIONS")
	if v := get(confVar, ""); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < 1 || n > 100_000 {
			return cc, &configError{confVar, v, "must be a whole number of blocks from 1 to 100000 (a transfer in the newest block has 1)"}
		}
		cc.Confirmations = n
	}

	finVar := evmVar(name, "FINALITY")
	f := get(finVar, string(evm.FinalityDepth))
	if cc.Finality, err = evm.ParseFinality(f); err != nil {
		return cc, &configError{finVar, f, "must be depth, safe or finalized"}
	}

	rangeVar := evmVar(name, "MAX_RANGE")
	r := get(rangeVar, strconv.Itoa(evm.DefaultMaxRange))
	if cc.MaxRange, err = strconv.ParseUint(r, 10, 64); err != nil || cc.MaxRange < 1 || cc.MaxRange > 100_000 {
		return cc, &configError{rangeVar, r, "must be a whole number of blocks per eth_getLogs call from 1 to 100000 (your RPC plan's limit, e.g. 10 on free tiers)"}
	}

	if cc.PollInterval, err = duration(get, evmVar(name, "POLL_INTERVAL"), chain.DefaultPollInterval().String(), 100*time.Millisecond, time.Hour); err != nil {
		return cc, err
	}
	return cc, nil
}

// redactRPC shows only the scheme and host of an RPC URL: providers put
// the API key in the path or the query.
func redactRPC(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		if s == "" {
			return ""
		}
		return "(hidden)"
	}
	if u.Path != "" || u.RawQuery != "" || u.User != nil {
		return u.Scheme + "://" + u.Host + "/…"
	}
	return u.Scheme + "://" + u.Host
}

// logEVM writes the start-up line listing the enabled EVM chains (never
// their RPC URLs, which carry API keys).
func (c *Config) logEVM(log *slog.Logger) {
	if len(c.EVMChains) == 0 {
		log.Info("evm chains off (set TILL_EVM_CHAINS to take USDC)")
		return
	}
	parts := make([]string, len(c.EVMChains))
	for i, cc := range c.EVMChains {
		parts[i] = fmt.Sprintf("%s(chain %d, %d confirmations, finality %s, via %s)", cc.Name, cc.ChainID, cc.Confirmations, cc.Finality, cc.RPCHost)
	}
	log.Info("evm chains enabled", slog.String("chains", strings.Join(parts, ", ")), slog.String("default", c.EVMDefaultChain))
}

func duration(get func(string, string) string, name, def string, lo, hi time.Duration) (time.Duration, error) {
	v := get(name, def)
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return 0, &configError{name, v, fmt.Sprintf("must be a duration between %s and %s, e.g. %s", lo, hi, def)}
	}
	return d, nil
}

// maxRetention bounds TILL_RETENTION (100 years) so the cutoff never
// overflows.
const maxRetention = 36500 * 24 * time.Hour

// parseRetention reads TILL_RETENTION: "0" or "off" (0: never prune), a
// whole number of days with a d suffix ("90d"), or a Go duration ("2160h"),
// from 1h to 100 years.
func parseRetention(v string) (time.Duration, error) {
	if v == "0" || strings.EqualFold(v, "off") {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 1 || n > int64(maxRetention/(24*time.Hour)) {
			return 0, errors.New("bad days")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, err
		}
	}
	if d < time.Hour || d > maxRetention {
		return 0, errors.New("out of range")
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
