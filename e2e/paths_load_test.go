package e2e_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// The page on a slow network (issue 9): while main.wasm is still on its way, the
// person can type the password at once; Next shows that the page is getting ready,
// and the flow goes on by itself once the module arrives. The module is fetched once,
// for the page and the password worker both.
func TestPathTypeBeforeModule(t *testing.T) {
	s := scenario.Start(t)
	b := harness.New(t)
	held := b.Hold("*/main.*.wasm")
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-slow-module", ""))
	page.UseLanguage("en")
	page.WaitStep("password")
	started := "performance.getEntriesByName(" + strconv.Quote(scenario.StartedMark) + ").length > 0"
	if scenario.Eval[bool](page, started) {
		t.Fatalf("module held back: expected it not started, it has")
	}

	const password = "Regnvejr over Ribe 42"
	page.Type("#password", password)
	page.Type("#password-repeat", password)
	if got := scenario.Eval[string](page, "document.getElementById('password').value"); got != password {
		t.Fatalf("typing before the module is ready: expected the field to hold %q, got %q", password, got)
	}
	page.Click("#next-password")
	page.WaitJS("Next to show progress", "document.getElementById('password-progress').checkVisibility() && "+
		"document.getElementById('password-form').getAttribute('aria-busy') === 'true'")
	if got, want := page.Text("password-working"), page.Message("password.loading", nil); got != want {
		t.Fatalf("Next before the module is ready: expected %q shown, got %q", want, got)
	}
	if step := page.View().Step; step != "password" {
		t.Fatalf("Next before the module is ready: expected to stay on the password step, got %s", step)
	}

	held.Release()
	page.WaitView("the chip step, by itself", scenario.PasswordTimeout, func(v scenario.View) bool { return v.Step == "chip" })
	if got := held.Requests(); len(got) != 1 || !strings.HasSuffix(got[0], ".wasm") {
		t.Fatalf("main.wasm: expected one request for the page and the worker, got %q", got)
	}
	if !scenario.Eval[bool](page, started) {
		t.Fatalf("after the release: expected the module started, it is not")
	}
}

// The password form comes with the HTML (issue 9, decision 42): a fresh link in a
// browser that can connect shows the form and takes typing while the catalogue, the
// server's answer to the link and the module are all still on their way; when they
// come, what was typed stays, the focus stays in the field, and the rules judge it.
// A link that then fails is said, truly, in place of the form.
func TestPathFormBeforeAnything(t *testing.T) {
	s := scenario.Start(t)
	b := harness.New(t)
	b.EmulateNFC(devChip(t, s, "MC-000003"))
	held := b.Hold("*/main.*.wasm", "*/i18n/*", "*/api/v1/handoff")
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-early-form", ""))
	page.WaitStep("password")
	if !page.Visible("password") || !page.Visible("password-repeat") {
		t.Fatal("before anything loaded: expected the password fields shown")
	}
	if got := held.Requests(); !slices.ContainsFunc(got, func(u string) bool { return strings.HasSuffix(u, "/api/v1/handoff") }) {
		t.Fatalf("the link's redemption: expected it asked for meanwhile, got %q", got)
	}
	const typed = "Kanelsnegle"
	page.Type("#password", typed)
	if got := scenario.Eval[string](page, "document.getElementById('password').value"); got != typed {
		t.Fatalf("typing before anything loaded: expected the field to hold %q, got %q", typed, got)
	}
	if scenario.Eval[bool](page, "document.querySelector('#password-rules li').dataset.state !== 'pending'") {
		t.Fatal("before the module: expected the rules pending, one answered")
	}

	held.Release()
	page.WaitPasswordReady()
	page.WaitJS("the rules judging what was typed", "[...document.querySelectorAll('#password-rules li')].every((li) => li.dataset.state === 'met')")
	if got := scenario.Eval[string](page, "document.getElementById('password').value"); got != typed {
		t.Fatalf("after the page was ready: expected the field still to hold %q, got %q", typed, got)
	}
	if got := page.Focused(); !strings.HasPrefix(got, "input#password ") {
		t.Errorf("after the page was ready: expected the focus still in #password, got %q", got)
	}

	// A link past its minutes: the form shows, then the truth.
	late := harness.New(t)
	late.EmulateNFC(devChip(t, s, "MC-000003"))
	expired := scenario.Open(t, late, s, s.ExpiredLink(t, "e2e-person-early-expired", "", 11*time.Minute))
	expired.ExpectTerminal("handoff_expired", "next.restart_app")
	if expired.Visible("password") {
		t.Error("an expired link: expected the password form gone with the error, it is shown")
	}
}
