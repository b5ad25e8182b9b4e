package e2e_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// A person who lost their chip blocks it without it: the MitID app's block link
// (the dev app's "Block my chip (lost)") opens the block page, which shows the chip,
// and Block chip blocks it for good. The page is axe-clean in both languages on each
// of its views. A second block link says there is nothing to block; a new activation
// presenting the blocked chip is refused with the blocked message; another chip
// activates.
func TestBlockLostChip(t *testing.T) {
	s := scenario.Start(t)
	axe := scenario.LoadAxe(t)
	lost, other := devChip(t, s, "MC-000001"), devChip(t, s, "MC-000002")
	const person = "e2e-person-block"
	b := harness.New(t)
	b.EmulateNFC(lost)
	b.EmulateChip(other)

	page := toConnect(t, s, b, person, "nfc")
	page.Connect()
	page.EnterCode(page.ReadCode(lost))
	page.ConfirmOnChip(lost)
	page.ExpectCompleted()
	checkBound(t, s, person, lost, linkPassword)

	checkAxe := func(p *scenario.Page, view string) {
		t.Helper()
		p.InEachLanguage(func(lang string) {
			r := p.Axe(axe)
			if r.Passes == 0 {
				t.Errorf("block page, %s, %s: expected axe-core rules to pass, got none", view, lang)
			}
			for _, v := range r.Violations {
				t.Errorf("block page, %s, %s: expected no WCAG 2.1 A/AA violations, got %s", view, lang, v)
			}
		})
	}
	blockLink := s.Origin + "/dev/block-link?" + url.Values{"person": {person}}.Encode()

	bp := scenario.Open(t, b, s, blockLink)
	waitBlockView(bp, "block-confirm")
	if got := bp.Text("block-serial"); got != lost.Serial() {
		t.Fatalf("block page: expected the chip %s, got %q", lost.Serial(), got)
	}
	if got := scenario.Eval[string](bp, "location.hash + location.search"); got != "" {
		t.Fatalf("block page: expected the token gone from the address bar, got %q", got)
	}
	if got := bp.Text("block-activated"); got == "" {
		t.Fatal("block page: expected when the chip was activated, got nothing")
	}
	checkAxe(bp, "confirm")
	bp.SwitchLanguage("en")
	if got, want := bp.Text("block-submit"), bp.Message("block.confirm", nil); got != want {
		t.Fatalf("block page: the button: expected %q, got %q", want, got)
	}
	bp.Click("#block-submit")
	waitBlockView(bp, "block-done")
	if body := bp.Text("block-done-body"); !strings.Contains(body, lost.Serial()) || !strings.HasPrefix(body, "Your MitID chip") {
		t.Fatalf("block page: expected the blocked chip named, got %q", body)
	}
	checkAxe(bp, "done")

	ctx := context.Background()
	if c, err := s.Store.Chip(ctx, lost.Serial()); err != nil || c.Status != store.ChipRevoked {
		t.Fatalf("store: expected %s revoked, got %s (%v)", lost.Serial(), c.Status, err)
	}
	if blk, err := s.Store.ChipBlock(ctx, lost.Serial()); err != nil || blk.PersonID != person || blk.Reason != store.BlockReasonLost {
		t.Fatalf("store: expected the block of %s by %s, got %+v (%v)", lost.Serial(), person, blk, err)
	}
	if _, err := s.Store.ActiveChip(ctx, person); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("store: expected no active chip after the block, got %v", err)
	}

	// Nothing to block any more.
	again := scenario.Open(t, b, s, blockLink)
	waitBlockView(again, "block-none")
	checkAxe(again, "none")

	// A new activation presenting the blocked chip is refused at the chip.
	act := toConnect(t, s, b, person, "nfc")
	act.Click("#connect-next")
	act.ExpectTerminal("chip_blocked", "next.order_chip")
	if got, want := act.Text("error-body"), "This chip is blocked. Order a new chip and activate it."; got != want {
		t.Fatalf("activation page: expected %q, got %q", want, got)
	}
	checkRefused(t, s, act, act.Activation().ID)

	// Another chip activates.
	act.Click("#error-retry")
	waitChipStep(act)
	act.ChooseTransport("bluetooth")
	act.Connect()
	act.EnterCode(act.ReadCode(other))
	act.ConfirmOnChip(other)
	act.ExpectCompleted()
	checkBound(t, s, person, other, linkPassword)
}

// The block page without a token in its link says so, in the catalogue's words.
func TestBlockPageWithoutLink(t *testing.T) {
	s := scenario.Start(t)
	b := harness.New(t)
	p := scenario.Open(t, b, s, s.Origin+"/block")
	waitBlockView(p, "block-error")
	p.SwitchLanguage("en")
	if got, want := p.Text("block-error-body"), p.Message("block.no_link", nil); got != want {
		t.Fatalf("block page without a token: expected %q, got %q", want, got)
	}
	if p.Visible("block-retry") {
		t.Fatal("block page without a token: expected no retry button")
	}
}

// waitBlockView waits until the block page shows view.
func waitBlockView(p *scenario.Page, view string) {
	p.WaitJS("the block page at "+view, "document.body.dataset.step === "+`"`+view+`"`+
		" && document.getElementById('lang-toggle').checkVisibility()")
}
