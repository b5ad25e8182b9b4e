package e2e_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// A browser with neither Web Bluetooth nor Web NFC (Firefox here; iPhones in
// handover_test.go) is told so at once, before any password field, with the ways
// forward that work: continue on another device, or Borgerservice; and no button
// that leads nowhere.
//
// The server runs without -dev, as citizens meet it: in dev mode the page also offers
// the virtual chip, a developer's way in that would hide what this test is about.
func TestNoChipAPIGuidance(t *testing.T) {
	s := scenario.Start(t, scenario.Production())
	b := harness.New(t, harness.WithoutWebBluetooth()) // and no NFC fake: desktop Chromium has no NDEFReader

	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-no-api", ""))
	page.UseLanguage("en")
	page.WaitStep("device")

	if got := scenario.Eval[map[string]bool](page, `({
		bluetooth: 'bluetooth' in navigator,
		nfc: 'NDEFReader' in globalThis,
	})`); got["bluetooth"] || got["nfc"] {
		t.Fatalf("browser APIs: expected neither Web Bluetooth nor Web NFC, got %v", got)
	}
	for _, id := range []string{"password"} {
		if visible(page, id) {
			t.Errorf("#%s: expected hidden in a browser that cannot connect, it is shown", id)
		}
	}

	// The guidance, in the catalogue's words: its title and every way forward.
	text := scenario.Eval[string](page, "document.getElementById('step-device').innerText")
	for _, key := range []string{"device.other.title", "device.other.body", "device.safe", "device.handover", "device.borgerservice_intro", "device.borgerservice"} {
		if want := s.Text(t, "en", key); !strings.Contains(text, want) {
			t.Errorf("guidance: expected %s %q, got:\n%s", key, want, text)
		}
	}
	if href := scenario.Eval[string](page, "document.getElementById('borgerservice-link').href"); href != "https://www.borger.dk/borgerservice" {
		t.Errorf("Borgerservice link: expected https://www.borger.dk/borgerservice, got %q", href)
	}

	// Every button a person can see and press must do something (the help and
	// Borgerservice links of every step aside).
	buttons := scenario.Eval[[]string](page, `[...document.querySelectorAll('button, input[type=submit], input[type=button], a[href]')]
		.filter(el => el.checkVisibility({visibilityProperty: true}) && !el.disabled && el.getAttribute('aria-disabled') !== 'true')
		.filter(el => !`+pageLinks+`.includes(el.id))
		.map(el => el.id || el.outerHTML.slice(0, 80))`)
	if want := []string{"lang-toggle", "handover-start", "borgerservice-link"}; !slices.Equal(buttons, want) {
		t.Fatalf("visible, enabled controls: expected only %v, got %v", want, buttons)
	}
	page.Click("#handover-start")
	page.WaitStep("handover")
	if code := scenario.Eval[string](page, "document.getElementById('handover-code').textContent"); len(code) != 9 {
		t.Errorf("handover code: expected ABCD-EFGH, got %q", code)
	}
}

func visible(p *scenario.Page, id string) bool {
	return scenario.Eval[bool](p, "document.getElementById("+strconv.Quote(id)+").checkVisibility({visibilityProperty: true})")
}
