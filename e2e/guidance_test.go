package e2e_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// A browser with neither Web Bluetooth nor Web NFC (Firefox, iOS Safari) gets the
// guidance: another browser or device, or a Citizen Service Centre; and no button
// that leads nowhere.
//
// The server runs without -dev, as citizens meet it: in dev mode the page also offers
// the virtual chip, a developer's way in that would hide what this test is about.
func TestNoChipAPIGuidance(t *testing.T) {
	s := scenario.Start(t, scenario.Production())
	b := harness.New(t, harness.WithoutWebBluetooth()) // and no NFC fake: desktop Chromium has no NDEFReader

	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-no-api", ""))
	page.UseLanguage("en")
	page.CreatePassword("Sommerhus ved Vesterhavet 7")
	page.WaitStep("chip")
	page.WaitJS("the check of the browser's ways to the chip", "document.getElementById('transport-checking').hidden")

	if got := scenario.Eval[map[string]bool](page, `({
		bluetooth: 'bluetooth' in navigator,
		nfc: 'NDEFReader' in globalThis,
	})`); got["bluetooth"] || got["nfc"] {
		t.Fatalf("browser APIs: expected neither Web Bluetooth nor Web NFC, got %v", got)
	}

	// Nothing to choose: no transport, no dev option, no "turn Bluetooth on".
	for _, id := range []string{"transport-nfc", "transport-bluetooth", "bluetooth-note", "bluetooth-off", "virtual"} {
		if visible(page, id) {
			t.Errorf("#%s: expected hidden in a browser without NFC and Bluetooth, it is shown", id)
		}
	}

	// The guidance, in the catalogue's words: its title and every way forward.
	if !visible(page, "no-transport") {
		t.Fatal("#no-transport: expected the guidance shown, it is hidden")
	}
	text := scenario.Eval[string](page, "document.getElementById('no-transport').innerText")
	for _, key := range []string{"unsupported.title", "unsupported.android", "unsupported.bluetooth", "unsupported.borgerservice", "unsupported.restart"} {
		if want := s.Text(t, "en", key); !strings.Contains(text, want) {
			t.Errorf("guidance: expected %s %q, got:\n%s", key, want, text)
		}
	}

	// Every button a person can see and press must do something: here only the
	// language switch is left, besides the help and Borgerservice links of every step.
	buttons := scenario.Eval[[]string](page, `[...document.querySelectorAll('button, input[type=submit], input[type=button], a[href]')]
		.filter(el => el.checkVisibility({visibilityProperty: true}) && !el.disabled && el.getAttribute('aria-disabled') !== 'true')
		.filter(el => !`+pageLinks+`.includes(el.id))
		.map(el => el.id || el.outerHTML.slice(0, 80))`)
	if want := []string{"lang-toggle"}; !slices.Equal(buttons, want) {
		t.Fatalf("visible, enabled controls on the chip step: expected only %v, got %v", want, buttons)
	}
}

func visible(p *scenario.Page, id string) bool {
	return scenario.Eval[bool](p, "document.getElementById("+strconv.Quote(id)+").checkVisibility({visibilityProperty: true})")
}
