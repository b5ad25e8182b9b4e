package e2e_test

import (
	"strconv"
	"strings"
	"testing"

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
