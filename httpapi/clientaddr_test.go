package httpapi

import (
	"net/netip"
	"testing"

	"userimages/core"
)

func TestClientAddress(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.0.2.7/32")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{name: "no proxies trusted: the peer", remote: "203.0.113.5:4711", xff: []string{"198.51.100.1"}, want: "203.0.113.5"},
		{name: "untrusted peer's header is ignored", remote: "203.0.113.5:4711", xff: []string{"198.51.100.1"}, trusted: proxies, want: "203.0.113.5"},
		{name: "trusted peer, one hop", remote: "10.1.2.3:4711", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "trusted peer, no header: the peer", remote: "10.1.2.3:4711", trusted: proxies, want: "10.1.2.3"},
		{name: "trusted peer, empty header: the peer", remote: "10.1.2.3:4711", xff: []string{""}, trusted: proxies, want: "10.1.2.3"},
		{name: "client-forged hops left of the first untrusted are ignored", remote: "10.1.2.3:4711", xff: []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "chain of trusted proxies is walked", remote: "10.1.2.3:4711", xff: []string{"1.1.1.1, 198.51.100.1, 10.9.9.9, 192.0.2.7"}, trusted: proxies, want: "198.51.100.1"},
		{name: "several header lines are one list", remote: "10.1.2.3:4711", xff: []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, trusted: proxies, want: "198.51.100.1"},
		{name: "every hop trusted: the leftmost", remote: "10.1.2.3:4711", xff: []string{"10.0.0.9, 10.0.0.8"}, trusted: proxies, want: "10.0.0.9"},
		{name: "garbage stops the walk at the last good hop", remote: "10.1.2.3:4711", xff: []string{"198.51.100.1, nonsense, 10.0.0.8"}, trusted: proxies, want: "10.0.0.8"},
		{name: "garbage as the only hop: the peer", remote: "10.1.2.3:4711", xff: []string{"nonsense"}, trusted: proxies, want: "10.1.2.3"},
		{name: "hop with a port", remote: "10.1.2.3:4711", xff: []string{"198.51.100.1:5555"}, trusted: proxies, want: "198.51.100.1"},
		{name: "IPv6 hop with a port", remote: "10.1.2.3:4711", xff: []string{"[2001:db8::1]:5555"}, trusted: proxies, want: "2001:db8::1"},
		{name: "IPv6 trusted peer", remote: "[fd00::1]:4711", xff: []string{"2001:db8::1"}, trusted: proxies, want: "2001:db8::1"},
		{name: "IPv4-mapped peer matches an IPv4 prefix", remote: "[::ffff:10.1.2.3]:4711", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "IPv4-mapped hop is reported as IPv4", remote: "10.1.2.3:4711", xff: []string{"::ffff:198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "single trusted address", remote: "192.0.2.7:4711", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "neighbour of a single trusted address is not trusted", remote: "192.0.2.8:4711", xff: []string{"198.51.100.1"}, trusted: proxies, want: "192.0.2.8"},
		{name: "peer without a port", remote: "203.0.113.5", want: "203.0.113.5"},
		{name: "peer that is no address is kept as is", remote: "@unix", trusted: proxies, want: "@unix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientAddress(tt.remote, tt.xff, tt.trusted); got != tt.want {
				t.Errorf("clientAddress(%q, %q): got %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestRateLimitSubject(t *testing.T) {
	tests := []struct {
		up   core.Uploader
		want string
	}{
		{core.Uploader{UserID: 42, ClientAddr: "198.51.100.1"}, "u:42"},
		{core.Uploader{ClientAddr: "198.51.100.1"}, "a:198.51.100.1"},
		{core.Uploader{ClientAddr: "2001:db8:1:2:3:4:5:6"}, "a:2001:db8:1:2::/64"},
		{core.Uploader{ClientAddr: "2001:db8:1:2::9"}, "a:2001:db8:1:2::/64"},
		{core.Uploader{ClientAddr: "::ffff:198.51.100.1"}, "a:198.51.100.1"},
		{core.Uploader{ClientAddr: "@unix"}, "a:@unix"},
	}
	for _, tt := range tests {
		if got := subject(tt.up); got != tt.want {
			t.Errorf("subject(%+v): got %q, want %q", tt.up, got, tt.want)
		}
	}
}

func TestForwardedHTTPS(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		proto   []string
		trusted []netip.Prefix
		want    bool
	}{
		{name: "trusted proxy says https", remote: "10.1.2.3:4711", proto: []string{"https"}, trusted: proxies, want: true},
		{name: "in any case", remote: "10.1.2.3:4711", proto: []string{"HTTPS"}, trusted: proxies, want: true},
		{name: "IPv4-mapped trusted proxy", remote: "[::ffff:10.1.2.3]:4711", proto: []string{"https"}, trusted: proxies, want: true},
		{name: "IPv6 trusted proxy", remote: "[fd00::1]:4711", proto: []string{"https"}, trusted: proxies, want: true},
		{name: "https anywhere in a list", remote: "10.1.2.3:4711", proto: []string{"http , https"}, trusted: proxies, want: true},
		{name: "https on a second line", remote: "10.1.2.3:4711", proto: []string{"http", "https"}, trusted: proxies, want: true},
		{name: "trusted proxy says http", remote: "10.1.2.3:4711", proto: []string{"http"}, trusted: proxies},
		{name: "trusted proxy says nothing", remote: "10.1.2.3:4711", trusted: proxies},
		{name: "untrusted peer says https", remote: "203.0.113.5:4711", proto: []string{"https"}, trusted: proxies},
		{name: "no proxies trusted", remote: "10.1.2.3:4711", proto: []string{"https"}},
		{name: "peer that is no address", remote: "@unix", proto: []string{"https"}, trusted: proxies},
		{name: "not https but like it", remote: "10.1.2.3:4711", proto: []string{"httpsx", "wss"}, trusted: proxies},
	}
	for _, tt := range tests {
		if got := forwardedHTTPS(tt.remote, tt.proto, tt.trusted); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
