package harness_test

import (
	"testing"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
)

// A test of the activation page over Bluetooth: the chip is emulated before the
// page loads, the click is a real one, and the test waits on events, not time.
func ExampleBrowser_EmulateChip() {
	var t *testing.T     // the test's
	var vc *virtual.Chip // from manufacturer.Mint and virtual.New
	var pageURL string   // the server under test

	b := harness.New(t)
	p := b.EmulateChip(vc, harness.FaultAt(3, harness.Silent))
	b.Navigate(pageURL)
	b.Click("#connect-bluetooth")
	b.WaitText("#status", "Connected")
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)
	vc.Press()
	b.WaitText("#status", "Activation completed")
	if n := len(p.Requests()); n != 2 {
		t.Fatalf("chip requests: expected 2, got %d", n)
	}
}

// The same over the fake Web NFC, with the chip held to the phone late.
func ExampleBrowser_EmulateNFC() {
	var t *testing.T
	var vc *virtual.Chip
	var pageURL string

	b := harness.New(t)
	tag := b.EmulateNFC(vc, harness.TagAway()) // before Navigate: the fake is injected per document
	b.Navigate(pageURL)
	b.Click("#connect-nfc")
	tag.WaitScanning()
	tag.Hold()
	b.WaitText("#status", "Connected")
	if got := tag.Requests(); len(got) != 1 || got[0][1] != byte(chip.TypeHello) {
		t.Fatalf("chip requests: expected one hello, got %d", len(got))
	}
}
