package e2e_test

import (
	"bytes"
	"cmp"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"mitidchip/e2e/scenario"
)

// screenshots is where TestScreenshots keeps its pictures; `make screenshots` sets it
// to docs/screenshots. Without it (`make test`) the pictures are taken and checked,
// not kept: nothing is written into docs/, and no time goes into compressing them.
var screenshots = flag.String("screenshots", "", "folder for the screenshots of every step (make screenshots: docs/screenshots)")

// viewport is a device the page is pictured on.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
}

var viewports = []viewport{
	{name: "phone", width: 390, height: 844, scale: 2, mobile: true},
	{name: "desktop", width: 1280, height: 800, scale: 1},
}

// Every step in English and in Danish, the whole page, at a phone's viewport (390×844
// CSS px, at 2 device pixels per px as phones have) and a desktop's (1280×800), as
// <viewport>-<step>.png and <viewport>-<step>-da.png.
func TestScreenshots(t *testing.T) {
	dir := *screenshots
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("screenshots folder: %v", err)
		}
	}
	var taken []string
	scenario.Tour(t, func(p *scenario.Page, stop string) {
		if len(taken) == 0 {
			p.UseLanguage("en")
		}
		if stop == "chip" {
			// The virtual chip is dev mode's; a citizen's page never offers it.
			scenario.Eval[bool](p, "(document.getElementById('virtual').hidden = true)")
			defer scenario.Eval[bool](p, "!(document.getElementById('virtual').hidden = false)")
		}
		p.InEachLanguage(func(lang string) {
			taken = append(taken, shoot(t, p, dir, stop, lang)...)
		})
	})
	if want := len(scenario.TourStops) * len(viewports) * len(scenario.Languages); len(taken) != want {
		t.Fatalf("screenshots: expected %d, got %d: %v", want, len(taken), taken)
	}
	if dir != "" {
		t.Logf("%d screenshots in %s", len(taken), dir)
	}
}

// shoot pictures the page at every viewport as <viewport>-<name>.png (English) or
// <viewport>-<name>-<lang>.png, checks each picture's size, and keeps it in dir
// unless dir is "". It returns the file names.
func shoot(t *testing.T, p *scenario.Page, dir, name, lang string) []string {
	t.Helper()
	// The pointer off the controls: a hover colour is not part of the step.
	p.B.Do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 0, 0))
	if lang != "en" {
		name += "-" + lang
	}
	var files []string
	for _, v := range viewports {
		file := filepath.Join(dir, v.name+"-"+name+".png")
		shot := picture(t, p, v)
		size, err := png.DecodeConfig(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("screenshot %s: expected a PNG, got %v", file, err)
		}
		if w, h := int(float64(v.width)*v.scale), int(float64(v.height)*v.scale); size.Width != w || size.Height < h {
			t.Fatalf("screenshot %s: expected %d px wide and at least %d px high, got %d×%d", file, w, h, size.Width, size.Height)
		}
		files = append(files, file)
		if dir == "" {
			continue
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("screenshot %s: %v", file, err)
		}
		// Chromium encodes for speed; the pictures go into the repository.
		var small bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&small, fewColours(img)); err != nil {
			t.Fatalf("screenshot %s: %v", file, err)
		}
		if err := os.WriteFile(file, small.Bytes(), 0o644); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
	}
	return files
}

// picture is a PNG of the whole page at viewport v, once the page has been laid out
// and painted at that size.
func picture(t *testing.T, p *scenario.Page, v viewport) []byte {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.scale)}
	if v.mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	p.B.Do(chromedp.EmulateViewport(v.width, v.height, opts...))
	scenario.Eval[bool](p, "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))")
	shot, err := chromedp.Run(p.B.Context(), chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot at %s size: %v", v.name, err)
	}
	return shot
}

// fewColours is img in its 256 most common colours, each other pixel in the nearest
// of them: a page of flat colours and anti-aliased text looks the same, and the
// file is about a third of the size.
func fewColours(img image.Image) *image.Paletted {
	b := img.Bounds()
	src, ok := img.(*image.NRGBA)
	if !ok {
		src = image.NewNRGBA(b)
		draw.Draw(src, b, img, b.Min, draw.Src)
	}
	at := func(x, y int) uint32 { // as 0xRRGGBBAA
		p := src.Pix[src.PixOffset(x, y):][:4]
		return uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
	}
	count := map[uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			count[at(x, y)]++
		}
	}
	common := slices.SortedFunc(maps.Keys(count), func(a, b uint32) int {
		return cmp.Or(count[b]-count[a], cmp.Compare(a, b))
	})
	palette := make(color.Palette, min(256, len(common)))
	for i := range palette {
		c := common[i]
		palette[i] = color.NRGBA{R: uint8(c >> 24), G: uint8(c >> 16), B: uint8(c >> 8), A: uint8(c)}
	}
	out := image.NewPaletted(b, palette)
	index := map[uint32]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := at(x, y)
			i, ok := index[c]
			if !ok {
				i = uint8(palette.Index(color.NRGBA{R: uint8(c >> 24), G: uint8(c >> 16), B: uint8(c >> 8), A: uint8(c)}))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}
