// Package clientip finds the address of the client behind the server's TLS proxy: the
// TCP peer, or, when the peer is a trusted proxy, the right-most address in
// X-Forwarded-For that is not itself a trusted proxy. Rate limits key on it.
package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Limits on what Addr reads of X-Forwarded-For. A proxy chain is a few hops long;
// anything past these bounds is a client's padding, and the walk stops there.
const (
	// MaxHops is how many entries, from the right, are looked at.
	MaxHops = 16
	// maxEntry is the longest entry parsed: an IPv6 address with a port is under 50
	// bytes.
	maxEntry = 64
)

// Resolver says which peers are trusted proxies and finds the client behind them.
// The zero value trusts no one: every request's client is its TCP peer.
type Resolver struct {
	trusted []netip.Prefix
}

// Parse reads a comma-separated list of CIDR prefixes ("10.0.0.0/8, ::1/128"); a bare
// address stands for itself (/32 or /128). Space around entries is ignored, and an
// empty list trusts no one. A bad entry is an error that names it.
func Parse(list string) (*Resolver, error) {
	r := &Resolver{}
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p, err := parsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("clientip: trusted proxy %q: want a CIDR prefix such as 10.0.0.0/8 or an address such as ::1", clip(e))
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("not an address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	// An IPv4-mapped prefix (::ffff:10.0.0.0/104) would never match: addresses are
	// unmapped before they are compared.
	if p.Addr().Is4In6() {
		return netip.Prefix{}, errors.New("IPv4-mapped prefix")
	}
	return p.Masked(), nil
}

// String lists the trusted prefixes as Parse reads them.
func (r *Resolver) String() string {
	parts := make([]string, len(r.trusted))
	for i, p := range r.trusted {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr is the client of req. When the TCP peer is not a trusted proxy, it is the
// peer, whatever the headers say. Otherwise X-Forwarded-For (all its header lines, as
// one comma-separated list) is walked from the right, skipping trusted proxies, and
// the first address that is not one is the client. The walk stops at an entry that
// is not an address, at MaxHops entries, or at the list's start; the client is then
// the last trusted hop walked (or the peer), since no one it passed the request on
// for can be believed. Addresses are unmapped (::ffff:192.0.2.1 is 192.0.2.1) and
// lose any zone. A peer that is not ip:port (a test's RemoteAddr, a Unix socket)
// gives the zero Addr.
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer := Peer(req)
	if !r.Trusted(peer) {
		return peer
	}
	client := peer
	hops := 0
	lines := req.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			entry := line
			j := strings.LastIndexByte(line, ',')
			if j >= 0 {
				entry, line = line[j+1:], line[:j]
			}
			if hops++; hops > MaxHops {
				return client
			}
			a, ok := parseEntry(strings.TrimSpace(entry))
			if !ok {
				return client
			}
			if !r.Trusted(a) {
				return a
			}
			client = a
			if j < 0 {
				break
			}
		}
	}
	return client
}

// Peer is the TCP peer's address, unmapped and without zone; the zero Addr when
// RemoteAddr is not ip:port or ip.
func Peer(req *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(req.RemoteAddr); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// parseEntry reads one X-Forwarded-For entry: an address, or an address with a port
// ("192.0.2.1:443", "[2001:db8::1]:443"), which some proxies write.
func parseEntry(s string) (netip.Addr, bool) {
	if s == "" || len(s) > maxEntry {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// Bucket is the prefix rate limits count a client under: its IPv4 address, or its
// IPv6 /64, the smallest block a subscriber is given (one host holds a whole /64, and
// can pick a new address in it for every request). The zero Addr is one bucket.
func Bucket(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// clip keeps an error message about configuration readable.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
