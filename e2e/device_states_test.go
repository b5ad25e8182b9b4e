package e2e_test

import (
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// The states of a browser that cannot connect, which the tour of a capable browser
// never reaches: an iPhone told at once (device), its handover code (handover), and
// the other device's page for the code (continue). Each has no WCAG 2.1 A/AA
// violation in either language, and each is pictured at a phone's and a desktop's
// size in both languages, as TestScreenshots pictures the steps (make screenshots keeps them).
func TestDeviceStates(t *testing.T) {
	s := scenario.Start(t, scenario.Production())
	axe := scenario.LoadAxe(t)
	check := func(p *scenario.Page, state string) {
		t.Helper()
		p.InEachLanguage(func(lang string) {
			r := p.Axe(axe)
			if r.Passes == 0 {
				t.Errorf("%s, %s: expected axe-core rules to pass, got none: did axe run?", state, lang)
			}
			for _, v := range r.Violations {
				t.Errorf("%s, %s: expected no WCAG 2.1 A/AA violations, got %s", state, lang, v)
			}
			shoot(t, p, *screenshots, state, lang)
		})
	}

	a := harness.New(t, harness.WithoutWebBluetooth())
	a.EmulateIPhone()
	phone := scenario.Open(t, a, s, s.NewLink(t, "e2e-person-states", ""))
	phone.WaitStep("device")
	check(phone, "iphone")
	phone.Click("#handover-start")
	phone.WaitStep("handover")
	phone.WaitJS("the QR code", "document.getElementById('handover-qr').complete && document.getElementById('handover-qr').naturalWidth > 0")
	check(phone, "handover")

	b := harness.New(t)
	other := scenario.Open(t, b, s, s.Origin+"/continue")
	other.WaitStep("continue")
	check(other, "continue")
}
