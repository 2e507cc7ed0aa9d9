package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// ClientAddr is the address of the client that sent r (SignInGate): the direct peer, or,
// when the peer is a trusted proxy, the rightmost address in
// X-Forwarded-For that is not a trusted proxy. Each trusted proxy appends
// the address it saw, so everything left of the first untrusted hop may be
// forged by the client and is ignored.
func (s *Server) ClientAddr(r *http.Request) string {
	return clientAddress(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
}

func clientAddress(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	peer, ok := peerAddr(remoteAddr)
	if !ok {
		host, _, err := net.SplitHostPort(remoteAddr)
		if err != nil {
			return remoteAddr
		}
		return host
	}
	client := peer
	isTrusted := func(a netip.Addr) bool { return contains(trusted, a) }
	if !isTrusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range forwardedFor {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for _, hop := range slices.Backward(hops) {
		addr, ok := parseHop(strings.TrimSpace(hop))
		if !ok {
			// A trusted proxy never writes this; whatever is left of it
			// is not to be believed. Keep the last good hop.
			break
		}
		client = addr
		if !isTrusted(addr) {
			break
		}
	}
	return client.String()
}

// OverHTTPS reports whether the client reached this server over HTTPS:
// by TLS to it, or through a trusted proxy (the direct peer) that says so
// in X-Forwarded-Proto, as one that terminates TLS does. An untrusted
// peer's X-Forwarded-Proto is ignored.
func (s *Server) OverHTTPS(r *http.Request) bool {
	return r.TLS != nil || forwardedHTTPS(r.RemoteAddr, r.Header.Values("X-Forwarded-Proto"), s.cfg.TrustedProxies)
}

// forwardedHTTPS reports whether the peer at remoteAddr is a trusted
// proxy and a proxy said https in X-Forwarded-Proto. Any https in the list
// counts: a proxy that appends rather than sets the header was reached
// over https if anyone in the chain was, and a client that forges https
// through a proxy that passes it on only gets cookies its own plain-HTTP
// connection will not send back.
func forwardedHTTPS(remoteAddr string, forwardedProto []string, trusted []netip.Prefix) bool {
	peer, ok := peerAddr(remoteAddr)
	if !ok || !contains(trusted, peer) {
		return false
	}
	for _, v := range forwardedProto {
		for proto := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(proto), "https") {
				return true
			}
		}
	}
	return false
}

// peerAddr is the address of a request's RemoteAddr (host:port, or a
// bare host), IPv4-mapped addresses as IPv4.
func peerAddr(remoteAddr string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
}

// parseHop reads one X-Forwarded-For entry: an address, optionally with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
