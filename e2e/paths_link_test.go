package e2e_test

import (
	"slices"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
	"mitidchip/wasm/app"
)

const linkPassword = "Sommerhus ved Vesterhavet 7"

// The Bluetooth link drops right after the chip took the hello: the page says the
// connection was lost; Next connects again and the activation completes.
func TestPathBluetoothDisconnectAtHello(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	const person = "e2e-person-drop-hello"
	b := harness.New(t)
	peripheral := b.EmulateChip(vc, harness.FaultAt(1, harness.Lost))

	page := toConnect(t, s, b, person, "bluetooth")
	page.Click("#connect-next")
	page.ExpectError("connect", page.Message("module.disconnected", nil))
	checkStoreState(t, s, page, store.StatePasswordSet)

	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkRequests(t, "Bluetooth", peripheral.Requests(), chip.TypeHello, chip.TypeHello, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
}

// The chip goes out of range while it waits for its button: the page says the
// connection was lost and offers to connect the chip again, which signs and
// completes.
func TestPathBluetoothDisconnectWhileSigning(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000002")
	const person = "e2e-person-drop-sign"
	b := harness.New(t)
	peripheral := b.EmulateChip(vc)

	page := toConnect(t, s, b, person, "bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)
	peripheral.Disconnect()
	page.ExpectError("sign", page.Message("module.disconnected", nil))
	if !page.Visible("reconnect") || page.Visible("sign-retry") {
		t.Fatalf("sign step after a lost link: expected Connect chip and no Try again, got reconnect %v, retry %v", page.Visible("reconnect"), page.Visible("sign-retry"))
	}
	b.WaitChip(vc, "no longer waiting", func(vc *virtual.Chip) bool { return !vc.Waiting() })
	checkStoreState(t, s, page, store.StateCodeVerified)

	page.Click("#reconnect")
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkRequests(t, "Bluetooth", peripheral.Requests(), chip.TypeHello, chip.TypeSign, chip.TypeHello, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
}

// The chip takes the hello and never answers: the page gives up after its timeout
// (app.HelloTimeout), says the chip did not answer in time, and Next tries again.
func TestPathChipSilent(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	const person = "e2e-person-silent"
	b := harness.New(t)
	peripheral := b.EmulateChip(vc, harness.FaultAt(1, harness.Silent))

	page := toConnect(t, s, b, person, "bluetooth")
	start := time.Now()
	page.Click("#connect-next")
	page.ExpectErrorWithin(app.HelloTimeout+10*time.Second, "connect", page.Message("module.timeout", nil))
	if waited := time.Since(start); waited < app.HelloTimeout-time.Second {
		t.Fatalf("timeout: the page gave up after %v, before the hello timeout of %v", waited, app.HelloTimeout)
	}
	checkStoreState(t, s, page, store.StatePasswordSet)

	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkRequests(t, "Bluetooth", peripheral.Requests(), chip.TypeHello, chip.TypeHello, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
}

// The phone sees the chip but cannot read its answer (readingerror): the page asks
// the person to hold it still and try again, and Next does.
func TestPathNFCReadError(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000004")
	const person = "e2e-person-nfc-read-error"
	b := harness.New(t)
	// The chip takes the first hello and its answer is never read; the reading
	// error stands for that answer.
	tag := b.EmulateNFC(vc, harness.FaultAt(1, harness.Silent))

	page := toConnect(t, s, b, person, "nfc")
	page.Click("#connect-next")
	b.Until("the chip to take the hello", func() bool { return len(tag.Requests()) == 1 })
	if n := tag.ReadingError(); n == 0 {
		t.Fatal("NFC reading error: no reader was scanning")
	}
	page.ExpectError("connect", page.Message("module.nfc_read_error", nil))
	checkStoreState(t, s, page, store.StatePasswordSet)

	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkRequests(t, "NFC", tag.Requests(), chip.TypeHello, chip.TypeHello, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
}

// The chip leaves the field while the hello is written: the page says the
// connection was lost; Next waits until the chip is held to the phone again, then
// goes on.
func TestPathNFCTakenAwayDuringWrite(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000005")
	const person = "e2e-person-nfc-away"
	b := harness.New(t)
	tag := b.EmulateNFC(vc, harness.FaultAt(1, harness.Lost))

	page := toConnect(t, s, b, person, "nfc")
	page.Click("#connect-next")
	page.ExpectError("connect", page.Message("module.disconnected", nil))
	checkStoreState(t, s, page, store.StatePasswordSet)

	// The chip is away now: Next waits for it, with the page saying it connects.
	page.Click("#connect-next")
	page.WaitJS("the page connecting", "document.getElementById('connect-progress').checkVisibility()")
	tag.Hold()
	page.WaitStep("code")
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkRequests(t, "NFC", tag.Requests(), chip.TypeHello, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
}

// The person takes the chip away while it waits for its button and presses it away
// from the phone: its answer waits on the chip, the page keeps waiting, and holding
// the chip to the phone again delivers it and completes.
func TestPathNFCTakenAwayBeforeAnswer(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	const person = "e2e-person-nfc-away-sign"
	b := harness.New(t)
	tag := b.EmulateNFC(vc)

	page := toConnect(t, s, b, person, "nfc")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)
	tag.Remove()
	vc.Press()
	b.WaitChip(vc, "signed", func(vc *virtual.Chip) bool { return !vc.Waiting() })
	if v := page.View(); v.Step != "sign" || v.Error != "" {
		t.Fatalf("page with the chip away: expected still waiting on step sign, got %s", v)
	}
	if !page.Visible("sign-progress") {
		t.Fatal("page with the chip away: expected it to show that it waits, it does not")
	}
	checkStoreState(t, s, page, store.StateCodeVerified)

	tag.Hold()
	page.ExpectCompleted()
	checkRequests(t, "NFC", tag.Requests(), chip.TypeHello, chip.TypeSign)
	checkBound(t, s, person, vc, linkPassword)
}

// toConnect opens a fresh link for person, creates the password and picks the
// transport, stopping at "Press Next and hold your chip to the phone".
func toConnect(t *testing.T, s *scenario.Server, b *harness.Browser, person, transport string) *scenario.Page {
	t.Helper()
	page := scenario.Open(t, b, s, s.NewLink(t, person, ""))
	page.UseLanguage("en")
	page.CreatePassword(linkPassword)
	page.ChooseTransport(transport)
	return page
}

// checkRequests checks the types of the whole request frames the chip received.
func checkRequests(t *testing.T, link string, requests [][]byte, want ...chip.Type) {
	t.Helper()
	var got []chip.Type
	for _, r := range requests {
		f, err := chip.Decode(r)
		if err != nil {
			t.Fatalf("%s: a request the chip got does not decode: %v", link, err)
		}
		got = append(got, f.Type)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: requests the chip got: expected %v, got %v", link, want, got)
	}
}
