package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"empty trusts no one", "", "", true},
		{"spaces only", " , ,", "", true},
		{"proxy on the same host", "127.0.0.1/32,::1/128", "127.0.0.1/32,::1/128", true},
		{"bare addresses", " 127.0.0.1 , ::1 ", "127.0.0.1/32,::1/128", true},
		{"networks are masked", "10.1.2.3/8, 2001:db8::1/32", "10.0.0.0/8,2001:db8::/32", true},
		{"mapped bare address is IPv4", "::ffff:192.0.2.1", "192.0.2.1/32", true},
		{"not an address", "proxy.internal", "", false},
		// A bad entry is named in the error; the cases put it last.
		{"bad prefix length", "10.0.0.0/33", "", false},
		{"one bad entry among good ones", "127.0.0.1/32,10.0.0.0/x", "", false},
		{"address with port", "127.0.0.1:8080", "", false},
		{"zone", "fe80::1%eth0", "", false},
		{"mapped prefix", "::ffff:10.0.0.0/104", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Parse(c.in)
			if !c.ok {
				if err == nil {
					t.Fatalf("Parse(%q): expected an error, got %s", c.in, r)
				}
				if bad := strings.TrimSpace(c.in[strings.LastIndex(c.in, ",")+1:]); !strings.Contains(err.Error(), `"`+bad+`"`) {
					t.Errorf("Parse(%q): expected the error to name the bad entry %q, got %v", c.in, bad, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): expected no error, got %v", c.in, err)
			}
			if got := r.String(); got != c.want {
				t.Errorf("Parse(%q): expected %q, got %q", c.in, c.want, got)
			}
		})
	}
}

func request(peer string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/handoff", nil)
	r.RemoteAddr = peer
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestAddr(t *testing.T) {
	sameHost, err := Parse("127.0.0.1/32,::1/128")
	if err != nil {
		t.Fatal(err)
	}
	chain, err := Parse("127.0.0.1/32, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	none, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	long := make([]string, MaxHops+2)
	for i := range long {
		long[i] = "10.0.0.9"
	}
	long[0] = "198.51.100.7"
	cases := []struct {
		name string
		r    *Resolver
		req  *http.Request
		want string
	}{
		{"no proxies trusted: the peer", none, request("198.51.100.7:5000"), "198.51.100.7"},
		{"no proxies trusted: a forwarded address is ignored", none, request("198.51.100.7:5000", "203.0.113.1"), "198.51.100.7"},
		{"spoofed header from an untrusted peer changes nothing", sameHost, request("198.51.100.7:5000", "127.0.0.1, 203.0.113.1"), "198.51.100.7"},
		{"proxy on the same host (IPv4)", sameHost, request("127.0.0.1:41000", "203.0.113.1"), "203.0.113.1"},
		{"proxy on the same host (IPv6)", sameHost, request("[::1]:41000", "2001:db8::7"), "2001:db8::7"},
		{"the client's own header is to the left and ignored", sameHost, request("127.0.0.1:41000", "192.0.2.66, 203.0.113.1"), "203.0.113.1"},
		{"trusted hops are skipped", chain, request("127.0.0.1:41000", "192.0.2.66, 203.0.113.1, 10.1.1.1"), "203.0.113.1"},
		{"several header lines are one list", chain, request("127.0.0.1:41000", "192.0.2.66, 203.0.113.1", "10.1.1.1, 10.2.2.2"), "203.0.113.1"},
		{"entries with ports and mapped forms", chain, request("127.0.0.1:41000", "[2001:db8::9]:443", "::ffff:10.1.1.1"), "2001:db8::9"},
		{"mapped peer is IPv4", sameHost, request("[::ffff:127.0.0.1]:41000", "203.0.113.1"), "203.0.113.1"},
		{"no header: the trusted peer", sameHost, request("127.0.0.1:41000"), "127.0.0.1"},
		{"only trusted hops: the left-most of them", chain, request("127.0.0.1:41000", "10.3.3.3, 10.1.1.1"), "10.3.3.3"},
		{"malformed entry stops the walk at the last trusted hop", chain, request("127.0.0.1:41000", "203.0.113.1, unknown, 10.1.1.1"), "10.1.1.1"},
		{"malformed right-most entry: the peer", sameHost, request("127.0.0.1:41000", "203.0.113.1, not-an-ip"), "127.0.0.1"},
		{"empty entry: the peer", sameHost, request("127.0.0.1:41000", "203.0.113.1,"), "127.0.0.1"},
		{"empty header line: the peer", sameHost, request("127.0.0.1:41000", "203.0.113.1", ""), "127.0.0.1"},
		{"huge entry: the peer", sameHost, request("127.0.0.1:41000", "203.0.113.1, "+strings.Repeat("1", 1<<20)), "127.0.0.1"},
		{"more trusted hops than MaxHops: the last one walked", chain, request("127.0.0.1:41000", strings.Join(long, ",")), "10.0.0.9"},
		{"peer without port", none, request("198.51.100.7"), "198.51.100.7"},
		{"peer that is not an address", sameHost, request("@", "203.0.113.1"), "invalid IP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.r.Addr(c.req).String(); got != c.want {
				t.Errorf("expected %s, got %s", c.want, got)
			}
		})
	}
}

func TestBucket(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
	}
	for _, c := range cases {
		if got := Bucket(netip.MustParseAddr(c.in)); got != c.want {
			t.Errorf("Bucket(%s): expected %s, got %s", c.in, c.want, got)
		}
	}
	if got := Bucket(netip.Addr{}); got != "unknown" {
		t.Errorf("Bucket of the zero Addr: expected unknown, got %s", got)
	}
}

// FuzzParse: any list either fails or yields prefixes that read back the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "127.0.0.1/32,::1/128", "10.0.0.0/8, 192.168.0.1", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.4/99", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		r, err := Parse(list)
		if err != nil {
			return
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q) gave %q, which does not parse: %v", list, r, err)
		}
		if again.String() != r.String() {
			t.Fatalf("Parse(%q) gave %q, which reads back as %q", list, r, again)
		}
	})
}

// FuzzAddr: whatever X-Forwarded-For holds, the client is the peer when the peer is
// not trusted, and otherwise the peer or an address from the header; it is trusted
// only when no untrusted address was reached.
func FuzzAddr(f *testing.F) {
	f.Add("127.0.0.1:1", "203.0.113.1, 10.0.0.1", "")
	f.Add("198.51.100.7:1", "127.0.0.1", "")
	f.Add("[::1]:1", "[2001:db8::1]:80", "junk,,")
	f.Add("127.0.0.1:1", strings.Repeat("10.0.0.1,", 40), "1.2.3.4")
	r, err := Parse("127.0.0.1/32,::1/128,10.0.0.0/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, peer, line1, line2 string) {
		req := request(peer, line1, line2)
		got := r.Addr(req)
		p := Peer(req)
		if !r.Trusted(p) {
			if got != p {
				t.Fatalf("untrusted peer %s: expected it as the client, got %s", p, got)
			}
			return
		}
		if got == p {
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("client %s: expected a plain address", got)
		}
		found := false
		for _, e := range strings.Split(line1+","+line2, ",") {
			if a, ok := parseEntry(strings.TrimSpace(e)); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("client %s is neither the peer nor in the header %q %q", got, line1, line2)
		}
	})
}
