package e2e_test

import (
	"slices"
	"testing"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// A reload on every step comes back to that step, with the server's record
// unchanged; on the last one the link to the chip is gone, so the page offers to
// connect it again, and the activation completes.
//
// Over NFC: Chromium's Bluetooth emulation does not survive a navigation of the tab
// (BluetoothEmulation is disabled by it), while the NFC fake is put into every new
// document.
func TestPathReloadEveryStep(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	const person = "e2e-person-reload"
	b := harness.New(t)
	tag := b.EmulateNFC(vc)

	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.UseLanguage("en")
	page.WaitPasswordReady()
	id := page.Activation().ID
	reload := func(step string, want store.State) {
		t.Helper()
		page.Reload()
		page.WaitView("step "+step+" after a reload", scenario.StepTimeout, func(v scenario.View) bool { return v.Step == step })
		page.ExpectNoError()
		if got := s.Session(t, id).State; got != want {
			t.Fatalf("store after a reload on step %s: expected %s, got %s", step, want, got)
		}
		if a := page.Activation(); a.ID != id {
			t.Fatalf("server after a reload on step %s: expected activation %s, got %+v", step, id, a)
		}
	}

	reload("password", store.StateRedeemed)
	page.CreatePassword(linkPassword)
	reload("chip", store.StatePasswordSet)
	page.ChooseTransport("nfc")
	reload("connect", store.StatePasswordSet)
	if got, want := page.Text("connect-hint"), page.Message("connect.hint.nfc", nil); got != want {
		t.Fatalf("connect step after a reload: expected the NFC hint %q, got %q", want, got)
	}
	page.Connect()
	reload("code", store.StateChipPresented)
	if page.Visible("code-tries") {
		t.Fatal("code step after a reload without a wrong code: expected no tries note, it is shown")
	}
	// The code step came from a reload, so the link to the chip went with it: the
	// sign step asks to connect the chip again.
	page.EnterCode(page.ReadCode(vc))
	relink(t, page)
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)

	// A reload while the chip waits for its button: the chip goes on waiting for
	// the page that is gone, and says it is busy to the new one. The page says to
	// press the button first; then Try again asks the chip again.
	reload("sign", store.StateCodeVerified)
	relink(t, page)
	page.ExpectError("sign", page.Message("module.chip_busy", nil))
	if !page.Visible("sign-retry") {
		t.Fatal("sign step with the chip busy: expected Try again, it is hidden")
	}
	vc.Press()
	b.WaitChip(vc, "done with the old request", func(vc *virtual.Chip) bool { return !vc.Waiting() })
	page.Click("#sign-retry")
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkRequests(t, "NFC", tag.Requests(), chip.TypeHello, chip.TypeHello, chip.TypeSign, chip.TypeHello, chip.TypeSign, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
	reload("completed", store.StateCompleted)
}

// The server stops while the person reads the code off the chip: the page says
// there is no connection and keeps the code; the server starts again on the same
// data and port, and the person submits again and completes. The activation lived
// in the store, not in the server that stopped.
func TestPathServerRestart(t *testing.T) {
	r := scenario.StartRestartable(t)
	s := r.Server()
	vc := devChip(t, s, "MC-000002")
	const person = "e2e-person-restart"
	b := harness.New(t)
	peripheral := b.EmulateChip(vc)

	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.UseLanguage("en")
	page.CreatePassword(linkPassword)
	page.ChooseTransport("bluetooth")
	page.Connect()
	id := page.Activation().ID

	r.Stop()
	code := page.ReadCode(vc)
	page.SubmitCode(code)
	page.ExpectError("code", page.Message("error.network", nil))
	if got := scenario.Eval[string](page, "document.getElementById('code').value"); got != code {
		t.Fatalf("code field after the failed submit: expected %q kept, got %q", code, got)
	}

	s = r.Start()
	if got := s.Session(t, id).State; got != store.StateChipPresented {
		t.Fatalf("store after the restart: expected %s, got %s", store.StateChipPresented, got)
	}
	page.Click("#submit-code")
	page.WaitStep("sign")
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkFrames(t, "Bluetooth", peripheral.Requests())
	checkBound(t, s, person, vc, linkPassword)
	want := []string{"handoff_redeemed", "password_set", "chip_presented", "code_accepted", "activation_completed"}
	if got := s.AuditEvents(t, id); !slices.Equal(got, want) {
		t.Fatalf("store: audit trail across the restart: expected %v, got %v", want, got)
	}
}

// The chip's button is not pressed in time on the last step: the page says so and
// offers to try again, which asks the chip again; pressed then, the activation
// completes. The page's wait is shortened to two seconds through its
// sessionStorage setting (web/step-sign.js), so the test does not wait a minute.
func TestPathNotPressedInTime(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	const person = "e2e-person-not-pressed"
	b := harness.New(t)
	peripheral := b.EmulateChip(vc)

	page := toConnect(t, s, b, person, "bluetooth")
	scenario.Eval[bool](page, "(sessionStorage.setItem('mitid.signWaitMs', '2000'), true)")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)
	page.ExpectError("sign", page.Message("module.not_pressed", nil))
	if !page.Visible("sign-retry") || page.Visible("reconnect") {
		t.Fatalf("sign step after the wait: expected Try again and no Connect chip, got retry %v, reconnect %v", page.Visible("sign-retry"), page.Visible("reconnect"))
	}
	if got := scenario.Eval[string](page, "document.activeElement.id"); got != "sign-retry" {
		t.Fatalf("focus after the wait: expected #sign-retry, got #%s", got)
	}
	if vc.Waiting() {
		t.Fatal("chip after the wait: expected it no longer waiting for its button")
	}
	checkStoreState(t, s, page, store.StateCodeVerified)

	page.Click("#sign-retry")
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkRequests(t, "Bluetooth", peripheral.Requests(), chip.TypeHello, chip.TypeSign, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
}

// relink checks that the sign step offers to connect the chip again, with NFC, the
// way it was connected, chosen, and presses "Connect chip".
func relink(t *testing.T, page *scenario.Page) {
	t.Helper()
	page.WaitJS("the offer to connect the chip again, by NFC as before",
		"document.getElementById('reconnect').checkVisibility() && document.getElementById('reconnect-nfc').checked")
	if got, want := scenario.Eval[string](page, "document.querySelector('#sign-reconnect p').textContent.trim()"), page.Message("sign.reconnect_intro", nil); got != want {
		t.Fatalf("sign step without a link: expected %q, got %q", want, got)
	}
	page.Click("#reconnect")
}
