// Package qrsvg draws a QR code as a small SVG (one path of dark modules on white,
// with the quiet zone), for a page to show as an image. The symbol is made by
// github.com/boombuler/barcode/qr, which the TOTP library already brings in.
package qrsvg

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// quiet is the white border the QR standard asks for, in modules.
const quiet = 4

// SVG is content as a QR code (error correction M) in SVG.
func SVG(content string) ([]byte, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("qrsvg: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	dark := func(x, y int) bool {
		r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return r < 0x8000
	}
	var d strings.Builder
	for y := range n {
		for x := 0; x < n; {
			if !dark(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < n && dark(x+run, y) {
				run++
			}
			fmt.Fprintf(&d, "M%d %dh%dv1h-%dz", x+quiet, y+quiet, run, run)
			x += run
		}
	}
	size := n + 2*quiet
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`, size, size, size, size, d.String()), nil
}

// DataURI is content as a QR code in a data: URI of its SVG, for an <img> under a
// Content-Security-Policy that allows data: images.
func DataURI(content string) (string, error) {
	svg, err := SVG(content)
	if err != nil {
		return "", err
	}
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg), nil
}
