package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// A password the person cannot use, or a repeat that differs: the page says which
// rule, in the catalogue's words, Next leads nowhere, and the server holds no
// password: the activation is still at its first step. Then the person corrects it
// and goes on.
func TestPathPassword(t *testing.T) {
	const good = "Sommerhus ved Vesterhavet 7"
	s := scenario.Start(t)
	cases := []struct {
		name             string
		password, repeat string
		rule             string // the rule's line in the list: its data-reasons
		message          string // the catalogue key of the message
	}{
		{"too_short", "Kå7!xHø", "Kå7!xHø", "too_short too_long", "rule.too_short"},
		{"too_long", strings.Repeat("Bølge-7 ", 9), strings.Repeat("Bølge-7 ", 9), "too_short too_long", "rule.too_long"},
		{"contains_user_id", "Min-{user}-Kano", "Min-{user}-Kano", "contains_user_id", "rule.contains_user_id"},
		{"ten_digits", "Kano 2406881357 hus", "Kano 2406881357 hus", "ten_digits", "rule.ten_digits"},
		{"forbidden_word", "Mit Password 7 kano", "Mit Password 7 kano", "forbidden_word", "rule.forbidden_word"},
		{"keyboard_run", "Hus qwertyui 7", "Hus qwertyui 7", "keyboard_run", "rule.keyboard_run"},
		{"repeat_differs", good, good + "8", "", "module.mismatch"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// User IDs are unique: each case's person has one of their own.
			userID := fmt.Sprintf("e2e.rules%d", i)
			password := strings.ReplaceAll(c.password, "{user}", userID)
			repeat := strings.ReplaceAll(c.repeat, "{user}", userID)
			b := harness.New(t)
			page := scenario.Open(t, b, s, s.NewLink(t, fmt.Sprintf("e2e-person-rules-%d", i), userID))
			if i%2 == 1 {
				page.UseLanguage("en") // half the cases in each language
			}
			page.TypePassword(password, repeat)
			page.Click("#next-password")
			expectPasswordError(page, c.rule, page.Message(c.message, nil))

			if c.rule != "" {
				state := scenario.Eval[string](page, "document.querySelector('#password-rules li[data-reasons="+`"`+c.rule+`"`+"]').dataset.state")
				if state != "unmet" {
					t.Errorf("the rule's line %q: expected unmet, got %q", c.rule, state)
				}
				if got := scenario.Eval[string](page, "document.getElementById('password').getAttribute('aria-invalid') || ''"); got != "true" {
					t.Errorf("#password aria-invalid: expected true, got %q", got)
				}
			} else {
				if !page.Visible("password-mismatch") {
					t.Errorf("#password-mismatch: expected the mismatch shown by the repeat, it is hidden")
				}
				if got := scenario.Eval[string](page, "document.activeElement.id"); got != "password-repeat" {
					t.Errorf("focus after a mismatch: expected #password-repeat, got #%s", got)
				}
			}

			// Next again: the same answer, and still nothing sent.
			page.Click("#next-password")
			expectPasswordError(page, c.rule, page.Message(c.message, nil))
			checkNoPassword(t, s, page)

			// Corrected, the person goes on.
			page.TypePassword(good, good)
			page.Click("#next-password")
			page.WaitView("the chip step", scenario.PasswordTimeout, func(v scenario.View) bool { return v.Step == "chip" })
			a := page.Activation()
			if got := s.Session(t, a.ID).State; got != store.StatePasswordSet {
				t.Fatalf("store: session after the corrected password: expected %s, got %s", store.StatePasswordSet, got)
			}
		})
	}
}

// expectPasswordError waits for what the page says after Next: a broken rule in the
// error area, or a mismatch once, beside the repeat field (not again in the error
// area), and announced either way.
func expectPasswordError(page *scenario.Page, rule, message string) {
	if rule != "" {
		page.ExpectError("password", message)
		return
	}
	page.WaitJS("the mismatch beside the repeat, announced",
		"document.getElementById('password-mismatch').checkVisibility() && document.getElementById('password-mismatch').textContent.trim() === "+jsQuote(message)+
			" && document.getElementById('live').textContent.trim() === "+jsQuote(message))
	page.ExpectNoError()
}

// checkNoPassword checks that the server still waits for a password: the page's
// activation is at step password and the store holds no verifier and no audit
// entry after the redemption.
func checkNoPassword(t *testing.T, s *scenario.Server, page *scenario.Page) {
	t.Helper()
	if v := page.View(); v.Step != "password" {
		t.Fatalf("page: expected to stay on step password, got %s", v)
	}
	a := page.Activation()
	if a.Step != "password" {
		t.Fatalf("server: activation step: expected password, got %q (error %q)", a.Step, a.Error)
	}
	sess := s.Session(t, a.ID)
	if sess.State != store.StateRedeemed || sess.PasswordVerifier != nil {
		t.Fatalf("store: session %s: expected %s without a verifier, got %s with %d verifier bytes", a.ID, store.StateRedeemed, sess.State, len(sess.PasswordVerifier))
	}
	if got := strings.Join(s.AuditEvents(t, a.ID), ","); got != "handoff_redeemed" {
		t.Fatalf("store: audit trail of %s: expected handoff_redeemed only, got %s", a.ID, got)
	}
}
