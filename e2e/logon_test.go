package e2e_test

import (
	"context"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// Activation, then logon at MitID.dk with the user ID, the password and the same
// chip: over Bluetooth, then over NFC, each in a browser of its own (Chromium's
// Bluetooth emulation is set up once per browser, before its first page). Mit MitID
// shows the chip; log off ends the session, so Mit MitID sends the browser to the
// logon page.
func TestLogon(t *testing.T) {
	s := scenario.Start(t)
	axe := scenario.LoadAxe(t)
	vc := devChip(t, s, "MC-000003")
	const person, userID, password = "e2e-person-logon", "E2E.Logon", "Solsikke-Cykel-58!"
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
	if got, want := page.Text("completed-user-id"), "Your user ID is e2e.logon. You need it when you log on."; got != want {
		t.Fatalf("completed page: expected %q, got %q", want, got)
	}

	for _, kind := range []string{"bluetooth", "nfc"} {
		b := harness.New(t)
		var heard func() [][]byte // what the chip heard over this browser's link
		if kind == "bluetooth" {
			heard = b.EmulateChip(vc).Requests
		} else {
			heard = b.EmulateNFC(vc).Requests
		}
		logon := scenario.OpenLogon(t, b, s, "/logon")
		check := func(state string) {
			t.Helper()
			if kind != "bluetooth" {
				return // one browser's tour is enough
			}
			logon.InEachLanguage(func(lang string) {
				r := logon.Axe(axe)
				if r.Passes == 0 {
					t.Errorf("logon %s, %s: axe-core passed no rules: did it run?", state, lang)
				}
				for _, v := range r.Violations {
					t.Errorf("logon %s, %s: expected no WCAG 2.1 A/AA violations, got %s", state, lang, v)
				}
			})
		}
		check("credentials")
		if kind == "bluetooth" {
			// A wrong password and an unknown user ID get the same message.
			for _, uid := range []string{"e2e.logon", "nobody.here"} {
				logon.Fill("#user-id", "")
				logon.Type("#user-id", uid)
				logon.Type("#logon-password", "not the password")
				logon.Click("#logon-continue")
				logon.ExpectErrorWithin(scenario.PasswordTimeout, "credentials", logon.Message("error.logon_failed", nil))
				logon.Fill("#logon-password", "")
			}
			check("credentials, refused")
		}
		logon.LogOnWith("e2e.LOGON", password) // user IDs are not case-sensitive
		check("chip")
		logon.ChooseTransport(kind)
		logon.Approve(vc)
		check("Mit MitID")
		checkFrames(t, kind, heard()) // its hello, then the logon transcript to sign
		if got := logon.Text("mit-user-id"); got != "e2e.logon" {
			t.Fatalf("%s: Mit MitID user ID: expected %q, got %q", kind, "e2e.logon", got)
		}
		if got := logon.Text("mit-chip-serial"); got != vc.Serial() {
			t.Fatalf("%s: Mit MitID chip: expected %s, got %q", kind, vc.Serial(), got)
		}
		c, err := s.Store.ActiveChip(context.Background(), person)
		if err != nil || c.LastUsedAt.IsZero() {
			t.Fatalf("%s: the chip's last use is not recorded: %+v (%v)", kind, c, err)
		}
		logon.Click("#logoff")
		logon.WaitStep("credentials")
		b.Navigate(s.Origin + "/mit")
		logon.WaitStep("credentials") // no session: sent to the logon page
	}
}
