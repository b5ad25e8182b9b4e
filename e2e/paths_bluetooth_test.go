package e2e_test

import (
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// The person closes Chromium's device chooser without choosing the chip: the page
// says to choose the chip in the list, and Next shows the chooser again. The harness
// closes every chooser here, so the person then connects by NFC instead, the way the
// page offers with "Choose another connection", and completes.
func TestPathBluetoothChooserCancelled(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	const person = "e2e-person-chooser"
	const password = "Sommerhus ved Vesterhavet 7"
	b := harness.New(t)
	b.EmulateChip(vc, harness.CancelChooser())
	tag := b.EmulateNFC(vc)

	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.ChooseTransport("bluetooth")
	for range 2 { // Next is not dead after a cancel: the chooser comes again
		page.Click("#connect-next")
		page.ExpectError("connect", page.Message("module.cancelled", nil))
		checkStoreState(t, s, page, store.StatePasswordSet)
	}
	page.Click("#connect-back")
	page.ChooseTransport("nfc")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkFrames(t, "NFC", tag.Requests())
	checkBound(t, s, person, vc, password)
}

// Bluetooth is off: Chromium still offers Web Bluetooth (an adapter is there), and
// its chooser says Bluetooth is off; the person closes it. The page tells them to
// turn Bluetooth on; they do, press Next again, and complete.
func TestPathBluetoothOff(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000002")
	const person = "e2e-person-bluetooth-off"
	const password = "Sommerhus ved Vesterhavet 7"
	b := harness.New(t)
	peripheral := b.EmulateChip(vc, harness.WithAdapter(harness.AdapterOff))

	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.ChooseTransport("bluetooth")
	page.Click("#connect-next")
	page.ExpectError("connect", page.Message("module.cancelled", nil))
	checkStoreState(t, s, page, store.StatePasswordSet)

	peripheral.SetAdapter(harness.AdapterOn)
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkFrames(t, "Bluetooth", peripheral.Requests())
	checkBound(t, s, person, vc, password)
}

// No Bluetooth adapter is available (getAvailability() is false): the chip step says
// Bluetooth is off with a "Check again" button instead of a Bluetooth button. The
// person turns it on, checks again, and goes on; then the adapter goes away before
// they press Next, and comes back.
func TestPathBluetoothUnavailable(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	const person = "e2e-person-bluetooth-absent"
	const password = "Sommerhus ved Vesterhavet 7"
	b := harness.New(t)
	peripheral := b.EmulateChip(vc, harness.WithAdapter(harness.AdapterAbsent))

	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.WaitJS("the transport check", "document.getElementById('transport-checking').hidden")
	if !page.Visible("bluetooth-off") || page.Visible("transport-bluetooth") {
		t.Fatalf("chip step without an adapter: expected the Bluetooth-off guidance and no Bluetooth button, got guidance %v, button %v",
			page.Visible("bluetooth-off"), page.Visible("transport-bluetooth"))
	}
	if got, want := scenario.Eval[string](page, "document.querySelector('#bluetooth-off p').textContent.trim()"), page.Message("transport.bluetooth_off", nil); got != want {
		t.Fatalf("Bluetooth-off guidance: expected %q, got %q", want, got)
	}

	peripheral.SetAdapter(harness.AdapterOn)
	page.Click("#transport-recheck")
	page.ChooseTransport("bluetooth")

	peripheral.SetAdapter(harness.AdapterAbsent)
	page.Click("#connect-next")
	page.ExpectError("connect", page.Message("module.bluetooth_unavailable", nil))
	checkStoreState(t, s, page, store.StatePasswordSet)

	peripheral.SetAdapter(harness.AdapterOn)
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkBound(t, s, person, vc, password)
}

// checkStoreState checks where the store has the page's activation.
func checkStoreState(t *testing.T, s *scenario.Server, page *scenario.Page, want store.State) {
	t.Helper()
	a := page.Activation()
	if a.ID == "" {
		t.Fatalf("server: the page's activation: %q", a.Error)
	}
	if got := s.Session(t, a.ID).State; got != want {
		t.Fatalf("store: session %s: expected %s, got %s", a.ID, want, got)
	}
}
