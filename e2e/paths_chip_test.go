package e2e_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// A chip bound to person A, presented by person B: B's page says the chip is in use
// by someone else and offers to connect another; B does, with their own chip, and
// completes. A keeps theirs.
func TestPathChipTaken(t *testing.T) {
	s := scenario.Start(t)
	shared, own := devChip(t, s, "MC-000001"), devChip(t, s, "MC-000002")
	const personA, personB = "e2e-person-a", "e2e-person-b"

	// Person A activates the chip.
	{
		b := harness.New(t)
		b.EmulateNFC(shared)
		page := toConnect(t, s, b, personA, "nfc")
		page.Connect()
		page.EnterCode(page.ReadCode(shared))
		page.ConfirmOnChip(shared)
		page.ExpectCompleted()
		checkBound(t, s, personA, shared, linkPassword)
	}

	// Person B, in their own browser, holds the same chip to the phone.
	b := harness.New(t)
	b.EmulateNFC(shared)
	b.EmulateChip(own)
	page := toConnect(t, s, b, personB, "nfc")
	page.Click("#connect-next")
	page.ExpectTerminal("chip_taken", "next.other_chip")
	id := page.Activation().ID
	checkRefused(t, s, page, id)

	page.Click("#error-retry")
	waitChipStep(page)
	page.ChooseTransport("bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(own))
	page.ConfirmOnChip(own)
	page.ExpectCompleted()
	checkBound(t, s, personB, own, linkPassword)
	checkBound(t, s, personA, shared, linkPassword)
	want := []string{"handoff_redeemed", "password_set", "chip_presented", "code_accepted", "activation_completed"}
	if got := s.AuditEvents(t, id); !slices.Equal(got, want) {
		t.Fatalf("store: B's audit trail: expected %v, got %v", want, got)
	}
}

// A chip the server does not know: one with a serial it never imported, and a
// counterfeit of a registered serial from another manufacturer. The page says so and
// offers to connect another chip; with the person's own, the activation completes.
func TestPathUnknownChip(t *testing.T) {
	s := scenario.Start(t)
	cases := []struct {
		name   string
		serial string // of the foreign chip
		code   string // the server's refusal
	}{
		{"unregistered serial", "MC-999999", "chip_unknown"},
		{"counterfeit serial", "MC-000005", "chip_not_attested"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			foreign := scenario.ForeignChip(t, c.serial)
			own := devChip(t, s, []string{"MC-000003", "MC-000004"}[i])
			person := "e2e-person-unknown-chip-" + c.code
			b := harness.New(t)
			b.EmulateNFC(foreign)
			b.EmulateChip(own)

			page := toConnect(t, s, b, person, "nfc")
			page.Click("#connect-next")
			page.ExpectTerminal(c.code, "next.other_chip")
			id := page.Activation().ID
			checkRefused(t, s, page, id)
			if _, err := s.Store.Chip(context.Background(), "MC-999999"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("store: the unregistered chip: expected none, got %v", err)
			}

			page.Click("#error-retry")
			waitChipStep(page)
			page.ChooseTransport("bluetooth")
			page.Connect()
			page.EnterCode(page.ReadCode(own))
			page.ConfirmOnChip(own)
			page.ExpectCompleted()
			checkBound(t, s, person, own, linkPassword)
		})
	}
}

// checkRefused checks the store after a refused chip: the session is where it was,
// with no chip, and the refusal wrote nothing; the error step's one button says
// "Connect another chip".
func checkRefused(t *testing.T, s *scenario.Server, page *scenario.Page, id string) {
	t.Helper()
	sess := s.Session(t, id)
	if sess.State != store.StatePasswordSet || sess.ChipSerial != "" {
		t.Fatalf("store: session after a refused chip: expected %s without a chip, got %s with %q", store.StatePasswordSet, sess.State, sess.ChipSerial)
	}
	if got := s.AuditEvents(t, id); !slices.Equal(got, []string{"handoff_redeemed", "password_set"}) {
		t.Fatalf("store: audit trail after a refused chip: expected [handoff_redeemed password_set], got %v", got)
	}
	if got, want := page.Text("error-retry"), page.Message("action.other_chip", nil); !page.Visible("error-retry") || got != want {
		t.Fatalf("error step: expected the button %q, got %q (shown: %v)", want, got, page.Visible("error-retry"))
	}
}

// waitChipStep waits for the chip step after "Connect another chip".
func waitChipStep(page *scenario.Page) {
	page.WaitView("the chip step", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == "chip" })
}
