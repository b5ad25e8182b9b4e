package e2e_test

import (
	"context"
	"slices"
	"strings"
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

// The logon page on a slow network (decision 96): the user ID and password form is
// there before logon.js's imports, the catalogue and the server's answers; the person
// types and presses Continue meanwhile, which never submits the form natively (a GET
// would put the password in the address); once everything arrives the logon goes on
// from what was typed, to the chip and Mit MitID.
func TestLogonFormBeforeAnything(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	const person = "e2e-person-logon-early"
	act := harness.New(t)
	act.EmulateChip(vc)
	page := toConnect(t, s, act, person, "bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	userID := scenario.UserIDOf(person)

	// Everything logon.js loads is held, and any request whose address would carry
	// the password (a native submission's GET) is held and so recorded.
	hold := func(b *harness.Browser) *harness.Held {
		return b.Hold("*/page*.js", "*/i18n*.js", "*/api*.js", "*/module*.js", "*/step-chip*.js",
			"*/i18n/*", "*/api/v1/*", "*/main*.wasm", "*password=*", "*Vesterhavet*")
	}
	notReady := func(p *scenario.Page, when string) {
		t.Helper()
		if scenario.Eval[bool](p, "document.getElementById('lang-toggle').checkVisibility()") {
			t.Fatalf("%s: expected the page not ready yet (no language switch), it is", when)
		}
	}

	// Typing only, then the page gets ready: what was typed and the focus stay.
	b := harness.New(t)
	held := hold(b)
	early := scenario.OpenLogon(t, b, s, "/logon")
	notReady(early, "typing")
	if !early.Visible("user-id") || !early.Visible("logon-password") {
		t.Fatal("before anything loaded: expected the user ID and password fields shown")
	}
	if got := early.Focused(); !strings.HasPrefix(got, "input#user-id ") {
		t.Errorf("before anything loaded: expected the focus in #user-id, got %q", got)
	}
	early.Type("#user-id", userID)
	held.Release()
	early.WaitJS("the language switch", "document.getElementById('lang-toggle').checkVisibility()")
	if got := scenario.Eval[string](early, "document.getElementById('user-id').value"); got != userID {
		t.Fatalf("after the page was ready: expected #user-id to hold %q, got %q", userID, got)
	}
	if got := early.Focused(); !strings.HasPrefix(got, "input#user-id ") {
		t.Errorf("after the page was ready: expected the focus still in #user-id, got %q", got)
	}

	// Typing and Continue before anything loaded, in a browser with the chip.
	b = harness.New(t)
	b.EmulateChip(vc)
	held = hold(b)
	logon := scenario.OpenLogon(t, b, s, "/logon")
	notReady(logon, "typing")
	if got := held.Requests(); !slices.ContainsFunc(got, func(u string) bool { return strings.Contains(u, "/page") }) {
		t.Fatalf("the page's imports: expected them asked for meanwhile, got %q", got)
	}
	logon.Type("#user-id", userID)
	logon.Type("#logon-password", linkPassword)
	logon.Click("#logon-continue")
	logon.WaitJS("Continue's wish shown", "document.getElementById('logon-progress').checkVisibility()")
	notReady(logon, "Continue pressed")
	logon.WaitStep("credentials")
	carried := func(when string) {
		t.Helper()
		if href := scenario.Eval[string](logon, "location.href"); strings.Contains(href, "password") || strings.Contains(href, "Vesterhavet") {
			t.Fatalf("%s: the address carries the password: %s", when, href)
		}
		for _, u := range held.Requests() {
			if strings.Contains(u, "password=") || strings.Contains(u, "Vesterhavet") {
				t.Fatalf("%s: a request carried the password in its address: %s", when, u)
			}
		}
		for _, body := range held.Bodies() {
			if strings.Contains(body, "Vesterhavet") {
				t.Fatalf("%s: a request carried the password in its body: %s", when, body)
			}
		}
	}
	carried("Continue pressed early")
	if got := scenario.Eval[string](logon, "document.getElementById('logon-password').value"); got != linkPassword {
		t.Fatalf("Continue pressed early: expected the password field still to hold what was typed, got %q", got)
	}

	held.Release()
	logon.WaitChipStep()
	carried("past the password")
	logon.ChooseTransport("bluetooth")
	logon.Approve(vc)
	carried("at Mit MitID")
	if got := logon.Text("mit-user-id"); got != userID {
		t.Fatalf("Mit MitID user ID: expected %q, got %q", userID, got)
	}
}
