package web

import (
	"strings"
	"testing"
)

func TestChooseEncoding(t *testing.T) {
	tests := []struct {
		name           string
		header         string
		haveBr, haveGz bool
		want           string
	}{
		{"no header", "", true, true, ""},
		{"chrome", "gzip, deflate, br, zstd", true, true, "br"},
		{"br preferred on a tie", "gzip, br", true, true, "br"},
		{"gzip only", "gzip, deflate", true, true, "gzip"},
		{"x-gzip", "x-gzip", true, true, "gzip"},
		{"higher q wins", "br;q=0.5, gzip;q=0.8", true, true, "gzip"},
		{"q=0 refuses br", "br;q=0, gzip", true, true, "gzip"},
		{"q=0.000 refuses", "br;q=0.000, gzip;q=0.0", true, true, ""},
		{"star", "*", true, true, "br"},
		{"star with br refused", "br;q=0, *", true, true, "gzip"},
		{"star refused", "*;q=0", true, true, ""},
		{"star refused but gzip named", "*;q=0, gzip", true, true, "gzip"},
		{"identity preferred explicitly", "br;q=0.2, identity;q=0.9", true, true, ""},
		{"identity refused, nothing else", "identity;q=0", false, false, ""},
		{"no br variant", "br, gzip;q=0.1", false, true, "gzip"},
		{"no variants", "br, gzip", false, false, ""},
		{"case and spaces", " BR ; Q=1 , GZip", true, true, "br"},
		{"malformed q ignores the element", "br;q=high, gzip", true, true, "gzip"},
		{"q over 1 ignores the element", "br;q=2, gzip", true, true, "gzip"},
		{"NaN is not a q", "br;q=NaN, gzip", true, true, "gzip"},
		{"exponent is not a q", "br;q=1e0, gzip;q=0.5", true, true, "gzip"},
		{"empty elements", ",,br,,", true, true, "br"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chooseEncoding(tc.header, tc.haveBr, tc.haveGz); got != tc.want {
				t.Errorf("%q: expected %q, got %q", tc.header, tc.want, got)
			}
		})
	}
}

func TestEtagMatches(t *testing.T) {
	const etag = `"abc"`
	tests := []struct {
		name    string
		headers []string
		want    bool
	}{
		{"none", nil, false},
		{"exact", []string{`"abc"`}, true},
		{"weak", []string{`W/"abc"`}, true},
		{"list", []string{`"x", "abc"`}, true},
		{"second header", []string{`"x"`, `"abc"`}, true},
		{"star", []string{`*`}, true},
		{"other", []string{`"abcd"`}, false},
		{"unquoted", []string{`abc`}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := etagMatches(tc.headers, etag); got != tc.want {
				t.Errorf("%q: expected %v, got %v", tc.headers, tc.want, got)
			}
		})
	}
}

func FuzzChooseEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "br;q=0, *", "identity;q=0.5, gzip;q=0.4", "*;q=0"} {
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, header string, haveBr, haveGz bool) {
		got := chooseEncoding(header, haveBr, haveGz)
		switch {
		case got == "br" && !haveBr, got == "gzip" && !haveGz:
			t.Fatalf("%q: chose %q, which the file does not have", header, got)
		case got != "" && got != "br" && got != "gzip":
			t.Fatalf("%q: chose unknown coding %q", header, got)
		}
		// A coding the client refuses by name is never sent.
		for part := range strings.SplitSeq(header, ",") {
			if c, q, ok := parseCoding(part); ok && q == 0 && (c == got || c == "x-gzip" && got == "gzip") {
				if strings.Count(strings.ToLower(header), c) == 1 {
					t.Fatalf("%q: chose %q although it is refused", header, got)
				}
			}
		}
	})
}
