package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"unknown network", []string{"-network", "testnet-11"}, nil},
		{"bad price", []string{"-price", "cheap"}, nil},
		{"unknown flag", []string{"-nope"}, nil},
		{"bad env bool", nil, map[string]string{"KASPA_DOUBLE_AUTO_ADVANCE": "sometimes"}},
		{"bad listen address", []string{"-addr", "256.0.0.1:1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			if err := run(context.Background(), tc.args, getenv, io.Discard); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestServeAndShutdown starts the command on a free port, pays the logged
// example address with the logged curl body, and shuts it down.
func TestServeAndShutdown(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := map[string]string{"KASPA_DOUBLE_NETWORK": "testnet-10"}
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-auto-advance=false", "-price", "0.25"}, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var url, curl string
	for (url == "" || curl == "") && sc.Scan() {
		line := sc.Text()
		if m := regexp.MustCompile(`url=(http://\S+)`).FindStringSubmatch(line); m != nil {
			url = m[1]
		}
		if strings.HasPrefix(line, "curl ") {
			curl = line
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`-d '(.*)'$`).FindStringSubmatch(curl)
	if url == "" || m == nil || !strings.Contains(m[1], `"address":"kaspatest:`) {
		t.Fatalf("url %q curl %q", url, curl)
	}
	resp, err := http.Post(url+"/_double/pay", "application/x-www-form-urlencoded", strings.NewReader(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ TransactionID string }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if len(out.TransactionID) != 64 {
		t.Errorf("pay: %d %+v", resp.StatusCode, out)
	}
	resp, err = http.Get(url + "/info/blockdag")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"networkName":"kaspa-testnet-10"`) {
		t.Errorf("blockdag %s", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
