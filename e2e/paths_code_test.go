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

	"mitidchip/chip/virtual"
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
	if f := failureOf(t, s, vc.Serial(), person); c.Status != store.ChipAvailable || f.FailedCodes != 3 {
		t.Fatalf("store: chip %s: expected available with 3 wrong codes of %s, got %s with %d", vc.Serial(), person, c.Status, f.FailedCodes)
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
	if f := failureOf(t, s, vc.Serial(), person); f.FailedCodes != 0 {
		t.Fatalf("store: chip %s after the right code: expected 0 wrong codes in a row, got %d", vc.Serial(), f.FailedCodes)
	}
}

// failureOf is person's wrong codes and lock on serial in the store: the empty one
// when they have none.
func failureOf(t *testing.T, s *scenario.Server, serial, person string) store.ChipFailure {
	t.Helper()
	fs, err := s.Store.ChipFailures(context.Background(), serial)
	if err != nil {
		t.Fatalf("store: failures on chip %s: %v", serial, err)
	}
	for _, f := range fs {
		if f.PersonID == person {
			return f
		}
	}
	return store.ChipFailure{Serial: serial, PersonID: person}
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
	want := []string{page.Message("step.blocked.title", nil), page.Message("blocked.body", nil), page.Message("blocked.how_long", nil),
		page.Message("blocked.next", nil), page.Message("blocked.careful", nil), page.Message("borgerservice.find", nil)}
	if !slices.Equal(text, want) {
		t.Fatalf("blocked step: expected %q, got %q", want, text)
	}
	if !page.Visible("step-blocked") {
		t.Fatal("blocked step: expected it shown, it is hidden")
	}
}

// A stranger who read a chip's hello (a chip answers any reader, without a press)
// locks themselves out of it with wrong codes from activations of their own, and no
// one else: once the attempt window their codes filled has passed (the server's clock
// moves on ten minutes), the holder enters the right code in the browser and goes on to
// bind the chip, the page showing no lock, while the stranger's next code is still
// refused with chip_locked and when they may try again. A person who has locked
// themselves out (the holder, with wrong codes of their own) is told by the page when
// to try again, in the language they read it in, and their right code changes
// nothing.
func TestPathChipLocked(t *testing.T) {
	clock := &scenario.Clock{}
	s := scenario.Start(t, scenario.WithClock(clock))
	vc := devChip(t, s, "MC-000005")
	const stranger, holder = "e2e-stranger", "e2e-holder-locked"
	const password = "Sommerhus ved Vesterhavet 7"

	until := lockOut(t, s, stranger, vc)
	clock.Advance(activation.ChipAttemptWindow)
	if !until.After(s.Now()) {
		t.Fatalf("stranger: expected still locked out after the attempt window, the lock lifted at %v", until)
	}

	b := harness.New(t)
	b.EmulateChip(vc)
	page := scenario.Open(t, b, s, s.NewLink(t, holder, ""))
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.ChooseTransport("bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ExpectNoError()
	if a := page.Activation(); a.Step != "sign" || a.Error != "" {
		t.Fatalf("holder after the right code: expected the sign step, got %q (error %q)", a.Step, a.Error)
	}

	before := failureOf(t, s, vc.Serial(), stranger)
	again := s.SendWrongCodes(t, stranger, vc, 1)[0]
	if again.Code != "chip_locked" || !again.RetryAt.Equal(until.Truncate(time.Second)) || again.RetryAfter < 1 {
		t.Fatalf("stranger after the holder's right code: expected chip_locked until %v, got %+v", until.Truncate(time.Second), again)
	}
	if got := failureOf(t, s, vc.Serial(), stranger); got != before {
		t.Fatalf("store: the stranger's refused code changed their count\nfrom %+v\nto   %+v", before, got)
	}

	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkBound(t, s, holder, vc, password)

	// The holder locks themselves out, in a fresh attempt window; the page tells
	// them when they may try again.
	clock.Advance(activation.ChipAttemptWindow)
	until = lockOut(t, s, holder, vc)
	b = harness.New(t)
	b.EmulateChip(vc)
	page = scenario.Open(t, b, s, s.NewLink(t, holder, ""))
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.ChooseTransport("bluetooth")
	page.Connect()
	code := page.ReadCode(vc)
	snapshot := storetest.Snapshot(t, s.Store.(storetest.Dumper))
	page.SubmitCode(code)
	page.WaitView("the error step for chip_locked", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == "error" && v.Code == "chip_locked" })
	storetest.AssertUnchanged(t, s.Store.(storetest.Dumper), snapshot)

	shown := until.Add(-clock.Ahead()) // the page counts retry_after on the browser's clock
	for _, lang := range []string{"en", "da"} {
		page.SwitchLanguage(lang)
		body := page.Text("error-body")
		if !slices.Contains(retryMessages(t, page, shown), body) {
			t.Errorf("%s: expected the body to say when to try again (%q), got %q", lang, retryMessages(t, page, shown), body)
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

// lockOut has person send wrong codes for vc through the API until they are locked
// out of it, which the tenth does, and returns when their lock lifts, as the store
// and the answer say.
func lockOut(t *testing.T, s *scenario.Server, person string, vc *virtual.Chip) time.Time {
	t.Helper()
	answers := s.SendWrongCodes(t, person, vc, activation.ChipLockAfter)
	for i, a := range answers[:len(answers)-1] {
		if a.Code != "code_wrong" && a.Code != "activation_blocked" {
			t.Fatalf("%s: wrong code %d: expected code_wrong or activation_blocked, got %+v", person, i+1, a)
		}
	}
	f := failureOf(t, s, vc.Serial(), person)
	last := answers[len(answers)-1]
	if last.Code != "chip_locked" || !f.LockedAt(s.Now()) || !last.RetryAt.Equal(f.LockedUntil.Truncate(time.Second)) {
		t.Fatalf("%s: expected the %dth wrong code to lock them out, answered chip_locked until the lock's end; got %+v and %+v", person, activation.ChipLockAfter, last, f)
	}
	return f.LockedUntil
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
