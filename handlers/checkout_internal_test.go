package handlers

import (
	"testing"
	"time"
)

func TestHTTPURL(t *testing.T) {
	cases := []struct {
		in, url, host string
	}{
		{"https://shop.example.com/thanks?o=1", "https://shop.example.com/thanks?o=1", "shop.example.com"},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x", "127.0.0.1"},
		{"javascript:alert(1)", "", ""},
		{"data:text/html,hi", "", ""},
		{"//evil.example/x", "", ""},
		{"https://user:pw@shop.example.com/", "", ""},
		{"", "", ""},
	}
	for _, tc := range cases {
		u, host := httpURL(tc.in)
		if string(u) != tc.url || host != tc.host {
			t.Errorf("httpURL(%q) = %q, %q; want %q, %q", tc.in, u, host, tc.url, tc.host)
		}
	}
}

func TestRemaining(t *testing.T) {
	cases := map[time.Duration]string{
		-time.Second:                          "0:00",
		0:                                     "0:00",
		59*time.Second + 999*time.Millisecond: "0:59",
		15 * time.Minute:                      "15:00",
		time.Hour + 2*time.Minute + 3*time.Second: "1:02:03",
	}
	for d, want := range cases {
		if got := remaining(d); got != want {
			t.Errorf("remaining(%s) = %q, want %q", d, got, want)
		}
	}
}
