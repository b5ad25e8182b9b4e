package e2e_test

import (
	"net/url"
	"testing"
	"time"

	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// The browser's Back button inside the flow (issue 9, item 8): from the code step it
// goes back to "hold your chip to the phone" and to the choice of connection, where
// a chip may be presented again; to the password, once saved, it does not go, nor
// from the last step to the code (the chip is fixed once its code is accepted), nor
// anywhere after "Activation completed": the page stays and says why. The person
// never leaves the site, and the activation still completes.
func TestPathBackButton(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	const person, password = "e2e-person-back", "Kaffe i Kalundborg 19"
	b := harness.New(t)
	b.EmulateChip(vc)

	link := s.NewLink(t, person, "")
	page := scenario.Open(t, b, s, link)
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.ChooseTransport("bluetooth")
	page.Connect()

	site, err := url.Parse(link)
	if err != nil {
		t.Fatalf("activation link %q: %v", link, err)
	}
	back := func(want string) {
		t.Helper()
		scenario.Eval[bool](page, "(history.back(), true)")
		page.WaitView("step "+want+" after Back", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == want })
		if host := scenario.Eval[string](page, "location.host"); host != site.Host {
			t.Fatalf("after Back to %s: expected the page still on %s, got %s", want, site.Host, host)
		}
	}
	heading := func(step string) string {
		t.Helper()
		return scenario.Eval[string](page, "document.querySelector('#step-"+step+" h2').textContent.trim()")
	}

	// Code step → "hold your chip to the phone" → the choice of connection.
	back("connect")
	if got, want := heading("connect"), page.Message("step.connect.title", nil); got != want {
		t.Fatalf("Back from the code step: heading expected %q, got %q", want, got)
	}
	page.ExpectNoError()
	back("chip")
	if got, want := heading("chip"), page.Message("step.chip.title", nil); got != want {
		t.Fatalf("Back from the connect step: heading expected %q, got %q", want, got)
	}
	// The password is saved: Back stays on the chip step and says so.
	scenario.Eval[bool](page, "(history.back(), true)")
	page.ExpectError("chip", page.Message("history.password_saved", nil))

	// The chip is presented again, and its code accepted.
	page.ChooseTransport("bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))

	// The code is accepted: no going back to it; the chip still waits for its button.
	scenario.Eval[bool](page, "(history.back(), true)")
	page.ExpectError("sign", page.Message("history.chip_fixed", nil))
	waitChipAsks(t, vc)
	vc.Press()
	page.WaitView("the completed step", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == "completed" })
	page.ExpectCompleted()

	scenario.Eval[bool](page, "(history.back(), true)")
	page.ExpectError("completed", page.Message("history.completed", nil))
	if host := scenario.Eval[string](page, "location.host"); host != site.Host {
		t.Fatalf("after Back on the completed step: expected the page still on %s, got %s", site.Host, host)
	}
	checkBound(t, s, person, vc, password)
}

// waitChipAsks waits until the chip waits for its button.
func waitChipAsks(t *testing.T, vc *virtual.Chip) {
	t.Helper()
	deadline := time.NewTimer(scenario.StepTimeout)
	defer deadline.Stop()
	for {
		changed := vc.Changed()
		if vc.Waiting() {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("chip %s: expected it to ask for its button within %v, it did not", vc.Serial(), scenario.StepTimeout)
		}
	}
}
