package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/activation"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// Wrong one-time codes: the first and the second say how many tries are left (also
// after a reload), the third blocks the activation and says what to do: start again
// from the app, or go to a Citizen Service Centre. The store holds the block.
func TestPathWrongCodeBlocks(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	const person = "e2e-person-wrong-code"
	b := harness.New(t)
	b.EmulateChip(vc)

	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.UseLanguage("en")
	page.CreatePassword("Sommerhus ved Vesterhavet 7")
	page.ChooseTransport("bluetooth")
	page.Connect()
	id := page.Activation().ID

	wrong := s.WrongCode(t, vc)
	for n := 1; n <= 2; n++ {
		left := 3 - n
		page.SubmitCode(wrong)
		page.ExpectError("code", page.Message("error.code_wrong", nil), triesLeft(page, left))
		if got := scenario.Eval[string](page, "document.activeElement.id"); got != "code" {
			t.Errorf("focus after wrong code %d: expected #code, got #%s", n, got)
		}
		sess := s.Session(t, id)
		if sess.State != store.StateChipPresented || sess.WrongCodes != n {
			t.Fatalf("store after wrong code %d: expected %s with %d wrong, got %s with %d", n, store.StateChipPresented, n, sess.State, sess.WrongCodes)
		}
		if a := page.Activation(); a.TriesLeft == nil || *a.TriesLeft != left {
			t.Fatalf("server after wrong code %d: expected %d tries left, got %v", n, left, a.TriesLeft)
		}
	}

	// A reload on the code step still says how many tries are left.
	page.Reload()
	page.WaitStep("code")
	if got, want := page.Text("code-tries"), triesLeft(page, 1); !page.Visible("code-tries") || got != want {
		t.Fatalf("code step after a reload: expected %q shown, got %q (shown: %v)", want, got, page.Visible("code-tries"))
	}

	page.SubmitCode(wrong)
	page.WaitView("the blocked step", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == "blocked" })
	checkBlockedPage(t, page)
	for _, way := range []string{"MitID app", "Citizen Service Centre"} {
		if next := page.Message("blocked.next", nil); !strings.Contains(next, way) {
			t.Errorf("blocked step: expected the way on %q in %q", way, next)
		}
	}

	sess := s.Session(t, id)
	if sess.State != store.StateBlocked || sess.WrongCodes != 3 {
		t.Fatalf("store after the third wrong code: expected %s with 3 wrong, got %s with %d", store.StateBlocked, sess.State, sess.WrongCodes)
	}
	want := []string{"handoff_redeemed", "password_set", "chip_presented", "code_rejected", "code_rejected", "code_rejected"}
	if got := s.AuditEvents(t, id); !slices.Equal(got, want) {
		t.Fatalf("store: audit trail: expected %v, got %v", want, got)
	}
	c, err := s.Store.Chip(context.Background(), vc.Serial())
	if err != nil {
		t.Fatalf("store: chip %s: %v", vc.Serial(), err)
	}
	if c.Status != store.ChipAvailable || c.FailedCodes != 3 {
		t.Fatalf("store: chip %s: expected available with 3 wrong codes, got %s with %d", vc.Serial(), c.Status, c.FailedCodes)
	}
	if _, err := s.Store.ActiveChip(context.Background(), person); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("store: active chip of %s: expected none, got %v", person, err)
	}

	// The block holds across a reload, and the right code no longer helps.
	page.Reload()
	page.WaitView("the blocked step after a reload", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == "blocked" })
	checkBlockedPage(t, page)
	if a := page.Activation(); a.Step != "blocked" {
		t.Fatalf("server after the block: expected step blocked, got %q (error %q)", a.Step, a.Error)
	}
}

// A wrong code, then the right one: the activation goes on and completes, and the
// wrong one is forgotten.
func TestPathWrongCodeThenRight(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000004")
	const person = "e2e-person-wrong-then-right"
	const password = "Sommerhus ved Vesterhavet 7"
	b := harness.New(t)
	tag := b.EmulateNFC(vc)

	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.CreatePassword(password)
	page.ChooseTransport("nfc")
	page.Connect()
	page.SubmitCode(s.WrongCode(t, vc))
	page.ExpectError("code", page.Message("error.code_wrong", nil), triesLeft(page, 2))

	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkFrames(t, "NFC", tag.Requests())
	checkBound(t, s, person, vc, password)
	c, err := s.Store.Chip(context.Background(), vc.Serial())
	if err != nil {
		t.Fatalf("store: chip %s: %v", vc.Serial(), err)
	}
	if c.FailedCodes != 0 {
		t.Fatalf("store: chip %s after the right code: expected 0 wrong codes in a row, got %d", vc.Serial(), c.FailedCodes)
	}
}

func triesLeft(page *scenario.Page, n int) string {
	if n == 1 {
		return page.Message("code.tries_left.one", nil)
	}
	return page.Message("code.tries_left.other", map[string]string{"n": strconv.Itoa(n)})
}

// checkBlockedPage checks the blocked step's words: what happened, and both ways on.
func checkBlockedPage(t *testing.T, page *scenario.Page) {
	t.Helper()
	text := scenario.Eval[[]string](page, "[...document.querySelectorAll('#step-blocked h2, #step-blocked p')].map(el => el.textContent.trim())")
	want := []string{page.Message("step.blocked.title", nil), page.Message("blocked.body", nil), page.Message("blocked.next", nil)}
	if !slices.Equal(text, want) {
		t.Fatalf("blocked step: expected %q, got %q", want, text)
	}
	if !page.Visible("step-blocked") {
		t.Fatal("blocked step: expected it shown, it is hidden")
	}
}

// A chip a stranger has locked with wrong codes of their own (a chip answers hello to
// any reader): the holder's right code is refused without being counted, and the page
// says when they may try again, in the language they read it in.
func TestPathChipLocked(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000005")
	answers := s.SendWrongCodes(t, "e2e-stranger", vc, activation.ChipLockAfter)
	if last := answers[len(answers)-1]; last != "chip_locked" {
		t.Fatalf("stranger: expected the %dth wrong code to lock the chip, got the answers %q", activation.ChipLockAfter, answers)
	}
	c, err := s.Store.Chip(context.Background(), vc.Serial())
	if err != nil || !c.LockedAt(time.Now()) {
		t.Fatalf("store: expected chip %s locked, got %+v (%v)", vc.Serial(), c, err)
	}

	b := harness.New(t)
	b.EmulateChip(vc)
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-holder-locked", ""))
	page.UseLanguage("en")
	page.CreatePassword("Sommerhus ved Vesterhavet 7")
	page.ChooseTransport("bluetooth")
	page.Connect()
	code := page.ReadCode(vc)
	before := storetest.Snapshot(t, s.Store)
	page.SubmitCode(code)
	page.WaitView("the error step for chip_locked", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == "error" && v.Code == "chip_locked" })
	storetest.AssertUnchanged(t, s.Store, before)

	for _, lang := range []string{"en", "da"} {
		page.SwitchLanguage(lang)
		body := page.Text("error-body")
		if !slices.Contains(retryMessages(t, page, c.LockedUntil), body) {
			t.Errorf("%s: expected the body to say when to try again (%q), got %q", lang, retryMessages(t, page, c.LockedUntil), body)
		}
		if got, want := page.Text("error-title"), page.Message("fatal.chip_locked", nil); got != want {
			t.Errorf("%s: heading expected %q, got %q", lang, want, got)
		}
		if got, want := page.Text("error-next"), page.Message("next.chip_locked", nil); got != want {
			t.Errorf("%s: what to do expected %q, got %q", lang, want, got)
		}
		if !page.Visible("error-retry") {
			t.Errorf("%s: expected a button to try again", lang)
		}
	}
}

// retryMessages are the bodies the page may show for a lock until `until`: the page
// counts the server's retry_after on its own clock and rounds up to the minute, so the
// minute after the lock's end, or the one after that if the answer crossed a minute.
func retryMessages(t *testing.T, page *scenario.Page, until time.Time) []string {
	t.Helper()
	offset := time.Duration(scenario.Eval[int](page, fmt.Sprintf("new Date(%d).getTimezoneOffset()", until.UnixMilli()))) * time.Minute
	local := func(at time.Time) time.Time { return at.UTC().Add(-offset) }
	today := local(time.Now()).Truncate(24 * time.Hour)
	sep := ":"
	if page.Lang() == "da" {
		sep = "."
	}
	var out []string
	first := until.Truncate(time.Minute)
	if first.Before(until) {
		first = first.Add(time.Minute)
	}
	for _, at := range []time.Time{first, first.Add(time.Minute)} {
		l := local(at)
		vars := map[string]string{"time": fmt.Sprintf("%02d%s%02d", l.Hour(), sep, l.Minute())}
		key := "time.today"
		if l.Truncate(24 * time.Hour).After(today) {
			key = "time.tomorrow"
		}
		out = append(out, page.Message("error.chip_locked_until", map[string]string{"retry_at": page.Message(key, vars)}))
	}
	return out
}
