package e2e_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
	"mitidchip/credential/kdf"
	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/dev"
	"mitidchip/server/store"
)

// The whole activation over Web Bluetooth (Chromium's BluetoothEmulation, the chip
// answering every GATT operation), switched to English on the way.
func TestActivationBluetooth(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	b := harness.New(t)
	peripheral := b.EmulateChip(vc)
	const password = "Blåbær-Kano-73!"

	page := scenario.Open(t, b, s, s.Server.Link) // the demo person's link, as make run prints it
	page.UseLanguage("en")
	page.CreatePassword(password)
	page.ChooseTransport("bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	if got := scenario.Eval[string](page, "document.querySelector('#step-completed h2').textContent.trim()"); got != "Activation completed" {
		t.Fatalf("completed heading: expected %q, got %q", "Activation completed", got)
	}
	checkFrames(t, "Bluetooth", peripheral.Requests())

	checkBound(t, s, dev.DemoPerson, vc, password)
}

// The whole activation over Web NFC (a fake NDEFReader bridged to the chip), in
// Danish, for another person and another chip.
func TestActivationNFC(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000002")
	const person = "e2e-person-nfc"
	link := s.NewLink(t, person, "e2e.nfc")
	b := harness.New(t)
	tag := b.EmulateNFC(vc) // before the page loads: the fake is injected per document
	const password = "Rødgrød med fløde 42"

	page := scenario.Open(t, b, s, link)
	page.UseLanguage("da")
	page.CreatePassword(password)
	page.ChooseTransport("nfc")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkFrames(t, "NFC", tag.Requests())

	checkBound(t, s, person, vc, password)
}

// checkFrames checks that the chip heard the activation over the link: its hello,
// then the request to sign.
func checkFrames(t *testing.T, link string, requests [][]byte) {
	t.Helper()
	var got []chip.Type
	for _, r := range requests {
		f, err := chip.Decode(r)
		if err != nil {
			t.Fatalf("%s: a request the chip got does not decode: %v", link, err)
		}
		got = append(got, f.Type)
	}
	if want := []chip.Type{chip.TypeHello, chip.TypeSign}; !slices.Equal(got, want) {
		t.Fatalf("%s: requests the chip got: expected %v, got %v", link, want, got)
	}
}

func devChip(t *testing.T, s *scenario.Server, serial string) *virtual.Chip {
	t.Helper()
	vc := s.Chips.Chip(serial)
	if vc == nil {
		t.Fatalf("dev chips: expected %s, there is none", serial)
	}
	return vc
}

// checkBound finds the binding in the store: the chip is the person's active one,
// and the person's password verifier is the one the typed password derives.
func checkBound(t *testing.T, s *scenario.Server, person string, vc *virtual.Chip, password string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.Store.ActiveChip(ctx, person)
	if err != nil {
		t.Fatalf("store: active chip of %s: %v", person, err)
	}
	if c.Serial != vc.Serial() || c.Status != store.ChipBound || c.PersonID != person {
		t.Fatalf("store: active chip of %s: expected %s bound to them, got %s %s bound to %q", person, vc.Serial(), c.Serial, c.Status, c.PersonID)
	}
	p, err := s.Store.Person(ctx, person)
	if err != nil {
		t.Fatalf("store: person %s: %v", person, err)
	}
	if len(p.PasswordVerifier) == 0 {
		t.Fatalf("store: person %s: expected a password verifier, got none", person)
	}
	// The page derived it in the browser from what was typed; the same derivation
	// here proves the key events reached the module intact.
	priv, err := kdf.Derive(password, p.KDF.Salt, kdf.Params{Time: p.KDF.Time, MemoryKiB: p.KDF.MemoryKiB, Threads: p.KDF.Threads})
	if err != nil {
		t.Fatalf("derive the verifier of the typed password: %v", err)
	}
	if want := kdf.Verifier(priv); !bytes.Equal(p.PasswordVerifier, want) {
		t.Fatalf("store: person %s's verifier: expected %x (from the typed password), got %x", person, want, p.PasswordVerifier)
	}
}
