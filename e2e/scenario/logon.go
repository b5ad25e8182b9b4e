package scenario

import (
	"testing"
	"time"

	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
)

// OpenLogon loads the logon page at MitID.dk (path is "/logon" or
// "/logon?auth_request=…") and waits for its form.
func OpenLogon(t testing.TB, b *harness.Browser, s *Server, path string) *Page {
	t.Helper()
	b.Navigate(s.Origin + path)
	p := &Page{t: t, B: b, srv: s}
	p.WaitStep("credentials")
	return p
}

// LogOnWith types the user ID and the password with real key events, presses
// Continue and waits until the page asks how to connect the chip (the key is derived
// in the browser, so within PasswordTimeout).
func (p *Page) LogOnWith(userID, password string) {
	p.t.Helper()
	p.WaitStep("credentials")
	p.WaitJS("the language switch", "document.getElementById('lang-toggle').checkVisibility()")
	p.Fill("#user-id", "")
	p.Type("#user-id", userID)
	p.Type("#logon-password", password)
	p.Click("#logon-continue")
	p.WaitChipStep()
}

// WaitChipStep waits until the page, past the user ID and password, asks how to
// connect the chip (the key is derived in the browser, so within PasswordTimeout).
func (p *Page) WaitChipStep() { p.t.Helper(); p.waitStep("chip", PasswordTimeout) }

// Approve presses Next on "hold your chip to the phone", waits until the chip waits
// for its button, presses it, and waits until the browser is at Mit MitID.
func (p *Page) Approve(vc *virtual.Chip) {
	p.t.Helper()
	p.PressChip(vc)
	p.WaitMit()
}

// PressChip presses Next on "hold your chip to the phone", waits until the chip
// waits for its button, and presses it; what the page does then is the caller's.
func (p *Page) PressChip(vc *virtual.Chip) {
	p.t.Helper()
	p.WaitStep("connect")
	p.Click("#connect-next")
	p.PressWhenAsked(vc)
}

// PressWhenAsked waits until the page asks for the chip's button and the chip waits
// for it, then presses it.
func (p *Page) PressWhenAsked(vc *virtual.Chip) {
	p.t.Helper()
	p.WaitStep("press")
	deadline := time.NewTimer(StepTimeout)
	defer deadline.Stop()
	for !vc.Waiting() {
		changed := vc.Changed()
		if vc.Waiting() {
			break
		}
		select {
		case <-changed:
		case <-deadline.C:
			p.t.Fatalf("waiting for chip %s to ask for its button: not after %v", vc.Serial(), StepTimeout)
		case <-p.B.Context().Done():
			p.t.Fatalf("waiting for chip %s to ask for its button: %v", vc.Serial(), p.B.Context().Err())
		}
	}
	vc.Press()
}

// WaitMit waits until the browser shows Mit MitID.
func (p *Page) WaitMit() {
	p.t.Helper()
	p.WaitJS("Mit MitID", "location.pathname === '/mit' && document.body.dataset.step === 'mit'")
}
