package qrsvg

import (
	"encoding/base64"
	"encoding/xml"
	"strings"
	"testing"
)

// The SVG is well-formed XML with a view box of the symbol plus its quiet zone, and
// a data URI decodes back to it.
func TestSVG(t *testing.T) {
	const url = "https://mitid.example/continue#c=ABCDEFGH"
	svg, err := SVG(url)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"svg"`
		ViewBox string   `xml:"viewBox,attr"`
		Path    struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("the SVG: expected XML, got %v:\n%s", err, svg)
	}
	// A URL of this length needs version 3 (29 modules) at level M; 4 on each side.
	if doc.ViewBox != "0 0 37 37" {
		t.Errorf("view box: expected %q, got %q", "0 0 37 37", doc.ViewBox)
	}
	if !strings.HasPrefix(doc.Path.D, "M4 4h7v1h-7z") {
		t.Errorf("path: expected the finder pattern's top row first (M4 4h7v1h-7z), got %.40s", doc.Path.D)
	}
	uri, err := DataURI(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/svg+xml;base64,"))
	if err != nil || string(b) != string(svg) {
		t.Errorf("data URI: expected the SVG, got %q (%v)", b, err)
	}
}
