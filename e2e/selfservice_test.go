package e2e_test

import (
	"context"
	"strings"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// Self-service at MitID.dk: activation, then logon with user ID, password and the
// chip over Bluetooth; Mit MitID shows the chip and the activity; the password is
// changed (the old one, the new one twice, the chip's press); after log off the new
// password logs on and the old one is refused; then the chip is blocked at Mit
// MitID, after which it can neither log on nor be activated again. axe-core on
// every new state, in Danish and English.
func TestSelfService(t *testing.T) {
	s := scenario.Start(t)
	axe := scenario.LoadAxe(t)
	vc := devChip(t, s, "MC-000003")
	const person, userID = "e2e-person-self", "E2E.Self"
	const password, newPassword = "Solsikke-Cykel-58!", "Blåbær-Tromme-94?"
	b := harness.New(t)
	b.EmulateChip(vc)

	page := scenario.Open(t, b, s, s.NewLink(t, person, userID))
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.ChooseTransport("bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()

	// Each logon in a browser of its own (Chromium's Bluetooth emulation is set up
	// once per browser, before its first page); the chip speaks NFC there too, which
	// Mit MitID uses after the logon's navigation.
	logOn := func(pw string) *scenario.Page {
		t.Helper()
		b := harness.New(t)
		b.EmulateChip(vc)
		b.EmulateNFC(vc)
		p := scenario.OpenLogon(t, b, s, "/logon")
		p.LogOnWith("e2e.self", pw)
		p.ChooseTransport("bluetooth")
		return p
	}
	mit := logOn(password)
	mit.Approve(vc)
	if got := mit.Text("mit-chip-serial"); got != vc.Serial() {
		t.Fatalf("Mit MitID chip: expected %s, got %q", vc.Serial(), got)
	}
	activity := func(p *scenario.Page, keys ...string) {
		t.Helper()
		text := p.Text("activity-list")
		for _, k := range keys {
			if want := p.Message(k, nil); !strings.Contains(text, want) {
				t.Fatalf("activity: expected %q in %q", want, text)
			}
		}
	}
	activity(mit, "activity.activation_completed", "activity.logged_on")
	checkAxe(t, mit, axe, "Mit MitID")

	// Change the password: the old one, then the new one twice, then the chip.
	mit.Click("#change-password")
	mit.WaitStep("old")
	checkAxe(t, mit, axe, "change password: the old one")
	mit.Type("#old-password", password)
	mit.Click("#old-continue")
	mit.WaitPasswordReady()
	checkAxe(t, mit, axe, "change password: the new one")
	mit.CreatePassword(newPassword)
	checkAxe(t, mit, axe, "change password: the chip")
	mit.ChooseTransport("nfc")
	mit.PressChip(vc)
	mit.WaitStep("changed")
	checkAxe(t, mit, axe, "password changed")
	p, err := s.Store.Person(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	mit.Click("#changed-back")
	mit.WaitStep("mit")
	activity(mit, "activity.password_changed")
	mit.Click("#logoff")
	mit.WaitStep("credentials")

	// The old password is refused; the new one logs on.
	old := scenario.OpenLogon(t, mit.B, s, "/logon")
	old.Type("#user-id", "e2e.self")
	old.Type("#logon-password", password)
	old.Click("#logon-continue")
	old.ExpectErrorWithin(scenario.PasswordTimeout, "credentials", old.Message("error.logon_failed", nil))
	mit = logOn(newPassword)
	mit.Approve(vc)
	if q, err := s.Store.Person(context.Background(), person); err != nil || string(q.PasswordVerifier) != string(p.PasswordVerifier) {
		t.Fatalf("the person's verifier changed again: %v", err)
	}

	// Block the chip at Mit MitID.
	mit.Click("#block-open")
	mit.WaitStep("block")
	if got := mit.Text("block-serial"); got != vc.Serial() {
		t.Fatalf("block: expected chip %s, got %q", vc.Serial(), got)
	}
	checkAxe(t, mit, axe, "block: confirm")
	mit.Click("#block-submit")
	mit.WaitStep("chip-blocked")
	checkAxe(t, mit, axe, "chip blocked")
	blk, err := s.Store.ChipBlock(context.Background(), vc.Serial())
	if err != nil || blk.Reason != store.BlockReasonRequested {
		t.Fatalf("block record: %+v (%v)", blk, err)
	}
	mit.B.Navigate(s.Origin + "/mit")
	mit.WaitStep("credentials") // logged off: sent to the logon page

	// The blocked chip cannot log on ...
	refused := logOn(newPassword)
	refused.PressChip(vc)
	refused.ExpectErrorWithin(scenario.StepTimeout, "press", refused.Message("error.chip_blocked", nil))

	// ... nor be activated again.
	b2 := harness.New(t)
	b2.EmulateNFC(vc)
	act := toConnect(t, s, b2, person, "nfc")
	act.Click("#connect-next")
	act.ExpectTerminal("chip_blocked", "next.order_chip")
}
