package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// A link opened after its token expired: the page says so and that the person must
// start again from the app; no button leads anywhere, and the server created
// nothing, not even the person.
func TestPathHandoffExpired(t *testing.T) {
	s := scenario.Start(t)
	const person = "e2e-person-expired"
	b := harness.New(t)

	page := scenario.Open(t, b, s, s.ExpiredLink(t, person, "", 15*time.Minute))
	page.ExpectTerminal("handoff_expired", "next.restart_app")
	if got := enabledControls(page); !slices.Equal(got, []string{"lang-toggle"}) {
		t.Fatalf("visible, enabled controls on the expired link's page: expected only lang-toggle, got %v", got)
	}
	// The same in English, for the person who switches.
	page.SwitchLanguage("en")
	page.ExpectTerminal("handoff_expired", "next.restart_app")

	if _, err := s.Store.Person(context.Background(), person); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("store: person %s after an expired link: expected none, got %v", person, err)
	}
	if a := page.Activation(); a.Error != "no_session" {
		t.Fatalf("server: the page's activation after an expired link: expected no_session, got %+v", a)
	}
}

// The same link opened in a second tab after the first redeemed it: the second tab
// says it was used and offers to continue there, which picks up the activation of
// the first tab (the browser holds its cookie); the first tab carries on.
func TestPathHandoffSecondTab(t *testing.T) {
	s := scenario.Start(t)
	const person = "e2e-person-second-tab"
	b := harness.New(t)
	link := s.NewLink(t, person, "")

	page := scenario.Open(t, b, s, link)
	page.WaitPasswordReady()
	id := page.Activation().ID

	tab := page.OpenTab(link)
	v := tab.WaitView("the used link's error", func(v scenario.View) bool { return v.Step == "error" })
	lang := tab.Eval("document.documentElement.lang")
	if v.Code != "handoff_used" || v.Title != s.Text(t, lang, "fatal.handoff_used") {
		t.Fatalf("second tab: expected handoff_used %q, got %s", s.Text(t, lang, "fatal.handoff_used"), v)
	}
	for id, key := range map[string]string{"error-body": "error.handoff_used", "error-next": "next.same_tab", "resume": "action.resume"} {
		if got, want := tab.Eval("document.getElementById('"+id+"').checkVisibility() ? document.getElementById('"+id+"').textContent.trim() : ''"), s.Text(t, lang, key); got != want {
			t.Errorf("second tab #%s: expected %q, got %q", id, want, got)
		}
	}
	if got := s.AuditEvents(t, id); !slices.Equal(got, []string{"handoff_redeemed"}) {
		t.Fatalf("store: audit trail after the second tab: expected one redemption, got %v", got)
	}

	// "Continue here": the second tab shows the activation where it is.
	tab.Click("#resume")
	tab.WaitView("the password step in the second tab", func(v scenario.View) bool { return v.Step == "password" })

	// The first tab carries on; the store has one activation, moved on by it.
	page.CreatePassword(linkPassword)
	if got := s.Session(t, id).State; got != store.StatePasswordSet {
		t.Fatalf("store: session after the first tab went on: expected %s, got %s", store.StatePasswordSet, got)
	}
	if got := s.AuditEvents(t, id); !slices.Equal(got, []string{"handoff_redeemed", "password_set"}) {
		t.Fatalf("store: audit trail: expected [handoff_redeemed password_set], got %v", got)
	}
}

// The answer to the redemption is lost after the server committed it, as when the
// connection drops: the page says there is no connection. Its retry button, or a
// reload, repeats the redemption with the request id the page chose for the link;
// the server gives this page the activation it started, under a new cookie, and the
// person goes on with the password. The store holds one activation, redeemed once
// and then redeemed again.
func TestPathHandoffAnswerLost(t *testing.T) {
	for _, how := range []string{"retry", "reload"} {
		t.Run(how, func(t *testing.T) {
			s := scenario.Start(t)
			person := "e2e-person-lost-" + how
			b := harness.New(t)
			lost := b.LoseAnswer("*/api/v1/handoff")

			page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
			if status, err := lost.Wait(b.Context()); err != nil || status != http.StatusOK {
				t.Fatalf("the redemption whose answer was lost: expected the server to have answered 200, got %d (%v)", status, err)
			}
			page.ExpectTerminal("network", "next.retry")
			if _, err := s.Store.Person(context.Background(), person); err != nil {
				t.Fatalf("store: person %s after the lost answer: expected created, got %v", person, err)
			}
			if a := page.Activation(); a.Error != "no_session" {
				t.Fatalf("server: the page's activation before the retry: expected no_session (no cookie reached it), got %+v", a)
			}

			if how == "retry" {
				page.Click("#error-retry")
			} else {
				page.Reload()
			}
			// The error stays on the page until the answer comes.
			page.WaitView("the password step after the "+how, scenario.StepTimeout, func(v scenario.View) bool { return v.Step == "password" })
			page.WaitPasswordReady()
			id := page.Activation().ID
			if got, want := s.AuditEvents(t, id), []string{"handoff_redeemed", "handoff_redeemed_again"}; !slices.Equal(got, want) {
				t.Fatalf("store: audit trail after the retry: expected %v, got %v", want, got)
			}
			if kept := scenario.Eval[bool](page, "sessionStorage.getItem('mitid.redeem') !== null"); kept {
				t.Fatal("page: expected the redemption forgotten once answered, it is still in sessionStorage")
			}
			page.CreatePassword(linkPassword)
			if got := s.Session(t, id).State; got != store.StatePasswordSet {
				t.Fatalf("store: session after the password: expected %s, got %s", store.StatePasswordSet, got)
			}
		})
	}
}

// enabledControls lists the buttons and links a person can see and press, but the
// help and Borgerservice links every step has (pageLinks).
const pageLinks = `['help-link', 'footer-help', 'footer-borgerservice']`

func enabledControls(page *scenario.Page) []string {
	return scenario.Eval[[]string](page, `[...document.querySelectorAll('button, input, select, a[href]')]
		.filter(el => el.checkVisibility({visibilityProperty: true}) && !el.disabled && el.getAttribute('aria-disabled') !== 'true')
		.filter(el => !`+pageLinks+`.includes(el.id))
		.map(el => el.id || el.outerHTML.slice(0, 80))`)
}
